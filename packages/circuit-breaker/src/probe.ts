import { CircuitProbeTimeoutError } from './errors.js'
import type { Guarded } from './types.js'

/** How a half-open probe ended: 'cancelled' means its caller aborted, which says nothing. */
export type ProbeOutcome = 'value' | 'error' | 'timeout' | 'cancelled'

/**
 * Runs one half-open probe with its own timeout. The probe gets its own signal, aborted when the
 * caller's signal aborts or the timeout elapses, so a timeout also cancels the work it guards.
 * `settled` is called exactly once, before the returned promise settles.
 */
export function runProbe<T>(
  fn: Guarded<T>,
  signal: AbortSignal | undefined,
  breaker: string,
  timeoutMs: number,
  settled: (outcome: ProbeOutcome, durationMs: number, error: unknown) => void,
): Promise<T> {
  const started = Date.now()
  const controller = new AbortController()
  const onAbort = () => controller.abort(signal?.reason)
  signal?.addEventListener('abort', onAbort, { once: true })
  return new Promise<T>((resolve, reject) => {
    let done = false
    const finish = (): boolean => {
      if (done) return false
      done = true
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      return true
    }
    const timer = setTimeout(() => {
      if (!finish()) return
      const error = new CircuitProbeTimeoutError(breaker, timeoutMs)
      controller.abort(error)
      settled('timeout', timeoutMs, error)
      reject(error)
    }, timeoutMs)
    let result: T | PromiseLike<T>
    try {
      result = fn(controller.signal)
    } catch (error) {
      result = Promise.reject(error)
    }
    Promise.resolve(result).then(
      (value) => {
        if (!finish()) return
        settled('value', Date.now() - started, undefined)
        resolve(value)
      },
      (error: unknown) => {
        if (!finish()) return
        settled(signal?.aborted ? 'cancelled' : 'error', Date.now() - started, error)
        reject(error)
      },
    )
  })
}
