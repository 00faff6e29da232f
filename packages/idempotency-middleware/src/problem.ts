import type { IdempotencyError, IdempotencyErrorCode } from './errors.js'

/** How error responses are shaped: RFC 9457 problem details, or Stripe's error object. */
export type ErrorFormat = 'problem' | 'stripe'

/** A ready-to-send error response. */
export interface ErrorResponse {
  /** The HTTP status to send. */
  status: number
  /** Content-Type, Cache-Control and, for 409, Retry-After. */
  headers: Record<string, string>
  /** The serialized problem details (or Stripe error object). */
  body: string
}

const TITLES: Record<IdempotencyErrorCode, string> = {
  IDEMPOTENCY_KEY_INVALID: 'Invalid idempotency key',
  IDEMPOTENCY_KEY_REQUIRED: 'Idempotency key required',
  IDEMPOTENCY_KEY_REUSED: 'Idempotency key reused',
  IDEMPOTENCY_KEY_IN_USE: 'Idempotency key in use',
  IDEMPOTENCY_STORE_UNAVAILABLE: 'Idempotency store unavailable',
  IDEMPOTENCY_RECORD_UNREADABLE: 'Idempotency record unreadable',
  IDEMPOTENCY_CONFIG_INVALID: 'Idempotency misconfigured',
  IDEMPOTENCY_BODY_UNSUPPORTED: 'Request body not supported',
}

/** The problem `type` URI for a code, e.g. `urn:steadfast:problem:idempotency-key-reused`. */
export function problemType(code: IdempotencyErrorCode): string {
  return `urn:steadfast:problem:${code.toLowerCase().replaceAll('_', '-')}`
}

/** Seconds for `Retry-After`: the lease bounds the wait, but most handlers end far sooner. */
function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(Math.min(retryAfterMs, 5_000) / 1000)))
}

// Stripe answers parameter mismatches with 400 idempotency_error, and concurrent use with 409.
function stripeBody(error: IdempotencyError): { status: number; type: string } {
  switch (error.code) {
    case 'IDEMPOTENCY_KEY_REUSED':
      return { status: 400, type: 'idempotency_error' }
    case 'IDEMPOTENCY_KEY_IN_USE':
      return { status: 409, type: 'idempotency_error' }
    case 'IDEMPOTENCY_KEY_INVALID':
    case 'IDEMPOTENCY_KEY_REQUIRED':
      return { status: 400, type: 'invalid_request_error' }
    case 'IDEMPOTENCY_BODY_UNSUPPORTED':
      return { status: 415, type: 'invalid_request_error' }
    default:
      return { status: error.status, type: 'api_error' }
  }
}

/** Renders one of our errors as an HTTP response in the chosen format. */
export function renderError(error: IdempotencyError, format: ErrorFormat): ErrorResponse {
  const headers: Record<string, string> = { 'cache-control': 'no-store' }
  if ('retryAfterMs' in error && typeof error.retryAfterMs === 'number') {
    headers['retry-after'] = retryAfterSeconds(error.retryAfterMs)
  }
  if (format === 'stripe') {
    const { status, type } = stripeBody(error)
    headers['content-type'] = 'application/json; charset=utf-8'
    const body = { error: { type, code: error.code.toLowerCase(), message: error.message } }
    return { status, headers, body: JSON.stringify(body) }
  }
  headers['content-type'] = 'application/problem+json; charset=utf-8'
  const body = {
    type: problemType(error.code),
    title: TITLES[error.code],
    status: error.status,
    detail: error.message,
    code: error.code,
  }
  return { status: error.status, headers, body: JSON.stringify(body) }
}
