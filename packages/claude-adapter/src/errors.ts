import type { Anthropic } from '@anthropic-ai/sdk'

/** The four classes of failure {@link classifyError} sorts errors into. */
export type ErrorClass = 'transient' | 'permanent' | 'business' | 'infrastructure'

/** Base class of every error this package throws. */
export class ClaudeAdapterError extends Error {
  /** Class name, for logs (`instanceof` fails across duplicate package copies). */
  override readonly name: string = 'ClaudeAdapterError'
  /** Stable machine-readable code. */
  readonly code: string = 'ERR_CLAUDE'
  /** Brand that survives duplicate ESM/CJS copies of this package, where `instanceof` fails. */
  readonly isClaudeAdapterError = true
  /** How {@link classifyError} classifies this error. */
  readonly errorClass: ErrorClass = 'permanent'
}

/** `stop_reason: 'max_tokens'` (or a full context window) when `onTruncated: 'error'`. */
export class TruncatedResponseError extends ClaudeAdapterError {
  /** Always `'TruncatedResponseError'`. */
  override readonly name = 'TruncatedResponseError'
  override readonly code = 'ERR_CLAUDE_TRUNCATED'
  override readonly errorClass = 'business'
  /** The truncated answer, as returned by the API. */
  readonly response: Anthropic.Message

  constructor(response: Anthropic.Message) {
    super(
      `Claude stopped with ${response.stop_reason} after ${response.usage.output_tokens} tokens`,
    )
    this.response = response
  }
}

/** `stop_reason: 'refusal'`: the model declined to answer. */
export class RefusalError extends ClaudeAdapterError {
  /** Always `'RefusalError'`. */
  override readonly name = 'RefusalError'
  override readonly code = 'ERR_CLAUDE_REFUSAL'
  override readonly errorClass = 'business'
  /** The refusing answer, with `stop_details` when the API gave them. */
  readonly response: Anthropic.Message

  constructor(response: Anthropic.Message) {
    const why = response.stop_details?.explanation
    super(`Claude refused to answer${why ? `: ${why}` : ''}`)
    this.response = response
  }
}

/** The `validate` option rejected every answer of `validateAttempts` tries; `cause` is its last error. */
export class ResponseValidationError extends ClaudeAdapterError {
  /** Always `'ResponseValidationError'`. */
  override readonly name = 'ResponseValidationError'
  override readonly code = 'ERR_CLAUDE_VALIDATION'
  override readonly errorClass = 'business'
  /** The last answer that failed validation. */
  readonly response: Anthropic.Message
  /** Answers requested and validated. */
  readonly attempts: number

  constructor(response: Anthropic.Message, attempts: number, cause: unknown) {
    super(`Claude's answer failed validation ${attempts} time(s)`, { cause })
    this.response = response
    this.attempts = attempts
  }
}

/** A stream broke after its first content event; carries what had arrived. `cause` is the break. */
export class StreamInterruptedError extends ClaudeAdapterError {
  /** Always `'StreamInterruptedError'`. */
  override readonly name = 'StreamInterruptedError'
  override readonly code = 'ERR_CLAUDE_STREAM_INTERRUPTED'
  override readonly errorClass = 'transient'
  /** Text received before the break (all text blocks, concatenated). */
  readonly partialText: string
  /** Usage reported so far (from `message_start` and any `message_delta`). */
  readonly usage: Anthropic.Usage | undefined
  /** The model that was streaming. */
  readonly model: string

  constructor(
    model: string,
    partialText: string,
    usage: Anthropic.Usage | undefined,
    cause: unknown,
  ) {
    super(`Claude stream from ${model} broke after ${partialText.length} characters`, { cause })
    this.model = model
    this.partialText = partialText
    this.usage = usage
  }
}

/** The rate limiter's queue is full (`rateLimit.maxQueue`): shed load instead of queueing more. */
export class RateLimitQueueFullError extends ClaudeAdapterError {
  /** Always `'RateLimitQueueFullError'`. */
  override readonly name = 'RateLimitQueueFullError'
  override readonly code = 'ERR_CLAUDE_QUEUE_FULL'
  override readonly errorClass = 'infrastructure'
  /** The configured queue bound. */
  readonly maxQueue: number

  constructor(maxQueue: number) {
    super(`Claude rate limiter queue is full (${maxQueue} waiting)`)
    this.maxQueue = maxQueue
  }
}

/**
 * A 429 paused `model` for longer than the call can wait (what is left of `timeoutMs`, or
 * `retry.maxHintMs` without one): the chain moves to the next model instead of sleeping.
 */
export class RateLimitPausedError extends ClaudeAdapterError {
  /** Always `'RateLimitPausedError'`. */
  override readonly name = 'RateLimitPausedError'
  override readonly code = 'ERR_CLAUDE_RATE_LIMIT_PAUSED'
  override readonly errorClass = 'infrastructure'
  /** The paused model. */
  readonly model: string
  /** How much longer the pause lasts. */
  readonly retryAfterMs: number

  constructor(model: string, retryAfterMs: number) {
    super(`Claude model ${model} is rate limited for another ${retryAfterMs} ms`)
    this.model = model
    this.retryAfterMs = retryAfterMs
  }
}

/** The call's `timeoutMs` elapsed (while queued, sleeping between retries, or in flight). */
export class ClaudeTimeoutError extends ClaudeAdapterError {
  /** Always `'ClaudeTimeoutError'`. */
  override readonly name = 'ClaudeTimeoutError'
  override readonly code = 'ERR_CLAUDE_TIMEOUT'
  override readonly errorClass = 'transient'
  /** The call's deadline budget. */
  readonly timeoutMs: number

  constructor(timeoutMs: number, options?: ErrorOptions) {
    super(`Claude call timed out after ${timeoutMs} ms`, options)
    this.timeoutMs = timeoutMs
  }
}

/**
 * One request took longer than its share of the call (`retry.attemptTimeoutMs`, or the share of
 * `timeoutMs` left to a model that has fallbacks): that request was aborted, and it counts as a
 * transient failure of `model` (its breaker sees it; the chain retries or moves on).
 */
export class ClaudeAttemptTimeoutError extends ClaudeAdapterError {
  /** Always `'ClaudeAttemptTimeoutError'`. */
  override readonly name = 'ClaudeAttemptTimeoutError'
  override readonly code = 'ERR_CLAUDE_ATTEMPT_TIMEOUT'
  override readonly errorClass = 'transient'
  /** The model whose request was aborted. */
  readonly model: string
  /** How long the request was given. */
  readonly timeoutMs: number

  constructor(model: string, timeoutMs: number, options?: ErrorOptions) {
    super(`Claude model ${model} did not answer within ${timeoutMs} ms`, options)
    this.model = model
    this.timeoutMs = timeoutMs
  }
}

/** One model's last failure in a {@link ClaudeUnavailableError}. */
export interface ModelFailure {
  /** The model that was given up on. */
  model: string
  /** Its last error: what moved the call on to the next model. */
  error: unknown
}

/**
 * Every model of the chain failed: for transient or infrastructure reasons, or because it does
 * not exist (a 404 for the model); `cause` is the last error.
 */
export class ClaudeUnavailableError extends ClaudeAdapterError {
  /** Always `'ClaudeUnavailableError'`. */
  override readonly name = 'ClaudeUnavailableError'
  override readonly code = 'ERR_CLAUDE_UNAVAILABLE'
  /** `'permanent'` when every model failed permanently (none exists), else `'transient'` (then judged by `cause`). */
  override readonly errorClass: ErrorClass
  /** Each model tried, in order, with the error that ended it. */
  readonly failures: readonly ModelFailure[]

  constructor(
    failures: readonly ModelFailure[],
    errorClass: 'transient' | 'permanent' = 'transient',
  ) {
    const last = failures[failures.length - 1]
    super(
      `Claude unavailable: ${failures.map((f) => `${f.model}: ${describe(f.error)}`).join('; ')}`,
      { cause: last?.error },
    )
    this.failures = failures
    this.errorClass = errorClass
  }
}

/** The same `idempotencyKey` was reused with different params. */
export class IdempotencyKeyReuseError extends ClaudeAdapterError {
  /** Always `'IdempotencyKeyReuseError'`. */
  override readonly name = 'IdempotencyKeyReuseError'
  override readonly code = 'ERR_CLAUDE_IDEMPOTENCY_KEY_REUSED'
  /** The reused key. */
  readonly idempotencyKey: string

  constructor(idempotencyKey: string) {
    super(`idempotencyKey "${idempotencyKey}" was already used with different params`)
    this.idempotencyKey = idempotencyKey
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error)
}

function hasCode(error: unknown, code: string): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { isClaudeAdapterError?: unknown }).isClaudeAdapterError === true &&
    (error as { code?: unknown }).code === code
  )
}

/** True for any error of this package, even from another copy of it. */
export const isClaudeAdapterError = (error: unknown): error is ClaudeAdapterError =>
  typeof error === 'object' &&
  error !== null &&
  (error as { isClaudeAdapterError?: unknown }).isClaudeAdapterError === true

/** True for a {@link TruncatedResponseError}. */
export const isTruncatedResponseError = (error: unknown): error is TruncatedResponseError =>
  hasCode(error, 'ERR_CLAUDE_TRUNCATED')

/** True for a {@link RefusalError}. */
export const isRefusalError = (error: unknown): error is RefusalError =>
  hasCode(error, 'ERR_CLAUDE_REFUSAL')

/** True for a {@link ResponseValidationError}. */
export const isResponseValidationError = (error: unknown): error is ResponseValidationError =>
  hasCode(error, 'ERR_CLAUDE_VALIDATION')

/** True for a {@link StreamInterruptedError}. */
export const isStreamInterruptedError = (error: unknown): error is StreamInterruptedError =>
  hasCode(error, 'ERR_CLAUDE_STREAM_INTERRUPTED')

/** True for a {@link RateLimitQueueFullError}. */
export const isRateLimitQueueFullError = (error: unknown): error is RateLimitQueueFullError =>
  hasCode(error, 'ERR_CLAUDE_QUEUE_FULL')

/** True for a {@link RateLimitPausedError}. */
export const isRateLimitPausedError = (error: unknown): error is RateLimitPausedError =>
  hasCode(error, 'ERR_CLAUDE_RATE_LIMIT_PAUSED')

/** True for a {@link ClaudeTimeoutError}. */
export const isClaudeTimeoutError = (error: unknown): error is ClaudeTimeoutError =>
  hasCode(error, 'ERR_CLAUDE_TIMEOUT')

/** True for a {@link ClaudeAttemptTimeoutError}. */
export const isClaudeAttemptTimeoutError = (error: unknown): error is ClaudeAttemptTimeoutError =>
  hasCode(error, 'ERR_CLAUDE_ATTEMPT_TIMEOUT')

/** True for a {@link ClaudeUnavailableError}. */
export const isClaudeUnavailableError = (error: unknown): error is ClaudeUnavailableError =>
  hasCode(error, 'ERR_CLAUDE_UNAVAILABLE')

/** True for an {@link IdempotencyKeyReuseError}. */
export const isIdempotencyKeyReuseError = (error: unknown): error is IdempotencyKeyReuseError =>
  hasCode(error, 'ERR_CLAUDE_IDEMPOTENCY_KEY_REUSED')
