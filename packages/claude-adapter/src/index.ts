export {
  type CacheOptions,
  type CacheStore,
  MemoryCacheStore,
} from './cache.js'
export { paramsHash } from './canonical.js'
export {
  classifyError,
  isModelNotFound,
  isRetryable,
  PERMANENT_RATE_LIMIT_CODES,
} from './classify.js'
export {
  DEGRADED,
  type DegradedMessage,
  type DegradeHandler,
  isDegraded,
} from './degrade.js'
export {
  ClaudeAdapterError,
  ClaudeAttemptTimeoutError,
  ClaudeTimeoutError,
  ClaudeUnavailableError,
  type ErrorClass,
  IdempotencyKeyReuseError,
  isClaudeAdapterError,
  isClaudeAttemptTimeoutError,
  isClaudeTimeoutError,
  isClaudeUnavailableError,
  isIdempotencyKeyReuseError,
  isRateLimitPausedError,
  isRateLimitQueueFullError,
  isRefusalError,
  isResponseValidationError,
  isStreamInterruptedError,
  isTruncatedResponseError,
  type ModelFailure,
  RateLimitPausedError,
  RateLimitQueueFullError,
  RefusalError,
  ResponseValidationError,
  StreamInterruptedError,
  TruncatedResponseError,
} from './errors.js'
export type {
  CallMeta,
  CallOptions,
  ClaudeEvent,
  ClaudeIdempotencyOptions,
  ClaudeRetryOptions,
  CreateParams,
  MessageWithMeta,
  ResilientClaudeOptions,
  StreamParams,
} from './options.js'
export { RateLimiter, type RateLimitOptions } from './rate-limiter.js'
export { ResilientClaude } from './resilient-claude.js'
export { ResilientStream } from './resilient-stream.js'
