import { CircuitProbeTimeoutError } from './errors.js'
import type { Guarded } from './types.js'

/** How a half-open probe ended: 'cancelled' means its caller aborted, which says nothing. */
export type ProbeOutcome = 'value' | 'error' | 'timeout' | 'cancelled'

/**
 * Runs one half-open probe with its own timeout. The probe gets its own signal, aborted when the
 * caller's signal aborts or the timeout elapses, so a timeout also cancels the work it guards.
 * `settled` is called exactly once, before the returned promise settles (which it does even if
 * `settled` throws).
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
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      return true
    }
    // Infinity means no probe timeout; finite values above a timer's range are refused up front.
    const timer =
      timeoutMs === Number.POSITIVE_INFINITY
        ? undefined
        : setTimeout(() => {
            if (!finish()) return
            const error = new CircuitProbeTimeoutError(breaker, timeoutMs)
            controller.abort(error)
            try {
              settled('timeout', timeoutMs, error)
            } finally {
              reject(error)
            }
          }, timeoutMs)
    // A probe nobody awaits any more must not keep the process alive until it times out.
    timer?.unref?.()
    let result: T | PromiseLike<T>
    try {
      result = fn(controller.signal)
    } catch (error) {
      result = Promise.reject(error)
    }
    Promise.resolve(result).then(
      (value) => {
        if (!finish()) return
        try {
          settled('value', Date.now() - started, undefined)
        } finally {
          resolve(value)
        }
      },
      (error: unknown) => {
        if (!finish()) return
        try {
          settled(signal?.aborted ? 'cancelled' : 'error', Date.now() - started, error)
        } finally {
          reject(error)
        }
      },
    )
  })
}
