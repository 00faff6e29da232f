import { isCircuitOpenError, isCircuitProbeTimeoutError } from '@steadfast/circuit-breaker'
import { isIdempotencyError } from '@steadfast/idempotency-middleware'
import { headerValue, isTransientError, TRANSIENT_NETWORK_CODES } from '@steadfast/retry-decorators'
import { type ErrorClass, isClaudeAdapterError } from './errors.js'

/** `error.details.error_code` values of a 429 that waiting will not fix: spend and quota limits. */
export const PERMANENT_RATE_LIMIT_CODES: ReadonlySet<string> = new Set([
  'enforced_spend_limit_reached',
  'contract_spend_limit_reached',
  'linked_organization_spend_limit_reached',
])

// `error.type` of an SSE `error` event, which the SDK raises as an APIError with no status.
const TRANSIENT_TYPES = new Set([
  'overloaded_error',
  'api_error',
  'rate_limit_error',
  'timeout_error',
])

// The generic predicate leaves 409 out; Anthropic's own retry policy retries it (a conflict on a
// concurrent request lock clears by itself).
const CLAUDE_TRANSIENT_STATUSES: ReadonlySet<number> = new Set([409])

interface ErrorShape {
  status?: unknown
  type?: unknown
  errorCode?: unknown
  error?: unknown
  name?: unknown
  code?: unknown
  message?: unknown
  cause?: unknown
}

/**
 * Sorts an error into `'transient'` (retry, then fall back), `'permanent'` (throw at once),
 * `'business'` (a valid answer we reject) or `'infrastructure'` (our own guards: open breaker,
 * probe timeout, retry budget, queue overflow, rate-limit pause, idempotency store). Reads
 * status, `errorCode`, network codes and the `error.type` of Anthropic errors, never only the
 * class; `x-should-retry` does not change the class (see `shouldRetryModel`).
 * @example if (classifyError(error) === 'transient') scheduleLater()
 */
export function classifyError(error: unknown): ErrorClass {
  return classify(error, 0)
}

/** True when {@link classifyError} says `'transient'`: another attempt may succeed. */
export function isRetryable(error: unknown): boolean {
  return classifyError(error) === 'transient'
}

/** True for a 404 `not_found_error` about the model (e.g. a retired model): the next model may exist. */
export function isModelNotFound(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const e = error as ErrorShape
  if (e.status !== 404) return false
  const message = apiMessage(e)
  return message === undefined || /model/i.test(message)
}

/**
 * Whether to try THIS model again: a transient failure, unless the server said
 * `x-should-retry: false`. The header steers only that; classification, breaker accounting and
 * fallback follow the status (a 503 stays transient, a 400 stays permanent whatever it says).
 */
export function shouldRetryModel(error: unknown): boolean {
  if (!isRetryable(error)) return false
  const headers = (error as { headers?: unknown }).headers
  return headerValue(headers, 'x-should-retry') !== 'false'
}

function classify(error: unknown, depth: number): ErrorClass {
  if (typeof error !== 'object' || error === null || depth > 5) return 'permanent'
  const e = error as ErrorShape
  if (isClaudeAdapterError(error)) {
    if (error.errorClass === 'transient' && error.cause !== undefined) {
      const inner = classify(error.cause, depth + 1)
      // A wrapper of a transient failure is transient; of a deadline or guard, it stays what it is.
      return inner === 'permanent' ? 'transient' : inner
    }
    return error.errorClass
  }
  // Our guards: an open breaker, a half-open probe that outlived `probeTimeoutMs`, the
  // idempotency store (down, or a duplicate still running elsewhere). Another model may answer.
  if (isCircuitOpenError(error) || isCircuitProbeTimeoutError(error)) return 'infrastructure'
  if (isIdempotencyError(error)) return 'infrastructure'
  if (e.code === 'ERR_RETRY_EXHAUSTED') {
    // Judged by our own rules, not the generic predicate's: its cause may be a spend-limit 429.
    const retryError = error as { budgetExhausted?: unknown; cause?: unknown }
    return retryError.budgetExhausted === true
      ? 'infrastructure'
      : classify(retryError.cause, depth + 1)
  }
  if (typeof e.status === 'number') return classifyStatus(error, e, e.status)
  // Network codes first: other libraries' errors carry a `type` too (node-fetch: 'system').
  if (typeof e.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) return 'transient'
  if (isAnthropicShaped(e)) return TRANSIENT_TYPES.has(e.type as string) ? 'transient' : 'permanent'
  if (isTransientError(error)) return 'transient'
  if (e.cause !== undefined) return classify(e.cause, depth + 1)
  return 'permanent'
}

/** An Anthropic error object (an SSE `error` event has a `type` but no status). */
function isAnthropicShaped(e: ErrorShape): boolean {
  if (typeof e.type !== 'string' || e.type === '') return false
  return (
    e.type.endsWith('_error') ||
    (typeof e.error === 'object' && e.error !== null) ||
    typeof (e as { requestID?: unknown }).requestID === 'string'
  )
}

function classifyStatus(error: object, e: ErrorShape, status: number): ErrorClass {
  const code = errorCode(e)
  if (status === 429 && code !== undefined && PERMANENT_RATE_LIMIT_CODES.has(code))
    return 'permanent'
  return CLAUDE_TRANSIENT_STATUSES.has(status) || isTransientError(error)
    ? 'transient'
    : 'permanent'
}

// SDKs before `errorCode` existed still carry the body, so read `details.error_code` from it too.
function errorCode(e: ErrorShape): string | undefined {
  if (typeof e.errorCode === 'string') return e.errorCode
  const body = e.error as { error?: { details?: { error_code?: unknown } } } | undefined
  const code = body?.error?.details?.error_code
  return typeof code === 'string' ? code : undefined
}

function apiMessage(e: ErrorShape): string | undefined {
  const body = e.error as { error?: { message?: unknown } } | undefined
  const message = body?.error?.message
  return typeof message === 'string' ? message : undefined
}
