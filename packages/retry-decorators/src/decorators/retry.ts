import type { Guarded } from '@steadfast/circuit-breaker'
import { type RetryOptions, retry, retryStep, type Step, validateRetryOptions } from '../retry.js'
import { getRetryPolicy } from '../retry-policies.js'
import { type AnyMethod, methodDecorator, type ResilienceDecorator } from './decorate.js'
import { executeGuarded, type Guard, guardedCall, guardOf } from './guard.js'

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
      retried(method, name),
    )
  }
  const options = optionsOrName
  validateRetryOptions(options)
  return methodDecorator('Retry', { kind: 'retry', options, name: undefined }, (method) =>
    retried(method, options),
  )
}

// Inline options, or the name of a policy to read at call time.
type Policy = RetryOptions | string

function retried(method: AnyMethod, policy: Policy): AnyMethod {
  const guard = guardOf(method)
  if (guard === undefined) {
    return function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const options = optionsOf(policy)
      if (options === undefined) return noPolicy(policy as string)
      return retry(() => method.apply(this, args), options)
    }
  }
  // Straight over @CircuitBreaker: each attempt runs the breaker's steps itself, so a call costs
  // one wrapper frame, one closure and one scope lookup fewer. Same order as the two wrappers:
  // the breaker sees every attempt, inside the attempt's scope, with its signal.
  const step = guardedStep(guard)
  const inner = guard.method
  return function (this: unknown, ...args: unknown[]): Promise<unknown> {
    const options = optionsOf(policy)
    if (options === undefined) return noPolicy(policy as string)
    return retryStep(step, guardedCall(inner, this, args), options)
  }
}

// Built once per method: the per-call state is all in the target, `guardedCall`'s closure. While
// closed, an attempt without a signal takes a permit that the retry reports in its own `then`:
// one promise fewer than execute(). Probes go through execute(), which also rejects on
// probeTimeoutMs, and so do signalled attempts, whose signal the breaker's callers see there.
function guardedStep(guard: Guard): Step<Guarded<unknown>, unknown> {
  return (call, scope) => {
    const breaker = guard.breaker()
    const { signal } = scope
    if (signal !== undefined || breaker.state !== 'closed') {
      return executeGuarded(breaker, call, signal)
    }
    scope.permit = breaker.acquire()
    return call(undefined)
  }
}

function optionsOf(policy: Policy): RetryOptions | undefined {
  return typeof policy === 'string' ? getRetryPolicy(policy) : policy
}

function noPolicy(name: string): Promise<never> {
  return Promise.reject(new RangeError(`No retry policy named "${name}"`))
}
