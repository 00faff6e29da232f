import type { Anthropic } from '@anthropic-ai/sdk'
import type {
  BreakerRegistry,
  CircuitBreakerOptions,
  CircuitState,
} from '@steadfast/circuit-breaker'
import type { IdempotencyStore } from '@steadfast/idempotency-middleware'
import type { Backoff, RetryBudget } from '@steadfast/retry-decorators'
import type { CacheOptions } from './cache.js'
import type { DegradeHandler } from './degrade.js'
import type { RateLimitOptions } from './rate-limiter.js'

/** Params of `messages.create()`: the SDK's non-streaming params. */
export type CreateParams = Anthropic.MessageCreateParamsNonStreaming

/** Params of `messages.stream()`: the SDK's params; `stream` is set for you. */
export type StreamParams = Omit<Anthropic.MessageCreateParamsNonStreaming, 'stream'>

/** Retry policy per model (each model of the chain gets its own attempts). */
export interface ClaudeRetryOptions {
  /** Tries per model, including the first. @default 3 */
  maxAttempts?: number
  /** Delay shape between tries when the server gives no hint. @default { initialMs: 500, multiplier: 2, maxMs: 8_000, jitter: 'full' } */
  backoff?: Backoff
  /** Cap on a server hint (`retry-after-ms`, `retry-after`); the call's deadline caps it too. @default 60_000 */
  maxHintMs?: number
  /** Shared budget bounding retries to a fraction of calls. @default none */
  budget?: RetryBudget
}

/** Options of {@link ResilientClaude}. */
export interface ResilientClaudeOptions {
  /** The SDK client. Its own retries are bypassed (`maxRetries: 0` per request). */
  client: Anthropic
  /** Models tried in order after `params.model`. @default [] */
  fallbackModels?: readonly string[]
  /** Models with a larger context window: a `model_context_window_exceeded` answer moves to the next of these in the chain. @default [] */
  largerContextModels?: readonly string[]
  /** Retry policy per model. @default { maxAttempts: 3 } */
  retry?: ClaudeRetryOptions
  /**
   * Options of the per-model breakers `claude:<model>` (applied when the registry creates them;
   * `isFailure` defaults to {@link isRetryable} when you pass your own).
   * @default { isFailure: isRetryable, failureRate: { threshold: 0.6, minimumCalls: 20, window: { kind: 'count', size: 50 } } }
   */
  breaker?: Omit<CircuitBreakerOptions, 'name'>
  /** Where the breakers live. @default defaultRegistry of @steadfast/circuit-breaker */
  registry?: BreakerRegistry
  /** Client-side rate limit shared by all calls of this instance. @default adaptive only (headers and 429s) */
  rateLimit?: RateLimitOptions
  /** Answer cache. @default none */
  cache?: CacheOptions
  /** Last resort when every model failed for a transient reason and the cache had nothing. @default none (throw) */
  degrade?: DegradeHandler
  /** `stop_reason: 'max_tokens'`: return the Message, or throw {@link TruncatedResponseError}. @default 'return' */
  onTruncated?: 'return' | 'error'
  /** Checks an answer; throwing asks again, up to `validateAttempts` answers in all. @default none */
  validate?: (message: Anthropic.Message) => void | Promise<void>
  /** Answers requested when `validate` keeps throwing. @default 2 */
  validateAttempts?: number
  /** Idempotency records for calls with an `idempotencyKey`. @default an in-process MemoryStore, 24 h */
  idempotency?: { store?: IdempotencyStore; ttlMs?: number }
  /** Observability hook; exceptions it throws are ignored. @default none */
  onEvent?: (event: ClaudeEvent) => void
}

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call (queueing, sleeps, requests); rejects with the signal's reason. */
  signal?: AbortSignal
  /** Deadline of the whole call, fallbacks included; for streams, until the first content event. @default none */
  timeoutMs?: number
  /** Calls with the same key and params share one upstream request and one result. @default none */
  idempotencyKey?: string
}

/** Metadata of one call, returned by `messages.createWithMeta()`. */
export interface CallMeta {
  /** The model that answered (for a cache hit: the cached answer's model). */
  model: string
  /** Upstream requests this call made, over all models. */
  attempts: number
  /** Where the answer came from. */
  source: 'api' | 'cache' | 'degraded'
  /** Wall time of the call. */
  latencyMs: number
  /** Usage of the answer from the API; undefined for cache and degraded answers. */
  usage: Anthropic.Usage | undefined
  /** Models tried, in order. */
  models: string[]
  /** Set when the call had an `idempotencyKey`. */
  idempotency?: {
    key: string
    /** True when the result was stored by an earlier call and replayed. */
    replayed: boolean
    /** Upstream requests made under this key in this process, failed calls included: each may have been billed. */
    keyAttempts: number
  }
}

/** What `messages.createWithMeta()` resolves to. */
export interface MessageWithMeta {
  message: Anthropic.Message
  meta: CallMeta
}

/** Events passed to `onEvent`. */
export type ClaudeEvent =
  | { type: 'attempt'; model: string; attempt: number }
  | { type: 'retry'; model: string; attempt: number; delayMs: number; error: unknown }
  | { type: 'fallback'; from: string; to: string; error: unknown }
  | { type: 'cache-hit'; mode: 'first' | 'fallback' }
  | { type: 'degraded'; error: unknown }
  | { type: 'rate-limit-pause'; delayMs: number }
  | { type: 'breaker'; model: string; from: CircuitState; to: CircuitState }
