export {
  type Backoff,
  type BackoffFunction,
  backoffDelay,
  type ConstantBackoff,
  type ExponentialBackoff,
  type Jitter,
  type LinearBackoff,
} from './backoff.js'
export { RetryBudget, type RetryBudgetOptions } from './budget.js'
export { type RetryContext, retryContext } from './context.js'
export {
  CircuitBreaker,
  type CircuitBreakerDecoratorOptions,
} from './decorators/circuit-breaker.js'
export type { ResilienceDecorator } from './decorators/decorate.js'
export {
  type ErrorClass,
  Fallback,
  type FallbackHandler,
  type FallbackOptions,
} from './decorators/fallback.js'
export { Retry } from './decorators/retry.js'
export { Timeout } from './decorators/timeout.js'
export {
  isResilienceError,
  isResultRejectedError,
  isRetryError,
  isTimeoutError,
  ResilienceError,
  ResultRejectedError,
  RetryError,
  type RetryStopReason,
  TimeoutError,
} from './errors.js'
export { headerValue } from './header-value.js'
export {
  getResiliencePolicies,
  RESILIENCE_METADATA_KEY,
  type ResiliencePolicy,
} from './policies.js'
export { type RetryEvent, type RetryOptions, retry } from './retry.js'
export { retryAfterMs } from './retry-after.js'
export { defineRetryPolicy, getRetryPolicy } from './retry-policies.js'
export { timeout } from './timeout.js'
export { isTransientError, TRANSIENT_NETWORK_CODES, TRANSIENT_STATUSES } from './transient.js'
