import { anySignal, type CallScope, earliest, scopeStorage } from './context.js'
import { TimeoutError } from './errors.js'
import { startTimer } from './timer.js'

/**
 * Runs `fn` with a time limit: after `timeoutMs` the returned promise rejects with
 * {@link TimeoutError} and the signal given to `fn` (also `retryContext().signal`) aborts with it,
 * so well-behaved work stops too. An outer signal (from {@link retry} or a caller) is honoured.
 * `Infinity` sets no limit; limits past setTimeout's 2^31−1 ms are waited out in full.
 * @example await timeout((signal) => fetch(url, { signal }), 5_000)
 */
export function timeout<T>(
  fn: (signal: AbortSignal) => T | PromiseLike<T>,
  timeoutMs: number,
): Promise<T> {
  if (!(timeoutMs > 0)) {
    return Promise.reject(new RangeError(`timeoutMs must be > 0, got ${timeoutMs}`))
  }
  const outer = scopeStorage.getStore()
  const outerSignal = outer?.signal
  if (outerSignal?.aborted) return Promise.reject(outerSignal.reason)
  const controller = new AbortController()
  const signal = anySignal(outerSignal, controller.signal) as AbortSignal
  const scope: CallScope = {
    attempt: outer?.attempt ?? 1,
    signal,
    deadline:
      timeoutMs === Number.POSITIVE_INFINITY
        ? outer?.deadline
        : earliest(outer?.deadline, Date.now() + timeoutMs),
    retrying: outer?.retrying ?? false,
  }
  return new Promise<T>((resolve, reject) => {
    const onOuterAbort = () => {
      cancelTimer()
      controller.abort(outerSignal?.reason)
      reject(outerSignal?.reason)
    }
    const cancelTimer = startTimer(() => {
      outerSignal?.removeEventListener('abort', onOuterAbort)
      const error = new TimeoutError(timeoutMs)
      controller.abort(error)
      reject(error)
    }, timeoutMs)
    outerSignal?.addEventListener('abort', onOuterAbort, { once: true })
    const settle = () => {
      cancelTimer()
      outerSignal?.removeEventListener('abort', onOuterAbort)
    }
    let result: T | PromiseLike<T>
    try {
      result = scopeStorage.run(scope, fn, signal)
    } catch (error) {
      settle()
      reject(error)
      return
    }
    Promise.resolve(result).then(
      (value) => {
        settle()
        resolve(value)
      },
      (error: unknown) => {
        settle()
        reject(error)
      },
    )
  })
}
