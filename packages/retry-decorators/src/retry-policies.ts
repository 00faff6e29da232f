import { processWide } from './process-wide.js'
import { type RetryOptions, validateRetryOptions } from './retry.js'

// Shared by every copy of the package: a policy defined through one is found through the other.
const policies = processWide('retry-policies', () => new Map<string, RetryOptions>())

/**
 * Registers retry options under a name for `@Retry(name)`, which reads it at call time (so the
 * definition may come after the class). Redefining a name replaces it. Invalid numbers throw a
 * RangeError here, not at call time.
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
