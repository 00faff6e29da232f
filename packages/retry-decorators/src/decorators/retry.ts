import { type RetryOptions, retry, validateRetryOptions } from '../retry.js'
import { getRetryPolicy } from '../retry-policies.js'
import { type AnyMethod, methodDecorator, type ResilienceDecorator } from './decorate.js'

/**
 * Retries the method with {@link retry}: inline options, or the name of a policy registered with
 * `defineRetryPolicy` (read at call time). The method becomes async: its result is a promise.
 * Invalid inline numbers throw a RangeError when the class is defined.
 * @example @Retry({ maxAttempts: 4 }) async summarize(text: string) { … }
 */
export function Retry(optionsOrName: RetryOptions | string = {}): ResilienceDecorator {
  if (typeof optionsOrName === 'string') {
    const name = optionsOrName
    return methodDecorator('Retry', { kind: 'retry', options: undefined, name }, (method) =>
      namedRetry(method, name),
    )
  }
  const options = optionsOrName
  validateRetryOptions(options)
  return methodDecorator(
    'Retry',
    { kind: 'retry', options, name: undefined },
    (method) =>
      function (this: unknown, ...args: unknown[]): Promise<unknown> {
        return retry(() => method.apply(this, args), options)
      },
  )
}

function namedRetry(method: AnyMethod, name: string): AnyMethod {
  return function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const options = getRetryPolicy(name)
    if (options === undefined)
      return Promise.reject(new RangeError(`No retry policy named "${name}"`))
    return retry(() => method.apply(this, args), options)
  }
}
