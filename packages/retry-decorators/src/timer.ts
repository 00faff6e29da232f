/** @internal The longest delay `setTimeout` honours; Node fires a longer one after 1 ms. */
export const MAX_TIMER_MS = 2_147_483_647

const never = (): void => {}

/**
 * @internal Calls `callback` once `ms` have passed, re-arming `setTimeout` in steps of
 * {@link MAX_TIMER_MS} for longer delays and never for `Infinity`; returns the cancel function.
 */
export function startTimer(callback: () => void, ms: number): () => void {
  if (ms === Number.POSITIVE_INFINITY) return never
  let timer: ReturnType<typeof setTimeout>
  const arm = (remaining: number): void => {
    timer =
      remaining > MAX_TIMER_MS
        ? setTimeout(() => arm(remaining - MAX_TIMER_MS), MAX_TIMER_MS)
        : setTimeout(callback, remaining)
  }
  arm(ms)
  return () => clearTimeout(timer)
}
