import { type Backoff, backoffDelay, validateBackoff } from './backoff.js'
import type { RetryBudget } from './budget.js'
import { anySignal, type CallScope, earliest, scopeStorage } from './context.js'
import { ResultRejectedError, RetryError } from './errors.js'
import { retryAfterMs } from './retry-after.js'
import { startTimer } from './timer.js'
import { isTransientError } from './transient.js'

/** Passed to `onRetry` before each wait. */
export interface RetryEvent {
  /** The attempt that just failed, 1-based. */
  attempt: number
  /** Its error (a {@link ResultRejectedError} when `retryOnResult` asked for the retry). */
  error: unknown
  /** How long {@link retry} now waits before the next attempt. */
  delayMs: number
}

/** Options of {@link retry} and `@Retry`. */
export interface RetryOptions<T = unknown> {
  /**
   * Total tries INCLUDING the first one (resilience4j's meaning), not the number of retries:
   * `maxAttempts: 3` is one call plus at most two retries; `1` never retries.
   * @default 3
   */
  maxAttempts?: number | undefined
  /** Delay shape before each retry. @default { initialMs: 100, multiplier: 2, maxMs: 10_000, jitter: 'full' } */
  backoff?: Backoff | undefined
  /** Which errors are retried; others are rethrown as they are. @default isTransientError */
  retryIf?: ((error: unknown) => boolean) | undefined
  /** Retry when a call resolves with a value this returns true for. @default never */
  retryOnResult?: ((value: T) => boolean) | undefined
  /** Cap on a server hint (`retry-after-ms`, `retry-after`), which replaces the computed delay. @default 60_000 */
  maxHintMs?: number | undefined
  /** Deadline for the whole call from its start; no retry is started that would begin past it. @default unbounded */
  maxElapsedMs?: number | undefined
  /** Aborting cancels the pending wait at once and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined
  /** Shared budget that bounds retries to a fraction of calls. @default none */
  budget?: RetryBudget | undefined
  /** Called before each wait. */
  onRetry?: ((event: RetryEvent) => void) | undefined
  /**
   * Under an active outer retry: `'single'` makes one attempt and passes its outcome through
   * untouched (the outer layer decides); `'independent'` retries on its own. Both keep the outer
   * signal and the earlier deadline.
   * @default 'single'
   */
  nested?: 'single' | 'independent' | undefined
  /** Source of randomness in [0, 1) for jitter; inject a seeded one in tests. @default Math.random */
  random?: (() => number) | undefined
}

/** @internal An outcome a step leaves for the retry to report (a circuit breaker's permit). */
export interface AttemptOutcome {
  success(): void
  failure(error: unknown): void
}

/** @internal The scope a step runs in: it may leave the attempt's {@link AttemptOutcome} on it. */
export interface AttemptScope extends CallScope {
  permit: AttemptOutcome | undefined
}

/** @internal Mutable per call; also the AsyncLocalStorage store seen by `retryContext()`. */
class RetryScope implements AttemptScope {
  attempt = 1
  permit: AttemptOutcome | undefined = undefined
  readonly signal: AbortSignal | undefined
  readonly deadline: number | undefined
  readonly retrying: boolean

  constructor(signal: AbortSignal | undefined, deadline: number | undefined, retrying: boolean) {
    this.signal = signal
    this.deadline = deadline
    this.retrying = retrying
  }
}

const NO_OPTIONS: RetryOptions<unknown> = {}
const DEFAULT_BACKOFF: Backoff = { initialMs: 100, multiplier: 2, maxMs: 10_000, jitter: 'full' }

/**
 * Calls `fn` until it succeeds, a failure is not retryable, or attempts, deadline or budget run
 * out (then rejects with {@link RetryError}). `fn` gets the attempt number (1-based) and can read
 * `retryContext()`. Sync results and throws are handled like promises.
 * @example const user = await retry((attempt) => fetchUser(id), { maxAttempts: 5 })
 */
export function retry<T>(
  fn: (attempt: number) => T | PromiseLike<T>,
  options: RetryOptions<T> = NO_OPTIONS as RetryOptions<T>,
): Promise<T> {
  return retryStep(callWithAttempt as Step<Attempt<T>, T>, fn, options)
}

/**
 * @internal One attempt of {@link retryStep}: `target` as given to it, `scope` the attempt's (also
 * the store `retryContext()` reads). A module-level step with a per-call target lets a caller
 * avoid a closure per call.
 */
export type Step<A, T> = (target: A, scope: AttemptScope) => T | PromiseLike<T>

type Attempt<T> = (attempt: number) => T | PromiseLike<T>

// retry()'s step. `this` stays null, as AsyncLocalStorage.run calls it.
function callWithAttempt<T>(fn: Attempt<T>, scope: CallScope): T | PromiseLike<T> {
  return fn.call(null, scope.attempt)
}

/** @internal {@link retry} of `step(target, scope)`: what the decorators build on. */
export function retryStep<A, T>(step: Step<A, T>, target: A, options: RetryOptions<T>): Promise<T> {
  try {
    // Up front: a bad number found only when the first retry is computed would replace the
    // attempt's real error, and only on the failure path. Per call, as the options object may
    // have changed since.
    validateRetryOptions(options)
  } catch (error) {
    return Promise.reject(error)
  }
  const maxAttempts = options.maxAttempts ?? 3
  const outer = scopeStorage.getStore()
  const signal = anySignal(outer?.signal, options.signal)
  if (signal?.aborted) return Promise.reject(signal.reason)
  const { maxElapsedMs } = options
  const ownDeadline =
    maxElapsedMs === undefined || maxElapsedMs === Number.POSITIVE_INFINITY
      ? undefined
      : Date.now() + maxElapsedMs
  const deadline = earliest(outer?.deadline, ownDeadline)
  if (outer?.retrying === true && options.nested !== 'independent') {
    // The outer layer owns retrying: one attempt, outcome passed through as it is.
    const single = new RetryScope(signal, deadline, true)
    const attempt = attemptIn(single, step, target)
    if (single.permit === undefined) return attempt
    return attempt.then(
      (value) => {
        reportSuccess(single)
        return value
      },
      (error: unknown) => {
        reportFailure(single, error)
        throw error
      },
    )
  }
  options.budget?.deposit()
  const scope = new RetryScope(signal, deadline, outer?.retrying === true || maxAttempts > 1)
  return execute(step, target, options, maxAttempts, scope)
}

/**
 * @internal Throws the RangeError {@link retry} would reject with for these options: `maxAttempts`
 * not an integer >= 1, `maxHintMs` or `maxElapsedMs` not >= 0 (NaN included), or bad backoff numbers.
 */
export function validateRetryOptions(options: RetryOptions<never>): void {
  const { maxAttempts, maxHintMs, maxElapsedMs, backoff } = options
  if (maxAttempts !== undefined && !(Number.isInteger(maxAttempts) && maxAttempts >= 1)) {
    throw new RangeError(`maxAttempts must be an integer >= 1, got ${maxAttempts}`)
  }
  if (maxHintMs !== undefined && !(maxHintMs >= 0)) {
    throw new RangeError(`maxHintMs must be >= 0, got ${maxHintMs}`)
  }
  if (maxElapsedMs !== undefined && !(maxElapsedMs >= 0)) {
    throw new RangeError(`maxElapsedMs must be >= 0, got ${maxElapsedMs}`)
  }
  if (backoff !== undefined) validateBackoff(backoff)
}

// Runs one attempt inside `scope`; a sync throw becomes a rejection, a sync value a promise.
function attemptIn<A, T>(scope: RetryScope, step: Step<A, T>, target: A): Promise<T> {
  let result: T | PromiseLike<T>
  try {
    result = scopeStorage.run(scope, step, target, scope)
  } catch (error) {
    return Promise.reject(error)
  }
  return result instanceof Promise ? result : Promise.resolve(result)
}

// The success path allocates one scope, one closure and one promise (`then`), and arms no timer;
// the retry loop only starts once the first attempt failed. An attempt's permit is reported in
// that same `then`, before the retry decides: the breaker needs no promise of its own.
function execute<A, T>(
  step: Step<A, T>,
  target: A,
  options: RetryOptions<T>,
  maxAttempts: number,
  scope: RetryScope,
): Promise<T> {
  const onRejected = (error: unknown): Promise<T> => {
    reportFailure(scope, error)
    return retryAfterFailure(step, target, options, maxAttempts, scope, error, false)
  }
  const { retryOnResult } = options
  const attempt = attemptIn(scope, step, target)
  if (retryOnResult === undefined) {
    if (scope.permit === undefined) return attempt.then(undefined, onRejected)
    return attempt.then((value) => {
      reportSuccess(scope)
      return value
    }, onRejected)
  }
  return attempt.then((value) => {
    reportSuccess(scope)
    return retryOnResult(value)
      ? retryAfterFailure(step, target, options, maxAttempts, scope, value, true)
      : value
  }, onRejected)
}

// Each attempt's permit is reported once, then cleared for the next attempt.
function reportSuccess(scope: RetryScope): void {
  const permit = scope.permit
  if (permit === undefined) return
  scope.permit = undefined
  permit.success()
}

function reportFailure(scope: RetryScope, error: unknown): void {
  const permit = scope.permit
  if (permit === undefined) return
  scope.permit = undefined
  permit.failure(error)
}

// Entered after attempt `scope.attempt` failed: `failure` is the thrown error, or the value
// `retryOnResult` rejected when `rejectedValue` is true.
async function retryAfterFailure<A, T>(
  step: Step<A, T>,
  target: A,
  options: RetryOptions<T>,
  maxAttempts: number,
  scope: RetryScope,
  failure: unknown,
  rejectedValue: boolean,
): Promise<T> {
  const errors: unknown[] = []
  let previousMs: number | undefined
  for (;;) {
    let error: unknown
    if (rejectedValue) {
      error = new ResultRejectedError(failure)
    } else {
      if (scope.signal?.aborted) throw scope.signal.reason
      if (!(options.retryIf ?? isTransientError)(failure)) throw failure
      error = failure
    }
    errors.push(error)
    if (scope.attempt >= maxAttempts) throw new RetryError('attempts', errors)
    const hintMs = retryAfterMs(error)
    let delayMs: number
    if (hintMs === undefined) {
      delayMs = backoffDelay(
        options.backoff ?? DEFAULT_BACKOFF,
        scope.attempt,
        error,
        previousMs,
        options.random ?? Math.random,
      )
      previousMs = delayMs
    } else {
      delayMs = Math.min(hintMs, options.maxHintMs ?? 60_000)
    }
    // A retry that could only start at or past the deadline is pointless: give up now.
    if (scope.deadline !== undefined && Date.now() + delayMs >= scope.deadline) {
      throw new RetryError('deadline', errors)
    }
    if (options.budget !== undefined && !options.budget.tryWithdraw()) {
      throw new RetryError('budget', errors)
    }
    options.onRetry?.({ attempt: scope.attempt, error, delayMs })
    await sleep(delayMs, scope.signal)
    scope.attempt++
    try {
      const value = await attemptIn(scope, step, target)
      reportSuccess(scope)
      if (options.retryOnResult === undefined || !options.retryOnResult(value)) return value
      failure = value
      rejectedValue = true
    } catch (thrown) {
      reportFailure(scope, thrown)
      failure = thrown
      rejectedValue = false
    }
  }
}

/**
 * @internal Resolves after `ms` (all of it, even past setTimeout's 2^31−1 ms limit), or rejects
 * with the abort reason as soon as `signal` aborts.
 */
export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason)
      return
    }
    if (ms <= 0) {
      resolve()
      return
    }
    const onAbort = () => {
      cancelTimer()
      reject(signal?.reason)
    }
    const cancelTimer = startTimer(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
