export { CircuitBreaker } from './circuit-breaker.js'
export {
  CircuitBreakerError,
  CircuitOpenError,
  CircuitProbeTimeoutError,
  CircuitRedisTimeoutError,
  isCircuitBreakerError,
  isCircuitOpenError,
  isCircuitProbeTimeoutError,
  isCircuitRedisTimeoutError,
} from './errors.js'
export type {
  CircuitBreakerEvents,
  FailureEvent,
  RejectEvent,
  SlowCallEvent,
  StateChangeEvent,
  StateChangeReason,
  SuccessEvent,
} from './events.js'
export { isServerFailure } from './is-failure.js'
export { mergeOptions } from './merge-options.js'
export type {
  CircuitBreakerOptions,
  CircuitState,
  FailureRateOptions,
  ResolvedOptions as ResolvedCircuitBreakerOptions,
} from './options.js'
export type { BreakerPermit } from './permit.js'
export { BreakerRegistry, type BreakerRegistryOptions, defaultRegistry } from './registry.js'
export type {
  CountWindowOptions,
  SlidingWindowOptions,
  TimeWindowOptions,
  WindowCounts,
} from './sliding-window.js'
export type { CircuitSnapshot, ExecuteOptions, Guarded, ProbeGate } from './types.js'
