import type { CircuitOpenError } from './errors.js'
import type { CircuitState } from './options.js'

/** Why a breaker changed state. */
export type StateChangeReason =
  | 'failures' // consecutive failures reached failureThreshold
  | 'failure-rate' // windowed failure rate reached its threshold
  | 'slow-calls' // windowed slow-call rate reached slowCallRate
  | 'open-elapsed' // the open time passed: half-open
  | 'probe-failed' // a half-open probe failed (or was slow)
  | 'probe-timeout' // a half-open probe outlived probeTimeoutMs
  | 'probes-succeeded' // successThreshold probes succeeded
  | 'trip' // trip() was called, e.g. by the Redis adapter
  | 'isolate' // isolate() was called
  | 'reset' // reset() was called

/** Payload of the `stateChange` event. */
export interface StateChangeEvent {
  /** Name of the breaker. */
  breaker: string
  /** State before the change. */
  from: CircuitState
  /** State after the change. */
  to: CircuitState
  /** What caused the change. */
  reason: StateChangeReason
  /** When `to` is 'open': how long it stays open (`Infinity` when isolated). */
  openMs?: number
}

/** Payload of the `success` event. */
export interface SuccessEvent {
  /** Name of the breaker. */
  breaker: string
  /** Duration of the call. */
  durationMs: number
  /** True when the call was a half-open probe. */
  probe: boolean
  /** Set when the call threw an error that `isFailure` excused (e.g. an HTTP 404). */
  error?: unknown
}

/** Payload of the `failure` event. */
export interface FailureEvent {
  /** Name of the breaker. */
  breaker: string
  /** Duration of the call. */
  durationMs: number
  /** True when the call was a half-open probe. */
  probe: boolean
  /** The error that counted as a failure (a `CircuitProbeTimeoutError` for a hung probe). */
  error: unknown
}

/** Payload of the `reject` event. */
export interface RejectEvent {
  /** Name of the breaker. */
  breaker: string
  /** 'open', or 'half-open' when every probe slot was taken. */
  state: CircuitState
  /** The error the call was rejected with. */
  error: CircuitOpenError
}

/** Payload of the `slowCall` event: a call (successful or not) that took at least `slowCallMs`. */
export interface SlowCallEvent {
  /** Name of the breaker. */
  breaker: string
  /** Duration of the call. */
  durationMs: number
}

/** Events of a {@link CircuitBreaker} and their payloads. */
export interface CircuitBreakerEvents {
  /** The state changed. */
  stateChange: StateChangeEvent
  /** A call succeeded, or failed with an error `isFailure` excused. */
  success: SuccessEvent
  /** A call failed and counted against the breaker. */
  failure: FailureEvent
  /** A call was rejected with `CircuitOpenError` without running. */
  reject: RejectEvent
  /** A call took at least `slowCallMs`. */
  slowCall: SlowCallEvent
}
