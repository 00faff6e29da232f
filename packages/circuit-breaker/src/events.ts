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
  breaker: string
  from: CircuitState
  to: CircuitState
  reason: StateChangeReason
  /** When `to` is 'open': how long it stays open (`Infinity` when isolated). */
  openMs?: number
}

/** Payload of the `success` event. */
export interface SuccessEvent {
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
  breaker: string
  durationMs: number
  probe: boolean
  error: unknown
}

/** Payload of the `reject` event. */
export interface RejectEvent {
  breaker: string
  /** 'open', or 'half-open' when every probe slot was taken. */
  state: CircuitState
  error: CircuitOpenError
}

/** Payload of the `slowCall` event: a call (successful or not) that took at least `slowCallMs`. */
export interface SlowCallEvent {
  breaker: string
  durationMs: number
}

/** Events of a {@link CircuitBreaker} and their payloads. */
export interface CircuitBreakerEvents {
  stateChange: StateChangeEvent
  success: SuccessEvent
  failure: FailureEvent
  reject: RejectEvent
  slowCall: SlowCallEvent
}
