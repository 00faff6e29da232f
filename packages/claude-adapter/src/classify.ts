import { isCircuitOpenError } from '@steadfast/circuit-breaker'
import { type ErrorClass, isClaudeAdapterError } from './errors.js'

/** `error.details.error_code` values of a 429 that waiting will not fix: spend and quota limits. */
export const PERMANENT_RATE_LIMIT_CODES: ReadonlySet<string> = new Set([
  'enforced_spend_limit_reached',
  'contract_spend_limit_reached',
  'linked_organization_spend_limit_reached',
])

const TRANSIENT_STATUSES = new Set([408, 409, 429, 500, 502, 503, 504, 529])

// `error.type` of an SSE `error` event, which the SDK raises as an APIError with no status.
const TRANSIENT_TYPES = new Set([
  'overloaded_error',
  'api_error',
  'rate_limit_error',
  'timeout_error',
])

const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

// fetch() reports a cut body as `TypeError: terminated` and a failed connect as `fetch failed`.
const NETWORK_MESSAGES = new Set(['terminated', 'fetch failed'])

// The SDK's connection errors carry no status; they are recognised by name (set by the SDK
// itself, so it survives minification) because duplicate SDK copies defeat instanceof.
const CONNECTION_ERROR_NAMES = new Set(['APIConnectionError', 'APIConnectionTimeoutError'])

interface ErrorShape {
  status?: unknown
  type?: unknown
  errorCode?: unknown
  error?: unknown
  headers?: unknown
  name?: unknown
  code?: unknown
  message?: unknown
  cause?: unknown
}

/**
 * Sorts an error into `'transient'` (retry, then fall back), `'permanent'` (throw at once),
 * `'business'` (a valid answer we reject) or `'infrastructure'` (our own guards: open breaker,
 * retry budget, queue overflow). Reads status, `error.type`, `errorCode` and headers, never only the class.
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
  if (isCircuitOpenError(error)) return 'infrastructure'
  if (e.code === 'ERR_RETRY_EXHAUSTED') {
    const retryError = error as { budgetExhausted?: unknown; cause?: unknown }
    return retryError.budgetExhausted === true
      ? 'infrastructure'
      : classify(retryError.cause, depth + 1)
  }
  if (typeof e.status === 'number') return classifyStatus(e, e.status)
  if (typeof e.type === 'string' && e.type !== '') {
    return TRANSIENT_TYPES.has(e.type) ? 'transient' : 'permanent'
  }
  if (typeof e.name === 'string' && CONNECTION_ERROR_NAMES.has(e.name)) return 'transient'
  if (e.name === 'TimeoutError') return 'transient'
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return 'transient'
  if (error instanceof TypeError && NETWORK_MESSAGES.has(error.message)) return 'transient'
  if (e.cause !== undefined) return classify(e.cause, depth + 1)
  return 'permanent'
}

function classifyStatus(e: ErrorShape, status: number): ErrorClass {
  const code = errorCode(e)
  if (status === 429 && code !== undefined && PERMANENT_RATE_LIMIT_CODES.has(code))
    return 'permanent'
  // The server's explicit word wins over the status, as in the SDK's own retry policy.
  const shouldRetry = header(e.headers, 'x-should-retry')
  if (shouldRetry === 'true') return 'transient'
  if (shouldRetry === 'false') return 'permanent'
  return TRANSIENT_STATUSES.has(status) ? 'transient' : 'permanent'
}

function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const get = (headers as { get?: unknown }).get
  if (typeof get === 'function') {
    const value: unknown = get.call(headers, name)
    return typeof value === 'string' ? value : undefined
  }
  const value = (headers as Record<string, unknown>)[name]
  return typeof value === 'string' ? value : undefined
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
