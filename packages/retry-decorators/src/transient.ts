/** HTTP statuses worth retrying: timeout, rate limit, server and gateway errors, Anthropic's 529. */
export const TRANSIENT_STATUSES: ReadonlySet<number> = new Set([408, 429, 500, 502, 503, 504, 529])

/** Socket and DNS error codes (Node and undici) that a later attempt may not hit. */
export const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'ENETDOWN',
  'EHOSTUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
])

// fetch() reports network failures as a bare TypeError; only its message tells them apart from bugs.
const FETCH_NETWORK_MESSAGES = new Set([
  'fetch failed', // undici (Node)
  'terminated', // undici: body cut mid-way
  'Failed to fetch', // Chromium
  'NetworkError when attempting to fetch resource.', // Firefox
  'Load failed', // Safari
  'Network request failed', // React Native
])

// Names of timeout and connection errors that carry no status or code: AbortSignal.timeout()'s
// DOMException, our TimeoutError, and @anthropic-ai/sdk's connection errors.
const TRANSIENT_NAMES = new Set(['TimeoutError', 'APIConnectionError', 'APIConnectionTimeoutError'])

/**
 * The default `retryIf`: true for network errors, timeouts and HTTP 408/429/500/502/503/504/529.
 * Other statuses (400, 401, 403, 404, 422, …) and everything else are not retried.
 * A {@link RetryError} is judged by its cause, unless the retry budget stopped it.
 * @example retry(call, { retryIf: (e) => isTransientError(e) || e instanceof MyFlakyError })
 */
export function isTransientError(error: unknown): boolean {
  return transient(error, 0)
}

function transient(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false
  const e = error as { status?: unknown; statusCode?: unknown; code?: unknown; name?: unknown }
  const status = typeof e.status === 'number' ? e.status : e.statusCode
  if (typeof status === 'number') return TRANSIENT_STATUSES.has(status)
  if (e.code === 'ERR_RETRY_EXHAUSTED') {
    const retryError = error as { budgetExhausted?: unknown; cause?: unknown }
    return retryError.budgetExhausted !== true && transient(retryError.cause, depth + 1)
  }
  if (typeof e.code === 'string' && TRANSIENT_NETWORK_CODES.has(e.code)) return true
  if (typeof e.name === 'string' && TRANSIENT_NAMES.has(e.name)) return true
  if (error instanceof TypeError && FETCH_NETWORK_MESSAGES.has(error.message)) return true
  // Wrapped network errors (fetch's TypeError, SDK connection errors) keep the code in `cause`.
  return transient((error as { cause?: unknown }).cause, depth + 1)
}
