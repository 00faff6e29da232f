import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  canonicalJson,
  IdempotencyKeyInvalidError,
  isIdempotencyKeyInvalidError,
  parseIdempotencyKey,
  requestFingerprint,
  storageKey,
} from '../src/index.js'

const quote = (key: string) => `"${key.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  minLength: 1,
  maxLength: 255,
})

describe('parseIdempotencyKey()', () => {
  it('round-trips every printable key through Structured-Field quoting', () => {
    fc.assert(
      fc.property(printable, (key) => {
        expect(parseIdempotencyKey([quote(key)], 'Idempotency-Key', true)).toBe(key)
      }),
    )
  })

  it('returns undefined when the header is absent', () => {
    expect(parseIdempotencyKey(undefined, 'Idempotency-Key', false)).toBeUndefined()
  })

  it('trims spaces and tabs around the value, and nothing else', () => {
    expect(parseIdempotencyKey([' \t"abc"\t '], 'Idempotency-Key', false)).toBe('abc')
    expect(parseIdempotencyKey([' abc\t'], 'Idempotency-Key', false)).toBe('abc')
    for (const value of ['abc\u00a0', '\u00a0abc', '"abc"\u00a0', 'abc\u2003', 'abc\n']) {
      expect(() => parseIdempotencyKey([value], 'Idempotency-Key', false)).toThrow(
        IdempotencyKeyInvalidError,
      )
    }
  })

  it('throws IdempotencyKeyInvalidError with the header name', () => {
    try {
      parseIdempotencyKey(['"'], 'X-Key', false)
      expect.unreachable()
    } catch (error) {
      expect(isIdempotencyKeyInvalidError(error)).toBe(true)
      expect((error as Error).message).toContain('X-Key')
    }
  })
})

describe('storageKey()', () => {
  it('never collides across the scope/key boundary', () => {
    expect(storageKey('ab', 'c')).not.toBe(storageKey('a', 'bc'))
    expect(storageKey('', 'k')).toBe(storageKey('', 'k'))
  })
})

describe('requestFingerprint()', () => {
  it('ignores JSON key order but not values', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), fc.jsonValue()), (object) => {
        const reversed = Object.fromEntries(Object.entries(object).reverse())
        expect(canonicalJson(reversed)).toBe(canonicalJson(object))
        expect(requestFingerprint('POST', '/a', reversed)).toBe(
          requestFingerprint('POST', '/a', object),
        )
      }),
    )
    expect(requestFingerprint('POST', '/a', { a: 1 })).not.toBe(
      requestFingerprint('POST', '/a', { a: 2 }),
    )
  })

  it('is the SHA-256 of method, path, tag and body, for every body form (property)', () => {
    const streamed = (method: string, path: string, tag: string, body: string | Uint8Array) =>
      createHash('sha256').update(`${method}\n${path}\n${tag}`).update(body).digest('base64url')
    fc.assert(
      fc.property(
        fc.string(),
        fc.uint8Array({ maxLength: 40_000 }),
        fc.jsonValue(),
        (path, bytes, value) => {
          expect(requestFingerprint('POST', path, bytes)).toBe(streamed('POST', path, 'b', bytes))
          expect(requestFingerprint('POST', path, path)).toBe(streamed('POST', path, 'b', path))
          if (value !== null && typeof value !== 'string') {
            const json = canonicalJson(value)
            expect(requestFingerprint('POST', path, value)).toBe(streamed('POST', path, 'j', json))
          }
        },
      ),
      { numRuns: 200 },
    )
    expect(requestFingerprint('PATCH', '/a', undefined)).toBe(streamed('PATCH', '/a', '-', ''))
  })

  it('tells bytes from parsed JSON and method from path', () => {
    expect(requestFingerprint('POST', '/a', '{}')).not.toBe(requestFingerprint('POST', '/a', {}))
    expect(requestFingerprint('POST', '/a', undefined)).not.toBe(
      requestFingerprint('PATCH', '/a', undefined),
    )
  })
})

describe('canonicalJson()', () => {
  it('sorts keys at every depth and matches JSON.stringify otherwise', () => {
    const value = { b: [1, { d: 1, c: [true, null] }], a: 'x', u: undefined, f: () => 1 }
    expect(canonicalJson(value)).toBe('{"a":"x","b":[1,{"c":[true,null],"d":1}]}')
    expect(canonicalJson([undefined, () => 1])).toBe('[null,null]')
    expect(canonicalJson({ t: new Date(0) })).toBe('{"t":"1970-01-01T00:00:00.000Z"}')
    expect(canonicalJson('s')).toBe('"s"')
    expect(canonicalJson(undefined)).toBe('null')
  })

  it('handles nesting far deeper than the call stack', () => {
    let value: unknown = 1
    for (let i = 0; i < 100_000; i++) value = i % 2 ? [value] : { k: value }
    let open = ''
    let close = ''
    for (let i = 99_999; i >= 0; i--) {
      open += i % 2 ? '[' : '{"k":'
      close = (i % 2 ? ']' : '}') + close
    }
    expect(canonicalJson(value)).toBe(`${open}1${close}`)
  })

  it('writes a value the same way at any depth (property)', () => {
    fc.assert(
      fc.property(fc.anything({ withDate: true }), (value) => {
        let nested: unknown = value
        for (let i = 0; i < 100; i++) nested = [nested]
        expect(canonicalJson(nested)).toBe(
          `${'['.repeat(100)}${canonicalJson(value)}${']'.repeat(100)}`,
        )
      }),
    )
  })

  it('is valid JSON for the same value, whatever the key order (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value)))
        const reversed = JSON.parse(JSON.stringify(value), (_k, v) =>
          v && typeof v === 'object' && !Array.isArray(v)
            ? Object.fromEntries(Object.entries(v).reverse())
            : v,
        )
        expect(canonicalJson(reversed)).toBe(canonicalJson(value))
      }),
    )
  })
})
