import { IdempotencyConfigError } from './errors.js'

/** Response headers replayed by default (lower case). */
export const DEFAULT_REPLAY_HEADERS: readonly string[] = [
  'content-type',
  'content-language',
  'content-location',
  'content-disposition',
  'location',
  'etag',
  'last-modified',
  'link',
  // Caching metadata travels together: Cache-Control without its Vary lets a shared cache keep
  // one variant for every client.
  'cache-control',
  'expires',
  'vary',
]

// Never replayed: per-response, framing, hop-by-hop, per-request or per-client headers.
const FORBIDDEN = new Set([
  'set-cookie',
  'date',
  'content-length',
  'transfer-encoding',
  'content-encoding',
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'age',
  'retry-after',
  'traceparent',
  'tracestate',
  'b3',
  'sentry-trace',
  'baggage',
  'x-cloud-trace-context',
  'cf-ray',
  'x-amz-cf-id',
  'x-amz-id-2',
  'server-timing',
  'x-response-time',
  'idempotent-replayed',
])
// Rate limits, and the request, correlation and trace ids of every vendor: x-request-id,
// x-amzn-requestid, x-ms-request-id, x-github-request-id, x-correlation-id, x-b3-traceid, …
const FORBIDDEN_PATTERNS = [/^(x-)?rate-?limit/, /(^|-)(request|correlation|trace|span)-?id$/]

/** True for a header that must never be replayed. */
export function isForbiddenReplayHeader(name: string): boolean {
  const lower = name.toLowerCase()
  return FORBIDDEN.has(lower) || FORBIDDEN_PATTERNS.some((pattern) => pattern.test(lower))
}

/** The allowlist: the defaults plus `extra`, refusing any forbidden header at startup. */
export function replayHeaderSet(extra: readonly string[] = []): ReadonlySet<string> {
  for (const name of extra) {
    if (isForbiddenReplayHeader(name)) {
      throw new IdempotencyConfigError(
        `replayHeaders must not include "${name}": it is never replayed`,
      )
    }
  }
  return new Set([...DEFAULT_REPLAY_HEADERS, ...extra.map((name) => name.toLowerCase())])
}

/** Keeps the allowlisted headers of a response (names in lower case), as strings or arrays. */
export function pickHeaders(
  headers: Record<string, number | string | string[] | undefined>,
  allow: ReadonlySet<string>,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  // Looking the few allowed names up beats enumerating the response's headers: getHeaders()
  // returns a null-prototype object, which V8 keeps as a dictionary, slow to walk with for-in.
  for (const name of allow) {
    const value = headers[name]
    if (value === undefined) continue
    out[name] = typeof value === 'number' ? String(value) : value
  }
  return out
}
