import { ClaudeAttemptTimeoutError } from './errors.js'

/**
 * When the attempts of one model must end, or undefined for no limit of its own. With a call
 * deadline and no explicit `attemptTimeoutMs`, every model but the last gets an equal share of
 * the time left (time left / models still to try), so a model that hangs leaves time for the
 * next; the last model gets whatever remains of the deadline.
 */
export function modelDeadline(
  callDeadline: number | undefined,
  modelsLeft: number,
  attemptTimeoutMs: number | undefined,
): number | undefined {
  if (callDeadline === undefined || attemptTimeoutMs !== undefined || modelsLeft <= 1) {
    return undefined
  }
  const now = Date.now()
  return now + Math.max(0, callDeadline - now) / modelsLeft
}

/**
 * Runs one upstream request of `model`, aborting it after `timeoutMs` with a
 * {@link ClaudeAttemptTimeoutError}. An abort of `signal` (the caller, the call's deadline, a
 * probe timeout) passes through as it is: it is not this attempt's timeout.
 */
export async function withAttemptTimeout<T>(
  model: string,
  timeoutMs: number | undefined,
  signal: AbortSignal,
  request: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  if (timeoutMs === undefined) return request(signal)
  const ms = Math.max(0, Math.round(timeoutMs))
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(new ClaudeAttemptTimeoutError(model, ms)), ms)
  try {
    // The merged signal outlives this function for a stream; once the timer is cleared it only
    // follows `signal`.
    return await request(AbortSignal.any([signal, controller.signal]))
  } catch (error) {
    if (controller.signal.aborted && !signal.aborted) {
      throw new ClaudeAttemptTimeoutError(model, ms, { cause: error })
    }
    throw error
  } finally {
    clearTimeout(timer)
  }
}
