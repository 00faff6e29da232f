import type { RetryOptions } from './retry.js'

const policies = new Map<string, RetryOptions>()

/**
 * Registers retry options under a name for `@Retry(name)`, which reads it at call time (so the
 * definition may come after the class). Redefining a name replaces it.
 * @example defineRetryPolicy('claude', { maxAttempts: 4, backoff: { initialMs: 500 } })
 */
export function defineRetryPolicy(name: string, options: RetryOptions): void {
  validateRetryOptions(options)
  policies.set(name, options)
}

/** The retry options registered under `name`, or undefined. */
export function getRetryPolicy(name: string): RetryOptions | undefined {
  return policies.get(name)
}

/** @internal Throws a RangeError for options {@link retry} would reject on every call. */
export function validateRetryOptions(options: RetryOptions): void {
  const { maxAttempts } = options
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`)
  }
}
