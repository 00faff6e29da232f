/** Why {@link retry} gave up: attempts used up, the deadline, or the shared retry budget. */
export type RetryStopReason = 'attempts' | 'deadline' | 'budget'

/** Base class of every error this package throws. */
export class ResilienceError extends Error {
  /** Class name, for logs (`instanceof` fails across duplicate package copies). */
  override readonly name: string = 'ResilienceError'
  /** Brand that survives duplicate ESM/CJS copies of this package. */
  readonly isResilienceError = true
}

/** Thrown by {@link retry} when it stops retrying a retryable failure; `cause` is the last error. */
export class RetryError extends ResilienceError {
  /** Always `'RetryError'`. */
  override readonly name = 'RetryError'
  /** Stable machine-readable code. */
  readonly code = 'ERR_RETRY_EXHAUSTED'
  /** Attempts made, including the first. */
  readonly attempts: number
  /** Every attempt's error, oldest first; the last one is also `cause`. */
  readonly errors: readonly unknown[]
  /** Why retrying stopped. */
  readonly reason: RetryStopReason
  /** True when the shared {@link RetryBudget} had no token left for another retry. */
  readonly budgetExhausted: boolean

  constructor(reason: RetryStopReason, errors: readonly unknown[]) {
    const cause = errors[errors.length - 1]
    const why =
      reason === 'attempts'
        ? 'no attempts left'
        : reason === 'deadline'
          ? 'the next attempt would pass the deadline'
          : 'the retry budget is exhausted'
    super(`Gave up after ${errors.length} attempt(s): ${why}; last error: ${describe(cause)}`, {
      cause,
    })
    this.attempts = errors.length
    this.errors = errors
    this.reason = reason
    this.budgetExhausted = reason === 'budget'
  }
}

/** Recorded as an attempt's error when `retryOnResult` rejected the value it resolved with. */
export class ResultRejectedError extends ResilienceError {
  /** Always `'ResultRejectedError'`. */
  override readonly name = 'ResultRejectedError'
  /** Stable machine-readable code. */
  readonly code = 'ERR_RETRY_RESULT_REJECTED'
  /** The value `retryOnResult` asked to retry. */
  readonly value: unknown

  constructor(value: unknown) {
    super('retryOnResult rejected the result')
    this.value = value
  }
}

/** Rejection of a call that ran longer than its {@link Timeout}; the attempt's signal aborts with it. */
export class TimeoutError extends ResilienceError {
  /** Always `'TimeoutError'`. */
  override readonly name = 'TimeoutError'
  /** Stable machine-readable code. */
  readonly code = 'ERR_TIMEOUT'
  /** The limit that was exceeded. */
  readonly timeoutMs: number

  constructor(timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms`)
    this.timeoutMs = timeoutMs
  }
}

/** True for any error thrown by this package (works across duplicate package copies). */
export const isResilienceError = (error: unknown): error is ResilienceError =>
  error instanceof Error && (error as { isResilienceError?: unknown }).isResilienceError === true

/** True for a {@link RetryError}. */
export const isRetryError = (error: unknown): error is RetryError =>
  hasCode(error, 'ERR_RETRY_EXHAUSTED')

/** True for a {@link ResultRejectedError}. */
export const isResultRejectedError = (error: unknown): error is ResultRejectedError =>
  hasCode(error, 'ERR_RETRY_RESULT_REJECTED')

/** True for our {@link TimeoutError} (not for DOMException timeouts, which share the name). */
export const isTimeoutError = (error: unknown): error is TimeoutError =>
  hasCode(error, 'ERR_TIMEOUT')

function hasCode(error: unknown, code: string): boolean {
  return error instanceof Error && (error as { code?: unknown }).code === code
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}
