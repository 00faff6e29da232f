import { createHash } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { IdempotencyBodyUnsupportedError, IdempotencyConfigError } from './errors.js'

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

/**
 * SHA-256 over method, path with query, and body: raw bytes when the body is bytes or a string,
 * else canonical JSON. A tag keeps the bytes `{}` and the parsed object `{}` apart.
 */
export function requestFingerprint(method: string, path: string, body: unknown): string {
  const hash = createHash('sha256').update(method).update('\n').update(path).update('\n')
  if (body === undefined || body === null) hash.update('-')
  else if (body instanceof Uint8Array) hash.update('b').update(body)
  else if (typeof body === 'string') hash.update('b').update(body)
  else hash.update('j').update(canonicalJson(body))
  return hash.digest('base64url')
}

/** True when the request announces a body. */
export function hasRequestBody(headers: Record<string, string | string[] | undefined>): boolean {
  const length = headers['content-length']
  if (typeof length === 'string') return length !== '0'
  return headers['transfer-encoding'] !== undefined
}

const jsonType = /^application\/(?:[\w.+-]+\+)?json\b/i

/**
 * What the default fingerprint hashes for a request: nothing for a request without a body; the
 * raw bytes when a parser kept them (`rawBody`: Koa's bodyparser, or Express with
 * `express.json({ verify: keepRawBody })`); else the parsed body. A body nobody read cannot be
 * fingerprinted: for JSON that is a mounting mistake (the middleware runs before the parser) and
 * fails loudly; any other type is the client's choice and is answered 415.
 */
export function fingerprintBody(
  req: IncomingMessage,
  raw: unknown,
  parsed: unknown,
  middleware: string,
): unknown {
  if (!hasRequestBody(req.headers)) return undefined
  if (raw !== undefined) return raw
  if (req.readableEnded) return parsed
  const contentType = req.headers['content-type']
  if (contentType !== undefined && jsonType.test(contentType)) {
    throw new IdempotencyConfigError(
      `${middleware}: the request body has not been parsed; mount it after the body parser (express.json(), express.raw(), @koa/bodyparser), or pass \`fingerprint\``,
    )
  }
  throw new IdempotencyBodyUnsupportedError(contentType)
}
