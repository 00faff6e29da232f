import type { CircuitState } from './options.js'
import type { WindowCounts } from './sliding-window.js'

/** Per-call options of `CircuitBreaker.execute`. */
export interface ExecuteOptions {
  /** Cancels the call: rejected up front when already aborted, passed to `fn` otherwise. */
  signal?: AbortSignal | undefined
}

/** The guarded function: gets the call's signal (a probe's own signal while half-open). */
export type Guarded<T> = (signal: AbortSignal | undefined) => T | PromiseLike<T>

/**
 * Shares half-open probe slots with other instances (the Redis adapter implements it).
 * Both methods are synchronous and must not do I/O: they run on the call path.
 */
export interface ProbeGate {
  /** Takes one probe slot if this instance may probe now. */
  tryTake(): boolean
  /** Returns a slot taken with `tryTake`, once the probe settled. */
  give(): void
  /** When `tryTake` refused: ms until a slot may be free, for `CircuitOpenError.retryAfterMs`. */
  retryAfterMs?(): number
}

/** Counts of a breaker at one instant, for metrics and health endpoints. */
export interface CircuitSnapshot {
  /** Name of the breaker. */
  name: string
  /** The current state (an elapsed open period reads as half-open). */
  state: CircuitState
  /** True after `isolate()` until `reset()`. */
  isolated: boolean
  /** The open time of the current or next trip. */
  openMs: number
  /** While open: ms until half-open (`Infinity` when isolated); otherwise 0. */
  retryAfterMs: number
  /** Failures since the last success (consecutive-failure policy). */
  consecutiveFailures: number
  /** Sliding-window aggregates, when a failure-rate or slow-call policy is set. */
  window: WindowCounts | undefined
  /** Half-open probes running and probe successes so far. */
  halfOpen: { probes: number; successes: number }
  /** Totals since creation: admitted calls and their outcomes, and rejected calls. */
  totals: {
    calls: number
    successes: number
    failures: number
    slowCalls: number
    rejections: number
  }
}
