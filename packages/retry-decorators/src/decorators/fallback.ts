import { methodDecorator, type ResilienceDecorator } from './decorate.js'

/** A fallback function: gets the error, then the method's arguments; `this` is the instance. */
export type FallbackHandler = (error: unknown, ...args: never[]) => unknown

/** A class whose instances' errors can be matched with `instanceof`. */
export type ErrorClass = abstract new (...args: never[]) => unknown

/** Options of {@link Fallback}. */
export interface FallbackOptions {
  /** Which errors fall back: error classes (`instanceof`) or a predicate. @default every error */
  on?: readonly ErrorClass[] | ((error: unknown) => boolean) | undefined
}

/**
 * On failure, answers with a fallback instead: the method named `method` on the same instance,
 * called with the original arguments followed by the error (checked to be a key of the class
 * where TypeScript can see it, i.e. a public method), or a function called with the error
 * followed by the arguments. The decorated method becomes async.
 * @example @Fallback('cached', { on: [RetryError] }) async summarize(text: string) { … }
 */
export function Fallback<K extends PropertyKey>(
  method: K,
  options?: FallbackOptions,
): ResilienceDecorator<{ [P in K]: (...args: never[]) => unknown }>
/** On failure, answers with `handler(error, ...args)` called on the instance instead. */
export function Fallback(handler: FallbackHandler, options?: FallbackOptions): ResilienceDecorator
export function Fallback(
  fallback: PropertyKey | FallbackHandler,
  options: FallbackOptions = {},
): ResilienceDecorator {
  const matches = matcher(options.on)
  return methodDecorator('Fallback', { kind: 'fallback', fallback }, (method) => {
    function recover(self: unknown, args: unknown[], error: unknown): unknown {
      if (!matches(error)) throw error
      if (typeof fallback === 'function') {
        return (fallback as (this: unknown, ...all: unknown[]) => unknown).call(
          self,
          error,
          ...args,
        )
      }
      const handler = (self as Record<PropertyKey, unknown> | null | undefined)?.[fallback]
      if (typeof handler !== 'function') {
        throw new TypeError(`@Fallback: ${String(fallback)} is not a method of this object`, {
          cause: error,
        })
      }
      return (handler as (...all: unknown[]) => unknown).apply(self, [...args, error])
    }
    return function (this: unknown, ...args: unknown[]): Promise<unknown> {
      let result: unknown
      try {
        result = method.apply(this, args)
      } catch (error) {
        return new Promise((resolve) => resolve(recover(this, args, error)))
      }
      return Promise.resolve(result).then(undefined, (error: unknown) => recover(this, args, error))
    }
  })
}

function matcher(on: FallbackOptions['on']): (error: unknown) => boolean {
  if (on === undefined) return () => true
  if (typeof on === 'function') return on
  return (error) => on.some((errorClass) => error instanceof errorClass)
}
