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
import type { ClaudeAttemptTimeoutError } from './errors.js'
import type { RateLimitOptions } from './rate-limiter.js'

/** Params of `messages.create()`: the SDK's non-streaming params. */
export type CreateParams = Anthropic.MessageCreateParamsNonStreaming

/** Params of `messages.stream()`: the SDK's params; `stream` is set for you. */
export type StreamParams = Omit<Anthropic.MessageCreateParamsNonStreaming, 'stream'>

/** Retry policy per model (each model of the chain gets its own attempts). */
export interface ClaudeRetryOptions {
  /** Tries per model, including the first. @default 3 */
  maxAttempts?: number | undefined
  /** Delay shape between tries when the server gives no hint. @default { initialMs: 500, multiplier: 2, maxMs: 8_000, jitter: 'full' } */
  backoff?: Backoff | undefined
  /** Cap on a server hint (`retry-after-ms`, `retry-after`); the call's deadline caps it too. @default 60_000 */
  maxHintMs?: number | undefined
  /** Shared budget bounding retries to a fraction of calls. @default none */
  budget?: RetryBudget | undefined
  /**
   * Time each upstream request gets (for a stream, until its first content event); past it the
   * request is aborted with {@link ClaudeAttemptTimeoutError}, a transient failure of that model
   * (counted by its breaker, then retried or failed over).
   * @default none; with `timeoutMs`, every model but the last gets an equal share of the time left (time left / models still to try) for its attempts and retries
   */
  attemptTimeoutMs?: number | undefined
}

/** Options of {@link ResilientClaude}. */
export interface ResilientClaudeOptions {
  /** The SDK client. Its own retries are bypassed (`maxRetries: 0` per request). */
  client: Anthropic
  /** Models tried in order after `params.model`. @default [] */
  fallbackModels?: readonly string[] | undefined
  /** Models with a larger context window: a `model_context_window_exceeded` answer moves to the next of these in the chain. @default [] */
  largerContextModels?: readonly string[] | undefined
  /** Retry policy per model. @default { maxAttempts: 3 } */
  retry?: ClaudeRetryOptions | undefined
  /**
   * Options of the per-model breakers `claude:<model>` (applied when the registry creates them).
   * Yours are laid over the defaults at every depth, as the registry does: `{ openMs: 5_000 }`
   * keeps the default `failureRate`, and `{ failureRate: { threshold: 0.5 } }` keeps its
   * `minimumCalls` and `window`. Setting `failureThreshold` without `failureRate` picks the
   * consecutive-failures policy instead, so the default `failureRate` is dropped (a breaker
   * ignores `failureThreshold` while a `failureRate` is set, as it does when you set both).
   * A half-open probe past `probeTimeoutMs` is aborted and the call moves to the next model. One
   * breaker per model string named in a call, kept by the registry: use a fixed list of models.
   * @default { isFailure: isRetryable, probeTimeoutMs: 120_000, failureRate: { threshold: 0.6, minimumCalls: 20, window: { kind: 'count', size: 50 } } }
   */
  breaker?: Omit<CircuitBreakerOptions, 'name'> | undefined
  /** Where the breakers live. @default defaultRegistry of @steadfast/circuit-breaker */
  registry?: BreakerRegistry | undefined
  /** Client-side rate limit shared by all calls of this instance. @default adaptive only (headers and 429s) */
  rateLimit?: RateLimitOptions | undefined
  /** Answer cache. @default none */
  cache?: CacheOptions | undefined
  /** Last resort when every model failed for a transient reason and the cache had nothing. @default none (throw) */
  degrade?: DegradeHandler | undefined
  /** `stop_reason: 'max_tokens'`: return the Message (a stream: yield it on), or throw {@link TruncatedResponseError}. @default 'return' */
  onTruncated?: 'return' | 'error' | undefined
  /** Checks an answer; throwing asks again, up to `validateAttempts` answers in all. @default none */
  validate?: ((message: Anthropic.Message) => void | Promise<void>) | undefined
  /** Answers requested when `validate` keeps throwing. @default 2 */
  validateAttempts?: number | undefined
  /** Idempotency records for calls with an `idempotencyKey`. @default an in-process MemoryStore, 24 h, scope 'claude', fail-closed */
  idempotency?: ClaudeIdempotencyOptions | undefined
  /** Observability hook; exceptions it throws are ignored. Call `close()` when discarding the instance. @default none */
  onEvent?: ((event: ClaudeEvent) => void) | undefined
}

/** Options of the idempotency records kept for calls with an `idempotencyKey`. */
export interface ClaudeIdempotencyOptions {
  /** Where records live; share one (e.g. `RedisStore`) across processes. @default an in-process MemoryStore */
  store?: IdempotencyStore | undefined
  /** How long a keyed result is replayed. @default 86_400_000 */
  ttlMs?: number | undefined
  /**
   * Namespace of the keys: calls share a record only within one scope. Multi-tenant apps must set
   * it (e.g. `(params) => tenantOf(params.metadata)`), or tenants reusing a key see each other's answers.
   * @default 'claude'
   */
  scope?: string | ((params: CreateParams) => string) | undefined
  /**
   * When the store fails (Redis down): `'fail-closed'` fails the call with the store's
   * `IdempotencyStoreError` (then `degrade` may answer); `'fail-open'` calls the API unguarded.
   * @default 'fail-closed'
   */
  onStoreError?: 'fail-closed' | 'fail-open' | undefined
}

/** Per-call options. */
export interface CallOptions {
  /** Cancels the call (queueing, sleeps, requests); rejects with the signal's reason. */
  signal?: AbortSignal | undefined
  /** Deadline of the whole call, fallbacks included; for streams, until the first content event. @default none */
  timeoutMs?: number | undefined
  /** Calls with the same key and params share one upstream request and one result. @default none */
  idempotencyKey?: string | undefined
}

/** Metadata of one call, returned by `messages.createWithMeta()`. */
export interface CallMeta {
  /** The model that answered (for a cache hit: the cached answer's model). */
  model: string
  /** Upstream requests this call made, over all models (0 for a replay or a sharer of another call's request). */
  attempts: number
  /** Where the answer came from. */
  source: 'api' | 'cache' | 'degraded'
  /** Wall time of the call. */
  latencyMs: number
  /** Usage this call spent; undefined for cache and degraded answers and for idempotent replays and sharers. */
  usage: Anthropic.Usage | undefined
  /** Models this call tried, in order ([] for a cache hit before calling, an idempotent replay or a sharer). */
  models: string[]
  /** Set when the call had an `idempotencyKey`. */
  idempotency?: {
    /** The call's `idempotencyKey`. */
    key: string
    /** True when this call did not make the request: the result was stored by an earlier call, or made by a concurrent one. */
    replayed: boolean
    /** Upstream requests made under this key in this process, failed calls included: each may have been billed. */
    keyAttempts: number
  }
}

/** What `messages.createWithMeta()` resolves to. */
export interface MessageWithMeta {
  /** The answer, as `create()` would have resolved it. */
  message: Anthropic.Message
  /** How the answer was obtained: model, attempts, source, latency, usage. */
  meta: CallMeta
}

/** Events passed to `onEvent`. */
export type ClaudeEvent =
  /** A request is about to go upstream to `model` (`attempt` counts from 1 per model). */
  | { type: 'attempt'; model: string; attempt: number }
  /** `attempt` on `model` failed with `error`; the next one starts after `delayMs`. */
  | { type: 'retry'; model: string; attempt: number; delayMs: number; error: unknown }
  /** `from` gave up (its last `error`, or a stop reason) and the call moves to `to`. */
  | { type: 'fallback'; from: string; to: string; error: unknown }
  /** The answer came from the cache, before calling (`'first'`) or after every model failed (`'fallback'`). */
  | { type: 'cache-hit'; mode: 'first' | 'fallback' }
  /** The cache store threw on `operation`; a failed get is a miss, a failed set is ignored. */
  | { type: 'cache-error'; operation: 'get' | 'set'; error: unknown }
  /** The `degrade` handler answered after `error`. */
  | { type: 'degraded'; error: unknown }
  /** A 429 paused the callers of one model for `delayMs`. */
  | { type: 'rate-limit-pause'; delayMs: number }
  /** The breaker `claude:<model>` changed state. */
  | { type: 'breaker'; model: string; from: CircuitState; to: CircuitState }
