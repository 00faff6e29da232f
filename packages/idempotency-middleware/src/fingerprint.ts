import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { IdempotencyBodyUnsupportedError, IdempotencyConfigError } from './errors.js'
import { sha256 } from './sha256.js'

type Frame =
  | { kind: 'array'; items: unknown[]; index: number; parts: string[] }
  | {
      kind: 'object'
      record: Record<string, unknown>
      keys: string[]
      index: number
      parts: string[]
    }

function open(value: object): Frame {
  if (Array.isArray(value)) return { kind: 'array', items: value, index: 0, parts: [] }
  const record = value as Record<string, unknown>
  return { kind: 'object', record, keys: Object.keys(record).sort(), index: 0, parts: [] }
}

/** A leaf's JSON, or undefined for a value JSON leaves out of objects (undefined, functions). */
function leaf(value: unknown): string | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    return undefined
  }
  return JSON.stringify(value)
}

function toJsonValue(value: unknown): unknown {
  const withToJson = value as { toJSON?: () => unknown } | null
  return typeof withToJson?.toJSON === 'function' ? withToJson.toJSON() : value
}

/**
 * JSON with object keys sorted at every depth, so key order never changes a fingerprint.
 * Iterative, so a deeply nested body that a JSON parser accepted cannot overflow the stack.
 */
export function canonicalJson(value: unknown): string {
  try {
    return shallowJson(value, 0) ?? 'null'
  } catch (error) {
    if (error !== TOO_DEEP) throw error
    return deepJson(value)
  }
}

// Plain recursion is several times faster than the explicit stack below (no frames, no part
// arrays) for the shallow bodies APIs get; past this depth the iterative walk takes over.
const MAX_RECURSION = 64
const TOO_DEEP = Symbol('too deep')

/** True when no item of `items` is a non-null object. */
function holdsNoObject(items: unknown[]): boolean {
  for (const item of items) if (item !== null && typeof item === 'object') return false
  return true
}

/**
 * For an object none of whose members is a non-null object: `SORTED` when `keys` (its own keys,
 * in enumeration order) are already in sort order, `UNSORTED` otherwise; `NESTED` if a member is
 * an object.
 */
function flatOrder(record: Record<string, unknown>, keys: string[]): number {
  let order = SORTED
  for (let i = 0; i < keys.length; i++) {
    const item = record[keys[i] as string]
    if (item !== null && typeof item === 'object') return NESTED
    if (i > 0 && (keys[i - 1] as string) > (keys[i] as string)) order = UNSORTED
  }
  return order
}
const NESTED = 0
const SORTED = 1
const UNSORTED = 2

/** {@link canonicalJson} by recursion; undefined for a value JSON leaves out of objects. */
function shallowJson(value: unknown, depth: number): string | undefined {
  const item = toJsonValue(value)
  if (item === null || typeof item !== 'object') return leaf(item)
  if (depth === MAX_RECURSION) throw TOO_DEEP
  if (Array.isArray(item)) {
    if (holdsNoObject(item)) return JSON.stringify(item)
    let out = '['
    for (let i = 0; i < item.length; i++) {
      if (i > 0) out += ','
      out += shallowJson(item[i], depth + 1) ?? 'null'
    }
    return `${out}]`
  }
  const record = item as Record<string, unknown>
  const keys = Object.keys(record)
  // A flat object is written by the native stringify exactly as the loop below would, in one
  // call: as is when its keys come sorted (common, and V8's fastest path), else with the sorted
  // keys as the property list.
  const order = flatOrder(record, keys)
  if (order === SORTED) return JSON.stringify(record)
  keys.sort()
  if (order === UNSORTED) return JSON.stringify(record, keys)
  let out = '{'
  for (const key of keys) {
    const text = shallowJson(record[key], depth + 1)
    if (text === undefined) continue
    if (out.length > 1) out += ','
    out += `${JSON.stringify(key)}:${text}`
  }
  return `${out}}`
}

/** {@link canonicalJson} with an explicit stack, for bodies nested deeper than recursion allows. */
function deepJson(value: unknown): string {
  const root = toJsonValue(value)
  if (root === null || typeof root !== 'object') return leaf(root) ?? 'null'
  const stack: Frame[] = [open(root)]
  let done = ''
  while (stack.length > 0) {
    const frame = stack[stack.length - 1] as Frame
    if (
      frame.kind === 'array' ? frame.index >= frame.items.length : frame.index >= frame.keys.length
    ) {
      stack.pop()
      const text =
        frame.kind === 'array' ? `[${frame.parts.join(',')}]` : `{${frame.parts.join(',')}}`
      const parent = stack[stack.length - 1]
      if (parent) parent.parts[parent.parts.length - 1] += text
      else done = text
      continue
    }
    const key = frame.kind === 'object' ? (frame.keys[frame.index] as string) : undefined
    const item = toJsonValue(
      frame.kind === 'array' ? frame.items[frame.index] : frame.record[key as string],
    )
    frame.index++
    const prefix = key === undefined ? '' : `${JSON.stringify(key)}:`
    if (item !== null && typeof item === 'object') {
      frame.parts.push(prefix)
      stack.push(open(item))
      continue
    }
    const text = leaf(item)
    // JSON drops such members from objects and writes null for them in arrays.
    if (text !== undefined) frame.parts.push(prefix + text)
    else if (key === undefined) frame.parts.push('null')
  }
  return done
}

// Above this, a raw body is streamed through a Hash object rather than copied for a one-shot hash.
const ONE_SHOT_BYTES = 16_384

/**
 * SHA-256 over method, path with query, and body: raw bytes when the body is bytes or a string,
 * else canonical JSON. A tag keeps the bytes `{}` and the parsed object `{}` apart.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  const head = `${method}\n${path}\n`
  if (body === undefined || body === null) return sha256(`${head}-`)
  if (typeof body === 'string') return sha256(`${head}b${body}`)
  if (!(body instanceof Uint8Array)) return sha256(`${head}j${canonicalJson(body)}`)
  // A small body is cheaper to copy once than to stream through a Hash object; same digest.
  if (body.byteLength <= ONE_SHOT_BYTES)
    return sha256(Buffer.concat([Buffer.from(`${head}b`), body]))
  return createHash('sha256').update(head).update('b').update(body).digest('base64url')
}

/** True when the request announces a body. */
export function hasRequestBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length']
  if (typeof length === 'string') return length !== '0'
  return headers['transfer-encoding'] !== undefined
}

/** True for a non-empty string, byte array or object. */
function holdsSomething(parsed: unknown): boolean {
  if (typeof parsed === 'string') return parsed.length > 0
  if (parsed === null || typeof parsed !== 'object') return false
  if (parsed instanceof Uint8Array) return parsed.byteLength > 0
  for (const _key in parsed) return true
  return false
}

// Only `application/json` itself: every JSON parser reads it by default, so an unread one means
// the guard runs before the parser. A `+json` type (merge-patch, vnd.api) may be one the app's
// parser was never set up for: the client's choice, like any other type.
const jsonType = /^application\/json\s*(?:;|$)/i

/**
 * What the default fingerprint hashes for a request: nothing for a request without a body; the
 * raw bytes when a parser kept them (`rawBody`: Koa's bodyparser, or Express with
 * `express.json({ verify: keepRawBody })`); else the parsed body. A body nobody read cannot be
 * fingerprinted: for `application/json` that is a mounting mistake (the middleware runs before
 * the parser) and fails loudly; any other type is the client's choice and is answered 415.
 */
export function fingerprintBody(
  req: IncomingMessage,
  raw: unknown,
  parsed: unknown,
  middleware: string,
  headers: IncomingMessage['headers'] = req.headers,
): unknown {
  if (!hasRequestBody(headers)) return undefined
  if (raw !== undefined) return raw
  // A body that holds something was put there by a parser; only an empty one (body-parser sets
  // `{}` when it skips a request) needs the stream's state, a costlier lookup on Express.
  if (holdsSomething(parsed) || req.readableEnded) return parsed
  const contentType = headers['content-type']
  if (contentType !== undefined && jsonType.test(contentType)) {
    throw new IdempotencyConfigError(
      `${middleware}: the request body has not been parsed; mount it after the body parser (express.json(), express.raw(), @koa/bodyparser), or pass \`fingerprint\``,
    )
  }
  throw new IdempotencyBodyUnsupportedError(contentType)
}
