import { IdempotencyKeyInvalidError } from './errors.js'
import { sha256 } from './sha256.js'

/** Longest key accepted, in bytes after unquoting. */
export const MAX_KEY_BYTES = 255

function isPrintable(code: number): boolean {
  return code >= 0x20 && code <= 0x7e
}

/**
 * Strips optional whitespace (SP and HTAB, RFC 9110 §5.6.3) only: `String#trim` also strips
 * U+00A0, which is how Node hands over a raw 0xA0 byte, and would let a non-ASCII key through.
 */
function trimOws(value: string): string {
  let start = 0
  let end = value.length
  while (start < end && isOws(value.charCodeAt(start))) start++
  while (end > start && isOws(value.charCodeAt(end - 1))) end--
  return start === 0 && end === value.length ? value : value.slice(start, end)
}

function isOws(code: number): boolean {
  return code === 0x20 || code === 0x09
}

/** Unquotes an RFC 8941 Structured-Field string (`"a\"b"`), or returns undefined if malformed. */
function parseSfString(value: string): string | undefined {
  let out = ''
  for (let i = 1; i < value.length; i++) {
    const code = value.charCodeAt(i)
    if (code === 0x5c) {
      const next = value.charCodeAt(++i)
      // RFC 8941 §3.3.3: only \" and \\ are valid escapes.
      if (next !== 0x22 && next !== 0x5c) return undefined
      out += value[i]
    } else if (code === 0x22) {
      return i === value.length - 1 ? out : undefined
    } else if (!isPrintable(code)) {
      return undefined
    } else {
      out += value[i]
    }
  }
  return undefined
}

/**
 * Parses the field lines of the Idempotency-Key header: `undefined` when absent, the key when
 * valid, else throws {@link IdempotencyKeyInvalidError}. The draft's form is a Structured-Field
 * string; a bare token is accepted unless `strict`.
 */
export function parseIdempotencyKey(
  lines: readonly string[] | undefined,
  headerName: string,
  strict: boolean,
): string | undefined {
  if (lines === undefined || lines.length === 0) return undefined
  if (lines.length > 1) {
    throw new IdempotencyKeyInvalidError(`The ${headerName} header must be sent once`)
  }
  const raw = trimOws(lines[0] as string)
  let key: string | undefined
  if (raw.charCodeAt(0) === 0x22) {
    key = parseSfString(raw)
    if (key === undefined) {
      throw new IdempotencyKeyInvalidError(
        `The ${headerName} header is not a valid Structured-Field string`,
      )
    }
  } else if (strict) {
    throw new IdempotencyKeyInvalidError(
      `The ${headerName} header must be a quoted Structured-Field string, such as "8e03978e"`,
    )
  } else {
    key = raw
  }
  if (key.length === 0 || key.length > MAX_KEY_BYTES) {
    throw new IdempotencyKeyInvalidError(
      `The ${headerName} header must be 1 to ${MAX_KEY_BYTES} characters long`,
    )
  }
  for (let i = 0; i < key.length; i++) {
    if (!isPrintable(key.charCodeAt(i))) {
      throw new IdempotencyKeyInvalidError(
        `The ${headerName} header must contain printable ASCII only`,
      )
    }
  }
  return key
}

/**
 * The field lines of header `name` (lower case) on a Node request. Node joins repeated lines with
 * ", ", so a value without a comma was sent once; only otherwise is the costlier, lazily built
 * `headersDistinct` consulted.
 */
export function headerLines(
  req: {
    headers: Record<string, string | string[] | undefined>
    headersDistinct: Record<string, string[] | undefined>
  },
  name: string,
  headers: Record<string, string | string[] | undefined> = req.headers,
): readonly string[] | undefined {
  const value = headers[name]
  if (value === undefined) return undefined
  if (typeof value === 'string' && !value.includes(',')) return [value]
  return req.headersDistinct[name]
}

/**
 * The store key for (scope, key): a SHA-256 so the raw client key never reaches a store or a log.
 * The scope is length-prefixed so that ("ab", "c") and ("a", "bc") never collide.
 */
export function storageKey(scope: string, key: string): string {
  return sha256(`${scope.length}:${scope}\n${key}`)
}
