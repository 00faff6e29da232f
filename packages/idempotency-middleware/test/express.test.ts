import { mkdtempSync, writeFileSync } from 'node:fs'
import { Agent, createServer, request as httpRequest, type Server, ServerResponse } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, pipeline } from 'node:stream'
import compression from 'compression'
import type { NextFunction, Request, Response } from 'express'
import express5 from 'express'
import express4 from 'express4'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  IdempotencyConfigError,
  type IdempotencyOptions,
  idempotency,
  keepRawBody,
  MemoryStore,
} from '../src/index.js'
import { abandonPost, abandonWhileWaiting, eventLog, postTorn, SpyStore, sleep } from './support.js'

type ExpressLib = typeof express5
const frameworks: [string, ExpressLib][] = [
  ['express 5', express5],
  ['express 4', express4 as unknown as ExpressLib],
]

const PROBLEM = /^application\/problem\+json/

describe.each(frameworks)('idempotency() with %s', (_name, express) => {
  let runs = 0
  afterEach(() => {
    runs = 0
  })

  /** POST /orders answering 201 JSON, plus a few routes for specific behaviours. */
  function makeApp(options: IdempotencyOptions<Request> = {}) {
    const app = express()
    app.use(express.json())
    app.use(idempotency(options))
    app.post('/orders', (req, res) => {
      runs++
      res
        .status(201)
        .location(`/orders/${runs}`)
        .set('ETag', `"v${runs}"`)
        .set('Set-Cookie', `session=${runs}`)
        .set('X-Request-Id', `req-${runs}`)
        .set('X-RateLimit-Remaining', String(100 - runs))
        .set('X-Custom', `custom-${runs}`)
        .json({ id: runs, item: req.body.item })
    })
    app.post('/status/:code', (req, res) => {
      runs++
      res.status(Number(req.params.code)).json({ run: runs })
    })
    app.post('/throws', () => {
      runs++
      throw new Error('boom')
    })
    app.get('/orders', (_req, res) => {
      runs++
      res.json({ run: runs })
    })
    app.put('/orders', (_req, res) => {
      runs++
      res.json({ run: runs })
    })
    return app
  }

  describe('when parsing the key', () => {
    it('accepts a Structured-Field string and treats it as the same key as the bare token', async () => {
      const app = makeApp()
      await request(app)
        .post('/orders')
        .set('Idempotency-Key', '"abc"')
        .send({ item: 1 })
        .expect(201)
      const replay = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'abc')
        .send({ item: 1 })
      expect(replay.status).toBe(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(1)
    })

    it('unquotes \\" and \\\\ escapes', async () => {
      const app = makeApp()
      await request(app).post('/orders').set('Idempotency-Key', '"a\\"b\\\\c"').send({}).expect(201)
      const replay = await request(app).post('/orders').set('Idempotency-Key', 'a"b\\c').send({})
      expect(replay.headers['idempotent-replayed']).toBe('true')
    })

    it.each([
      ['an empty string', '""'],
      ['an unterminated string', '"abc'],
      ['an invalid escape', '"a\\nb"'],
      ['text after the closing quote', '"abc"def'],
      ['a tab', 'a\tb'],
      ['a non-ASCII character', 'caf\u00e9'],
      ['256 characters', 'k'.repeat(256)],
    ])('answers 400 for %s', async (_case, value) => {
      const res = await request(makeApp()).post('/orders').set('Idempotency-Key', value).send({})
      expect(res.status).toBe(400)
      expect(res.headers['content-type']).toMatch(PROBLEM)
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
      expect(runs).toBe(0)
    })

    it('answers 400 for a raw 0xA0 byte around the key, which String#trim() would strip', async () => {
      // supertest sends header values as UTF-8; node:http sends a string's chars as latin1
      // bytes, and Node hands a received 0xA0 byte over as U+00A0.
      const server = createServer(makeApp()).listen(0)
      try {
        const { port } = server.address() as { port: number }
        const post = (key: string) =>
          new Promise<number>((resolve, reject) => {
            const req = httpRequest({
              port,
              method: 'POST',
              path: '/orders',
              headers: { 'Content-Type': 'application/json', 'Idempotency-Key': key },
            })
            req.on('response', (res) => res.resume().on('end', () => resolve(res.statusCode ?? 0)))
            req.on('error', reject)
            // A Buffer, so the head goes out on its own as latin1 (a string body would be
            // sent in one piece with it, all as UTF-8).
            req.end(Buffer.from('{}'))
          })
        expect(await post('abc\u00a0')).toBe(400)
        expect(await post('\u00a0abc')).toBe(400)
        expect(await post('"abc"\u00a0')).toBe(400)
        expect(runs).toBe(0)
        expect(await post('abc')).toBe(201)
      } finally {
        server.close()
      }
    })

    it('accepts 255 characters', async () => {
      await request(makeApp())
        .post('/orders')
        .set('Idempotency-Key', 'k'.repeat(255))
        .send({})
        .expect(201)
    })

    it('refuses a bare token with strictSyntax', async () => {
      const app = makeApp({ strictSyntax: true })
      const res = await request(app).post('/orders').set('Idempotency-Key', 'abc').send({})
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
      await request(app).post('/orders').set('Idempotency-Key', '"abc"').send({}).expect(201)
    })

    it('answers 400 when the header is sent twice', async () => {
      const res = await request(makeApp())
        .post('/orders')
        .set('Idempotency-Key', ['a', 'b'] as unknown as string)
        .send({})
      expect(res.status).toBe(400)
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
      expect(res.body.detail).toMatch(/once/)
    })

    it('reads a configured header name', async () => {
      const app = makeApp({ headerName: 'X-Request-Key' })
      await request(app).post('/orders').set('X-Request-Key', 'k').send({}).expect(201)
      const replay = await request(app).post('/orders').set('X-Request-Key', 'k').send({})
      expect(replay.headers['idempotent-replayed']).toBe('true')
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      expect(runs).toBe(2)
    })

    it('checks key syntax before `required`', async () => {
      const res = await request(makeApp({ required: true }))
        .post('/orders')
        .set('Idempotency-Key', '""')
        .send({})
      expect(res.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
    })
  })

  describe('when the key is missing', () => {
    it('passes through by default', async () => {
      const app = makeApp()
      await request(app).post('/orders').send({}).expect(201)
      await request(app).post('/orders').send({}).expect(201)
      expect(runs).toBe(2)
    })

    it('answers 400 problem+json naming the header when required', async () => {
      const res = await request(makeApp({ required: true }))
        .post('/orders')
        .send({})
      expect(res.status).toBe(400)
      expect(res.headers['content-type']).toMatch(PROBLEM)
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body).toMatchObject({
        type: 'urn:steadfast:problem:idempotency-key-required',
        title: 'Idempotency key required',
        status: 400,
        code: 'IDEMPOTENCY_KEY_REQUIRED',
      })
      expect(res.body.detail).toContain('Idempotency-Key')
      expect(runs).toBe(0)
    })
  })

  describe('when the method is not guarded', () => {
    it('passes GET and PUT through untouched by default', async () => {
      const app = makeApp({ required: true })
      await request(app).get('/orders').set('Idempotency-Key', 'k').expect(200)
      await request(app).get('/orders').set('Idempotency-Key', 'k').expect(200)
      const put = await request(app).put('/orders').set('Idempotency-Key', 'k').send({})
      expect(put.headers['idempotent-replayed']).toBeUndefined()
      expect(runs).toBe(3)
    })

    it('guards configured methods', async () => {
      const app = makeApp({ methods: ['PUT'] })
      await request(app).put('/orders').set('Idempotency-Key', 'k').send({}).expect(200)
      const replay = await request(app).put('/orders').set('Idempotency-Key', 'k').send({})
      expect(replay.headers['idempotent-replayed']).toBe('true')
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      expect(runs).toBe(3)
    })
  })

  describe('when replaying', () => {
    // RFC 9110 §9.3.2: a HEAD answer may declare the length a GET would have had, and no other.
    it.each([
      ['MemoryStore', () => new MemoryStore()],
      // An asynchronous store: the capture holds the last write back until the record is stored.
      ['a slow store', () => Object.assign(new SpyStore(), { delay: { complete: 50 } })],
    ])(
      'gives a HEAD replay the Content-Length of the first answer, and no body (%s)',
      async (_store, makeStore) => {
        const app = makeApp({ methods: ['POST', 'HEAD'], store: makeStore() })
        const first = await request(app).head('/orders').set('Idempotency-Key', 'h')
        const replay = await request(app).head('/orders').set('Idempotency-Key', 'h')
        expect(first.headers['content-length']).toBe('9')
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(replay.headers['content-length']).toBe('9')
        expect(replay.text).toBeUndefined()
        expect(runs).toBe(1)
      },
    )

    it('keeps the status, the body bytes and the allowlisted headers only', async () => {
      const app = makeApp()
      const first = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({ item: 'x' })
      const replay = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({ item: 'x' })
      expect(replay.status).toBe(201)
      expect(replay.text).toBe(first.text)
      expect(replay.headers.location).toBe('/orders/1')
      expect(replay.headers.etag).toBe('"v1"')
      expect(replay.headers['content-type']).toBe(first.headers['content-type'])
      expect(replay.headers['set-cookie']).toBeUndefined()
      expect(replay.headers['x-request-id']).toBeUndefined()
      expect(replay.headers['x-ratelimit-remaining']).toBeUndefined()
      expect(replay.headers['x-custom']).toBeUndefined()
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['access-control-expose-headers']).toBe('Idempotent-Replayed')
      expect(first.headers['idempotent-replayed']).toBeUndefined()
      expect(runs).toBe(1)
    })

    // A replay that keeps Cache-Control must keep the Vary it was cached under, or a shared
    // cache stores one variant for all; Content-Disposition and Expires describe the same bytes.
    it('replays Vary, Content-Disposition and Expires by default', async () => {
      const app = express()
      app.use(express.json())
      app.use(idempotency())
      app.post('/exports', (_req, res) => {
        res.set('Cache-Control', 'private, max-age=60')
        res.set('Vary', 'Accept-Language')
        res.set('Expires', 'Wed, 09 Dec 2026 00:00:00 GMT')
        res.attachment('orders.csv').status(201).send('id\n1\n')
      })
      const first = await request(app).post('/exports').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/exports').set('Idempotency-Key', 'k').send({})
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers.vary).toBe('Accept-Language')
      expect(replay.headers['content-disposition']).toMatch(
        /^attachment; filename="?orders\.csv"?$/,
      )
      expect(replay.headers['content-disposition']).toBe(first.headers['content-disposition'])
      expect(replay.headers.expires).toBe('Wed, 09 Dec 2026 00:00:00 GMT')
    })

    it('adds headers named in replayHeaders', async () => {
      const app = makeApp({ replayHeaders: ['X-Custom'] })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(replay.headers['x-custom']).toBe('custom-1')
    })

    it.each([
      ['appends to', 'ETag', 'ETag, Idempotent-Replayed'],
      // A CORS middleware configured to expose it already: listed once.
      ['does not repeat a name in', 'idempotent-replayed, ETag', 'idempotent-replayed, ETag'],
    ])('%s an existing Access-Control-Expose-Headers', async (_how, existing, replayed) => {
      const app = express()
      app.use((_req, res, next) => {
        res.set('Access-Control-Expose-Headers', existing)
        next()
      })
      app.use(express.json())
      app.use(idempotency())
      app.post('/x', (_req, res) => {
        res.json({})
      })
      await request(app).post('/x').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/x').set('Idempotency-Key', 'k').send({})
      expect(replay.headers['access-control-expose-headers']).toBe(replayed)
    })

    it.each([
      'Set-Cookie',
      'date',
      'Content-Length',
      'Transfer-Encoding',
      'Connection',
      'X-Request-Id',
      'Request-Id',
      'X-Correlation-Id',
      'X-Amzn-RequestId',
      'X-Amz-Request-Id',
      'X-Ms-Request-Id',
      'X-GitHub-Request-Id',
      'X-Trace-Id',
      'X-B3-TraceId',
      'X-B3-SpanId',
      'b3',
      'traceparent',
      'sentry-trace',
      'X-Cloud-Trace-Context',
      'CF-Ray',
      'Server-Timing',
      'X-RateLimit-Remaining',
      'RateLimit-Policy',
    ])('refuses replayHeaders containing %s at startup', (header) => {
      expect(() => idempotency({ replayHeaders: [header] })).toThrow(/never replayed/)
    })

    it.each([
      { leaseMs: Number.NaN },
      { ttlMs: 0 },
      { storeTimeoutMs: 2 ** 31 },
      { onConcurrent: { waitMs: -1 } },
      { onStoreError: 'fail-opne' },
    ])('refuses %j at startup, which would switch the guard off', (options) => {
      expect(() => idempotency(options as IdempotencyOptions)).toThrow(IdempotencyConfigError)
    })

    it.each(['X-Order-Id', 'X-Invoice', 'Vary', 'X-Tracer'])(
      'accepts replayHeaders containing %s',
      (header) => {
        expect(() => idempotency({ replayHeaders: [header] })).not.toThrow()
      },
    )
  })

  describe('when fingerprinting', () => {
    it('answers 422 for the same key with a different body, path or query', async () => {
      const app = makeApp()
      app.post('/other', (_req, res) => {
        res.json({})
      })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1 }).expect(201)
      for (const [path, body] of [
        ['/orders', { item: 2 }],
        ['/orders?x=1', { item: 1 }],
        ['/other', { item: 1 }],
      ] as const) {
        const res = await request(app).post(path).set('Idempotency-Key', 'k').send(body)
        expect(res.status).toBe(422)
        expect(res.headers['content-type']).toMatch(PROBLEM)
        expect(res.body.code).toBe('IDEMPOTENCY_KEY_REUSED')
      }
      expect(runs).toBe(1)
    })

    it('ignores the order of JSON keys', async () => {
      const app = makeApp()
      await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/json')
        .send('{"a":1,"b":{"c":2,"d":3}}')
      const replay = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/json')
        .send('{"b":{"d":3,"c":2},"a":1}')
      expect(replay.headers['idempotent-replayed']).toBe('true')
    })

    it('uses the raw bytes after express.raw()', async () => {
      const app = express()
      app.use(express.raw({ type: '*/*' }))
      app.use(idempotency())
      app.post('/raw', (req, res) => {
        runs++
        res.send(Buffer.concat([Buffer.from('got:'), req.body as Buffer]))
      })
      const first = await request(app)
        .post('/raw')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from([1, 2, 3]))
      const replay = await request(app)
        .post('/raw')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from([1, 2, 3]))
      expect(replay.body).toEqual(first.body)
      const other = await request(app)
        .post('/raw')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/octet-stream')
        .send(Buffer.from([1, 2, 4]))
      expect(other.status).toBe(422)
      expect(runs).toBe(1)
    })

    it('fails loudly when the body has not been parsed', async () => {
      const warn = vi.fn()
      const app = express()
      app.use(idempotency({ logger: { warn } }))
      app.post('/x', (_req, res) => {
        runs++
        res.json({})
      })
      app.use(
        (error: Error & { code?: string }, _req: Request, res: Response, _next: NextFunction) => {
          res.status(500).json({ code: error.code })
        },
      )
      const res = await request(app).post('/x').set('Idempotency-Key', 'k').send({ a: 1 })
      expect(res.status).toBe(500)
      expect(res.body.code).toBe('IDEMPOTENCY_CONFIG_INVALID')
      expect(warn).toHaveBeenCalledWith(expect.stringMatching(/express\.json\(\)/))
      expect(runs).toBe(0)
    })

    it('answers 415 for a body type no parser read, and stores nothing', async () => {
      const store = new SpyStore()
      const res = await request(makeApp({ store }))
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'text/plain')
        .send('plain text')
      expect(res.status).toBe(415)
      expect(res.headers['content-type']).toMatch(PROBLEM)
      expect(res.body.code).toBe('IDEMPOTENCY_BODY_UNSUPPORTED')
      expect(runs).toBe(0)
      expect(store.calls).toEqual([])
    })

    it('answers 415, not a mounting error, for a +json type express.json() was not set up for', async () => {
      const warn = vi.fn()
      const store = new SpyStore()
      const res = await request(makeApp({ store, logger: { warn } }))
        .patch('/orders')
        .set('Idempotency-Key', 'k')
        .set('Content-Type', 'application/merge-patch+json')
        .send('{"note":"gift"}')
      expect(res.status).toBe(415)
      expect(res.body.code).toBe('IDEMPOTENCY_BODY_UNSUPPORTED')
      expect(warn).not.toHaveBeenCalled()
      expect(store.calls).toEqual([])
    })

    it('fingerprints a JSON body nested thousands deep without overflowing', async () => {
      const app = express()
      app.use(express.json({ limit: '1mb' }))
      app.use(idempotency())
      app.post('/deep', (_req, res) => {
        runs++
        res.status(201).json({ ok: true })
      })
      const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`
      const send = () =>
        request(app)
          .post('/deep')
          .set('Idempotency-Key', 'deep')
          .set('Content-Type', 'application/json')
          .send(deep)
      await send().expect(201)
      const replay = await send().expect(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(1)
    })

    it('hashes the raw bytes with keepRawBody, as Koa does', async () => {
      const app = express()
      app.use(express.json({ verify: keepRawBody }))
      app.use(idempotency())
      app.post('/orders', (_req, res) => {
        runs++
        res.status(201).json({ run: runs })
      })
      const send = (body: string) =>
        request(app)
          .post('/orders')
          .set('Idempotency-Key', 'raw')
          .set('Content-Type', 'application/json')
          .send(body)
      await send('{"a":1,"b":2}').expect(201)
      await send('{"a":1,"b":2}').expect(201)
      // The same object with another key order is other bytes: another request.
      await send('{"b":2,"a":1}').expect(422)
      expect(runs).toBe(1)
    })

    it('uses a custom fingerprint', async () => {
      const app = makeApp({ fingerprint: (req) => String(req.body.item) })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1, noise: 1 })
      const replay = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({ item: 1, noise: 2 })
      expect(replay.headers['idempotent-replayed']).toBe('true')
    })
  })

  describe('when hashing the storage key', () => {
    it('never passes the raw key to the store or to events', async () => {
      const store = new SpyStore()
      const log = eventLog()
      const app = makeApp({ store, onEvent: log.onEvent })
      await request(app).post('/orders').set('Idempotency-Key', 'secret-client-key').send({})
      await request(app).post('/orders').set('Idempotency-Key', 'secret-client-key').send({})
      expect(store.keys.length).toBeGreaterThan(0)
      for (const key of store.keys) {
        expect(key).not.toContain('secret')
        expect(key).toMatch(/^[\w-]{43}$/)
      }
      for (const event of log.events) expect(event.keyHash).toBe(store.keys[0])
    })

    it('keeps scopes apart', async () => {
      const app = makeApp({ scope: (req) => req.get('authorization') ?? '' })
      await request(app)
        .post('/orders')
        .set('Authorization', 'alice')
        .set('Idempotency-Key', 'k')
        .send({})
        .expect(201)
      const bob = await request(app)
        .post('/orders')
        .set('Authorization', 'bob')
        .set('Idempotency-Key', 'k')
        .send({})
      expect(bob.headers['idempotent-replayed']).toBeUndefined()
      const alice = await request(app)
        .post('/orders')
        .set('Authorization', 'alice')
        .set('Idempotency-Key', 'k')
        .send({})
      expect(alice.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(2)
    })

    it('warns once when req.user exists and no scope is configured, unless scope is false', async () => {
      for (const scope of [undefined, false] as const) {
        const warn = vi.fn()
        const app = express()
        app.use(express.json())
        app.use((req, _res, next) => {
          ;(req as { user?: unknown }).user = { id: 'u1' }
          next()
        })
        app.use(idempotency({ logger: { warn }, ...(scope === false ? { scope } : {}) }))
        app.post('/x', (_req, res) => {
          res.json({})
        })
        await request(app).post('/x').set('Idempotency-Key', 'a').send({})
        await request(app).post('/x').set('Idempotency-Key', 'b').send({})
        expect(warn).toHaveBeenCalledTimes(scope === false ? 0 : 1)
      }
    })

    it('still warns when req.user first appears after a thousand anonymous requests', async () => {
      const warn = vi.fn()
      let signedIn = false
      const app = express()
      app.use((req, _res, next) => {
        if (signedIn) (req as { user?: unknown }).user = { id: 'u1' }
        next()
      })
      app.use(idempotency({ logger: { warn } }))
      app.post('/x', (_req, res) => {
        res.end()
      })
      const server = createServer(app).listen(0)
      try {
        const { port } = server.address() as { port: number }
        const agent = new Agent({ keepAlive: true, maxSockets: 8 })
        const post = (key: string) =>
          new Promise<void>((resolve, reject) => {
            const req = httpRequest({
              port,
              agent,
              method: 'POST',
              path: '/x',
              headers: { 'Idempotency-Key': key },
            })
            req.on('response', (res) => res.resume().on('end', resolve))
            req.on('error', reject)
            req.end()
          })
        for (let i = 0; i < 1_050; i += 8) {
          await Promise.all(Array.from({ length: 8 }, (_, j) => post(`anon-${i + j}`)))
        }
        expect(warn).not.toHaveBeenCalled()
        signedIn = true
        for (let i = 0; i < 70; i++) await post(`user-${i}`)
        expect(warn).toHaveBeenCalledTimes(1)
        agent.destroy()
      } finally {
        server.close()
      }
    })
  })

  describe('when the first request is still running', () => {
    function slowApp(options: IdempotencyOptions) {
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => {
        release = resolve
      })
      const app = express()
      app.use(express.json())
      app.use(idempotency(options))
      app.post('/slow', async (req, res) => {
        runs++
        await gate
        res.status(Number(req.query.status ?? 201)).json({ run: runs })
      })
      const server = createServer(app).listen(0)
      return { server, release }
    }

    async function started(
      server: Server,
      headers: Record<string, string>,
      body: object,
      path = '/slow',
    ) {
      const pending = request(server)
        .post(path)
        .set(headers)
        .send(body)
        .then((r) => r)
      await vi.waitUntil(() => runs > 0, { timeout: 5_000 })
      // Wrapped: an async function would otherwise wait for the (gated) response itself.
      return { response: pending }
    }

    it('answers 409 with Retry-After', async () => {
      const log = eventLog()
      const { server, release } = slowApp({ onEvent: log.onEvent })
      try {
        const { response: first } = await started(server, { 'Idempotency-Key': 'k' }, {})
        const second = await request(server).post('/slow').set('Idempotency-Key', 'k').send({})
        expect(second.status).toBe(409)
        expect(second.headers['retry-after']).toMatch(/^\d+$/)
        expect(second.headers['content-type']).toMatch(PROBLEM)
        expect(second.body.code).toBe('IDEMPOTENCY_KEY_IN_USE')
        expect(log.types()).toEqual(['claimed', 'conflict'])
        release()
        expect((await first).status).toBe(201)
        expect(runs).toBe(1)
      } finally {
        server.close()
      }
    })

    it('reports a fingerprint mismatch (422) before in-flight (409)', async () => {
      const { server, release } = slowApp({})
      try {
        const { response: first } = await started(server, { 'Idempotency-Key': 'k' }, { a: 1 })
        const second = await request(server)
          .post('/slow')
          .set('Idempotency-Key', 'k')
          .send({ a: 2 })
        expect(second.status).toBe(422)
        release()
        await first
      } finally {
        server.close()
      }
    })

    it('waits and replays with onConcurrent.waitMs', async () => {
      const { server, release } = slowApp({ onConcurrent: { waitMs: 5_000 } })
      try {
        const { response: first } = await started(server, { 'Idempotency-Key': 'k' }, {})
        const second = request(server)
          .post('/slow')
          .set('Idempotency-Key', 'k')
          .send({})
          .then((r) => r)
        await sleep(50)
        release()
        const [a, b] = await Promise.all([first, second])
        expect(b.status).toBe(201)
        expect(b.text).toBe(a.text)
        expect(b.headers['idempotent-replayed']).toBe('true')
        expect(runs).toBe(1)
      } finally {
        server.close()
      }
    })

    it('does not run for a waiting client that hung up before the key came free', async () => {
      const store = new SpyStore()
      const log = eventLog()
      const { server, release } = slowApp({
        store,
        onConcurrent: { waitMs: 5_000 },
        onEvent: log.onEvent,
      })
      try {
        const path = '/slow?status=503'
        const { response: first } = await started(server, { 'Idempotency-Key': 'k' }, {}, path)
        await abandonWhileWaiting(server, store, path)
        await sleep(50)
        release()
        expect((await first).status).toBe(503)
        await vi.waitUntil(() => log.count('released') === 2, { timeout: 3_000 })
        expect(runs).toBe(1)
      } finally {
        server.close()
      }
    })

    it('answers 409 when the wait runs out', async () => {
      const { server, release } = slowApp({ onConcurrent: { waitMs: 100 } })
      try {
        const { response: first } = await started(server, { 'Idempotency-Key': 'k' }, {})
        const second = await request(server).post('/slow').set('Idempotency-Key', 'k').send({})
        expect(second.status).toBe(409)
        release()
        await first
      } finally {
        server.close()
      }
    })

    it('runs the waiting request itself when the first one is released', async () => {
      const { server, release } = slowApp({ onConcurrent: { waitMs: 5_000 } })
      try {
        const { response: first } = await started(
          server,
          { 'Idempotency-Key': 'k' },
          {},
          '/slow?status=503',
        )
        const second = request(server)
          .post('/slow?status=503')
          .set('Idempotency-Key', 'k')
          .send({})
          .then((r) => r)
        await sleep(50)
        release()
        const [a, b] = await Promise.all([first, second])
        expect(a.status).toBe(503)
        expect(b.status).toBe(503)
        expect(b.headers['idempotent-replayed']).toBeUndefined()
        expect(runs).toBe(2)
      } finally {
        server.close()
      }
    })
  })

  describe('when deciding what is stored', () => {
    it.each([200, 201, 204, 302, 303, 400, 404, 409, 422])(
      'stores a %i and replays it',
      async (code) => {
        const app = makeApp()
        const first = await request(app)
          .post(`/status/${code}`)
          .set('Idempotency-Key', 'k')
          .send({})
        const replay = await request(app)
          .post(`/status/${code}`)
          .set('Idempotency-Key', 'k')
          .send({})
        expect(replay.status).toBe(code)
        expect(replay.text).toBe(first.text)
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(runs).toBe(1)
      },
    )

    it.each([500, 502, 503, 408, 429])('releases a %i so the retry runs again', async (code) => {
      const log = eventLog()
      const app = makeApp({ onEvent: log.onEvent })
      await request(app).post(`/status/${code}`).set('Idempotency-Key', 'k').send({}).expect(code)
      const retry = await request(app).post(`/status/${code}`).set('Idempotency-Key', 'k').send({})
      expect(retry.headers['idempotent-replayed']).toBeUndefined()
      expect(runs).toBe(2)
      expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
      expect(log.events[1]?.status).toBe(code)
    })

    it('stores a Post/Redirect/Get 303: the order exists, a retry is sent where it is', async () => {
      const app = makeApp()
      app.post('/checkout', (_req, res) => {
        runs++
        res.redirect(303, `/orders/${runs}`)
      })
      const first = await request(app).post('/checkout').set('Idempotency-Key', 'k').send({})
      const retry = await request(app).post('/checkout').set('Idempotency-Key', 'k').send({})
      expect(first.status).toBe(303)
      expect(retry.status).toBe(303)
      expect(retry.headers.location).toBe('/orders/1')
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(1)
    })

    it('releases when the handler throws', async () => {
      const app = makeApp()
      await request(app).post('/throws').set('Idempotency-Key', 'k').send({}).expect(500)
      await request(app).post('/throws').set('Idempotency-Key', 'k').send({}).expect(500)
      expect(runs).toBe(2)
    })

    describe('when the handler passes on an error that carries a 4xx status', () => {
      // http-errors style, as validators and body parsers throw them.
      const notFound = () =>
        Object.assign(new Error('lookup failed'), { status: 404, expose: true })

      function erroringApp(errorHandler: boolean, options: IdempotencyOptions = {}) {
        const app = express()
        app.use(express.json())
        app.use(idempotency(options))
        app.post('/sync', () => {
          runs++
          throw notFound()
        })
        app.post('/next', (_req, _res, next) => {
          runs++
          setTimeout(() => next(notFound()), 5)
        })
        app.use(
          '/router',
          express.Router().post('/', () => {
            runs++
            throw notFound()
          }),
        )
        app.post('/skips', (_req, _res, next) => next('route'))
        app.post('/skips', (_req, res) => {
          runs++
          res.status(404).json({ error: 'not found' })
        })
        if (errorHandler) {
          app.use(
            (error: { status: number }, _req: Request, res: Response, _next: NextFunction) => {
              res.status(error.status).json({ error: 'not found' })
            },
          )
        }
        return app
      }

      it.each([
        ['thrown', '/sync', false],
        ['thrown', '/sync', true],
        ['given to next() later', '/next', true],
        ['thrown in a mounted router', '/router', true],
      ])('releases an error %s at %s (error handler: %s)', async (_how, path, handler) => {
        const log = eventLog()
        const app = erroringApp(handler, { onEvent: log.onEvent })
        await request(app).post(path).set('Idempotency-Key', 'k').send({}).expect(404)
        const retry = await request(app).post(path).set('Idempotency-Key', 'k').send({})
        expect(retry.status).toBe(404)
        expect(retry.headers['idempotent-replayed']).toBeUndefined()
        expect(runs).toBe(2)
        expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
      })

      it.each([
        ['per route, behind compression()', true],
        ['per route', false],
      ])('releases it with the guard mounted %s', async (_how, compressed) => {
        const app = express()
        app.use(express.json())
        if (compressed) app.use(compression({ threshold: 0 }))
        app.post('/x', idempotency(), () => {
          runs++
          throw notFound()
        })
        await request(app).post('/x').set('Idempotency-Key', 'k').send({}).expect(404)
        await request(app).post('/x').set('Idempotency-Key', 'k').send({}).expect(404)
        expect(runs).toBe(2)
      })

      it('releases it for both of two guards on one response', async () => {
        const app = express()
        app.use(express.json())
        app.use(idempotency())
        app.post('/x', idempotency({ headerName: 'X-Order-Key' }), () => {
          runs++
          throw notFound()
        })
        for (let i = 0; i < 2; i++) {
          await request(app)
            .post('/x')
            .set('Idempotency-Key', 'a')
            .set('X-Order-Key', 'b')
            .send({})
            .expect(404)
        }
        await request(app).post('/x').set('X-Order-Key', 'b').send({}).expect(404)
        expect(runs).toBe(3)
      })

      it.skipIf(_name !== 'express 5')('releases a rejected async handler', async () => {
        const app = express()
        app.use(express.json())
        app.use(idempotency())
        app.post('/x', async () => {
          runs++
          await sleep(1)
          throw notFound()
        })
        await request(app).post('/x').set('Idempotency-Key', 'k').send({}).expect(404)
        await request(app).post('/x').set('Idempotency-Key', 'k').send({}).expect(404)
        expect(runs).toBe(2)
      })

      it("releases Express's own 404 (no route matched): the route may exist after a deploy", async () => {
        const app = erroringApp(false)
        await request(app).post('/later').set('Idempotency-Key', 'k').send({}).expect(404)
        app.post('/later', (_req, res) => {
          runs++
          res.status(201).json({ created: true })
        })
        const retry = await request(app).post('/later').set('Idempotency-Key', 'k').send({})
        expect(retry.status).toBe(201)
        expect(retry.headers['idempotent-replayed']).toBeUndefined()
        expect(runs).toBe(1)
      })

      it("still stores a 404 a handler answers itself, after next('route')", async () => {
        const app = erroringApp(true)
        await request(app).post('/skips').set('Idempotency-Key', 'k').send({}).expect(404)
        const replay = await request(app).post('/skips').set('Idempotency-Key', 'k').send({})
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(runs).toBe(1)
      })
    })

    it('follows a custom storeResponse', async () => {
      const app = makeApp({ storeResponse: (status) => status === 201 })
      await request(app).post('/status/400').set('Idempotency-Key', 'a').send({})
      await request(app).post('/status/400').set('Idempotency-Key', 'a').send({})
      expect(runs).toBe(2)
    })

    it('stores nothing for a request rejected before the handler ran', async () => {
      const store = new SpyStore()
      const app = makeApp({ store })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1 })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 2 }).expect(422)
      await request(app).post('/orders').set('Idempotency-Key', '""').send({}).expect(400)
      expect(store.calls).toEqual(['claim', 'complete', 'claim'])
    })

    it('releases when the client aborts before the handler finished', async () => {
      const log = eventLog()
      const app = express()
      app.use(express.json())
      app.use(idempotency({ onEvent: log.onEvent }))
      app.post('/slow', async (_req, res) => {
        runs++
        await sleep(150)
        res.json({ run: runs })
      })
      const server = createServer(app).listen(0)
      try {
        const { port } = server.address() as { port: number }
        await abandonPost(port, '/slow', () => runs === 1)
        await vi.waitUntil(() => log.types().includes('released'), { timeout: 5_000 })
        const retry = await request(server).post('/slow').set('Idempotency-Key', 'k').send({})
        expect(retry.status).toBe(200)
        expect(retry.headers['idempotent-replayed']).toBeUndefined()
        expect(runs).toBe(2)
      } finally {
        server.close()
      }
    })
  })

  describe('when storing before the response goes out', () => {
    it('lets a retry sent right after the response replay it, even with a slow store', async () => {
      const store = new SpyStore()
      store.delay.complete = 200
      const app = makeApp({ store })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      const retry = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(retry.status).toBe(201)
      expect(retry.headers['idempotent-replayed']).toBe('true')
    })

    // With a Content-Length the client has the whole response once the body's last byte went
    // out, before end(): the write that carries it waits for the store.
    function lengthApp(store: SpyStore | MemoryStore) {
      const file = join(mkdtempSync(join(tmpdir(), 'idem-')), 'body.txt')
      writeFileSync(file, 'from a file')
      const app = express()
      app.use(express.json())
      app.use(idempotency({ store }))
      app.post('/file', (_req, res) => {
        runs++
        res.sendFile(file)
      })
      app.post('/length', (_req, res) => {
        runs++
        res.setHeader('Content-Type', 'text/plain')
        res.setHeader('Content-Length', 5)
        res.write('hel')
        res.write('lo')
        setTimeout(() => res.end(), 300)
      })
      return app
    }

    it.each([
      ['/file', 'a slow store', 'from a file'],
      ['/length', 'a slow store', 'hello'],
      ['/length', 'MemoryStore', 'hello'],
    ])(
      'replays %s (body complete before end()) to a retry sent right after it, with %s',
      async (path, kind, body) => {
        const store = kind === 'MemoryStore' ? new MemoryStore() : new SpyStore()
        if (store instanceof SpyStore) store.delay.complete = 200
        const server = createServer(lengthApp(store)).listen(0)
        try {
          const first = await request(server).post(path).set('Idempotency-Key', 'k').send({})
          expect(first.text).toBe(body)
          const retry = await request(server).post(path).set('Idempotency-Key', 'k').send({})
          expect(retry.status).toBe(200)
          expect(retry.headers['idempotent-replayed']).toBe('true')
          expect(retry.text).toBe(body)
          expect(runs).toBe(1)
        } finally {
          server.closeAllConnections()
          server.close()
        }
      },
    )
  })

  describe('when the body does not match its Content-Length (an app bug)', () => {
    it.each([
      ['shorter', 10],
      ['longer', 3],
    ])(
      'releases a body %s than declared instead of storing it as the answer',
      async (_how, length) => {
        const log = eventLog()
        const app = express()
        app.use(express.json())
        app.use(idempotency({ onEvent: log.onEvent }))
        app.post('/x', (_req, res) => {
          runs++
          res.writeHead(200, { 'Content-Length': length })
          res.end('hello!')
        })
        const server = createServer(app).listen(0)
        try {
          for (let i = 0; i < 2; i++) {
            await request(server)
              .post('/x')
              .set('Idempotency-Key', 'k')
              .send({})
              .catch(() => undefined)
          }
          expect(runs).toBe(2)
          expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
        } finally {
          server.closeAllConnections()
          server.close()
        }
      },
    )
  })

  describe('when the app tears the response down before its end', () => {
    function tornApp(log: ReturnType<typeof eventLog>) {
      const app = express()
      app.use(express.json())
      // The default lease (60 s): a key left to lapse would answer the retry 409.
      app.use(idempotency({ onEvent: log.onEvent }))
      app.post('/destroy', (_req, res) => {
        runs++
        const body = new PassThrough()
        body.pipe(res)
        body.write('part of it')
        setTimeout(() => res.destroy(), 5)
      })
      app.post('/pipeline', (_req, res) => {
        runs++
        const body = new PassThrough()
        pipeline(body, res, () => {})
        body.write('part of it')
        setTimeout(() => body.destroy(new Error('disk gone')), 5)
      })
      app.post('/next', (_req, res, next) => {
        runs++
        res.write('part of it')
        setTimeout(() => next(new Error('failed mid-body')), 5)
      })
      return app
    }

    it.each(['/destroy', '/pipeline', '/next'])(
      'releases the key at once (%s), so the retry runs instead of getting 409',
      async (path) => {
        const log = eventLog()
        const server = createServer(tornApp(log)).listen(0)
        try {
          expect(await postTorn(server, path)).toBe('torn')
          await vi.waitUntil(() => log.types().includes('released'), { timeout: 1_000 })
          expect(await postTorn(server, path)).toBe('torn')
          expect(runs).toBe(2)
          expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
        } finally {
          server.closeAllConnections()
          server.close()
        }
      },
    )
  })

  describe('when the last byte waits for a slow store', () => {
    function heldApp(seen: Record<string, unknown>) {
      const store = new SpyStore()
      store.delay.complete = 100
      const app = express()
      app.use(express.json())
      // A retry sent at once may find the record still on its way to the store: it waits.
      app.use(idempotency({ store, onConcurrent: { waitMs: 2_000 } }))
      app.post('/late-error', (_req, res, next) => {
        runs++
        res.status(201).json({ id: 42 })
        next(new Error('audit log failed after answering'))
      })
      app.post('/late-header', (_req, res) => {
        runs++
        res.status(201).json({ id: 42 })
        seen.headersSent = res.headersSent
        try {
          res.setHeader('X-Late', '1')
        } catch (error) {
          seen.lateHeader = (error as { code?: string }).code
        }
      })
      app.use((error: Error, _req: Request, res: Response, next: NextFunction) => {
        if (res.headersSent) return next(error)
        res.status(500).json({ error: 'internal' })
      })
      return app
    }

    it('reads as answered, so a late header change fails as it would without the guard', async () => {
      const seen: Record<string, unknown> = {}
      const app = heldApp(seen)
      const first = await request(app).post('/late-header').set('Idempotency-Key', 'k').send({})
      expect(first.status).toBe(201)
      expect(first.headers['x-late']).toBeUndefined()
      expect(seen).toEqual({ headersSent: true, lateHeader: 'ERR_HTTP_HEADERS_SENT' })
    })

    it('sends the answer when the handler then passes on an error; the retry replays it', async () => {
      const app = heldApp({})
      const first = await request(app).post('/late-error').set('Idempotency-Key', 'k').send({})
      expect(first.status).toBe(201)
      expect(first.body).toEqual({ id: 42 })
      const retry = await request(app).post('/late-error').set('Idempotency-Key', 'k').send({})
      expect(retry.status).toBe(201)
      expect(retry.body).toEqual({ id: 42 })
      expect(retry.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(1)
    })
  })

  describe('when the lease is held', () => {
    it('renews it while a long handler runs, so no one takes over', async () => {
      const store = new SpyStore()
      const app = express()
      app.use(express.json())
      app.use(idempotency({ store, leaseMs: 300 }))
      app.post('/long', async (_req, res) => {
        runs++
        await sleep(1_200)
        res.json({ run: runs })
      })
      const server = createServer(app).listen(0)
      try {
        const first = request(server)
          .post('/long')
          .set('Idempotency-Key', 'k')
          .send({})
          .then((r) => r)
        await sleep(700)
        const second = await request(server).post('/long').set('Idempotency-Key', 'k').send({})
        expect(second.status).toBe(409)
        expect((await first).status).toBe(200)
        expect(store.calls.filter((c) => c === 'renew').length).toBeGreaterThanOrEqual(3)
        expect(runs).toBe(1)
      } finally {
        server.close()
      }
    })

    it('stops renewing after maxLeaseHoldMs; the late owner is refused by its token', async () => {
      const log = eventLog()
      const app = express()
      app.use(express.json())
      app.use(idempotency({ leaseMs: 60, maxLeaseHoldMs: 60, onEvent: log.onEvent }))
      app.post('/stuck', async (req, res) => {
        runs++
        if (req.get('x-sleep')) await sleep(400)
        res.json({ run: runs })
      })
      const server = createServer(app).listen(0)
      try {
        const zombie = request(server)
          .post('/stuck')
          .set('X-Sleep', '1')
          .set('Idempotency-Key', 'k')
          .send({})
          .then((r) => r)
        await sleep(250)
        // The zombie's lease expired; this request takes the key over and completes first.
        await request(server).post('/stuck').set('Idempotency-Key', 'k').send({}).expect(200)
        expect((await zombie).status).toBe(200)
        expect(log.types()).toContain('lease-lost')
        const replay = await request(server).post('/stuck').set('Idempotency-Key', 'k').send({})
        expect(replay.body).toEqual({ run: 2 })
      } finally {
        server.close()
      }
    })
  })

  describe('when the store fails', () => {
    it('answers 503 without running the handler when a call times out (fail-closed)', async () => {
      const store = new SpyStore()
      store.fail.claim = 'hang'
      const log = eventLog()
      const res = await request(makeApp({ store, storeTimeoutMs: 50, onEvent: log.onEvent }))
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({})
      expect(res.status).toBe(503)
      expect(res.headers['content-type']).toMatch(PROBLEM)
      expect(res.body.code).toBe('IDEMPOTENCY_STORE_UNAVAILABLE')
      expect(runs).toBe(0)
      expect(log.types()).toEqual(['store-error'])
    })

    it('answers 503 when the store throws', async () => {
      const store = new SpyStore()
      store.fail.claim = new Error('ECONNREFUSED')
      const res = await request(makeApp({ store }))
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({})
      expect(res.status).toBe(503)
    })

    it.each([
      ['fail-closed', 503, 0],
      ['fail-open', 201, 1],
    ] as const)(
      'applies %s to a store whose claim() throws instead of rejecting',
      async (mode, status, ran) => {
        const store = new SpyStore()
        store.throwNow.claim = new Error('not a promise')
        const log = eventLog()
        const app = makeApp({ store, onStoreError: mode, onEvent: log.onEvent })
        const res = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
        expect(res.status).toBe(status)
        expect(runs).toBe(ran)
        expect(log.types()).toEqual(['store-error'])
      },
    )

    it('runs the handler unguarded and emits an event with fail-open', async () => {
      const store = new SpyStore()
      store.fail.claim = 'hang'
      const log = eventLog()
      const app = makeApp({
        store,
        storeTimeoutMs: 50,
        onStoreError: 'fail-open',
        onEvent: log.onEvent,
      })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      expect(runs).toBe(1)
      expect(log.types()).toEqual(['store-error'])
    })

    it('releases a claim that lands after it timed out, so the retry is not locked out', async () => {
      // Regression: a Redis client queues the claim while reconnecting and runs it later.
      const store = new SpyStore()
      store.delay.claim = 150
      const app = makeApp({ store, storeTimeoutMs: 50 })
      await request(app).post('/orders').set('Idempotency-Key', 'late').send({}).expect(503)
      await vi.waitUntil(() => store.calls.includes('release'), { timeout: 2_000 })
      store.delay.claim = 0
      await request(app).post('/orders').set('Idempotency-Key', 'late').send({}).expect(201)
      expect(runs).toBe(1)
    })

    it('still sends the response when complete() times out', async () => {
      const store = new SpyStore()
      store.fail.complete = 'hang'
      const log = eventLog()
      const res = await request(makeApp({ store, storeTimeoutMs: 50, onEvent: log.onEvent }))
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({})
      expect(res.status).toBe(201)
      expect(log.types()).toEqual(['claimed', 'store-error'])
    })
  })

  describe('when the response body is larger than maxStoredBodyBytes', () => {
    it('sends it in full, never runs twice, and replays status and headers without a body', async () => {
      const app = makeApp({ maxStoredBodyBytes: 16 })
      const first = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({ item: 'x'.repeat(100) })
      expect(first.body.item).toBe('x'.repeat(100))
      const replay = await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'k')
        .send({ item: 'x'.repeat(100) })
      expect(replay.status).toBe(201)
      expect(replay.headers.location).toBe('/orders/1')
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['idempotent-body-omitted']).toBe('true')
      expect(replay.headers['access-control-expose-headers']).toBe(
        'Idempotent-Replayed, Idempotent-Body-Omitted',
      )
      expect(replay.headers['content-type']).toBeUndefined()
      expect(replay.headers['content-length']).toBe('0')
      expect(runs).toBe(1)
    })
  })

  describe('when answering with the stripe preset', () => {
    it('uses Stripe error shapes', async () => {
      const app = makeApp({ errorFormat: 'stripe' })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1 })
      const res = await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 2 })
      expect(res.status).toBe(400)
      expect(res.headers['content-type']).toMatch(/^application\/json/)
      expect(res.headers['cache-control']).toBe('no-store')
      expect(res.body).toEqual({
        error: {
          type: 'idempotency_error',
          code: 'idempotency_key_reused',
          message: expect.any(String),
        },
      })
    })
  })

  describe('when mounted per route or with other ways of answering', () => {
    const dir = mkdtempSync(join(tmpdir(), 'idem-'))
    const file = join(dir, 'receipt.txt')
    writeFileSync(file, 'receipt body\n')

    function routeApp() {
      const app = express()
      const guard = idempotency()
      app.post('/send', express.json(), guard, (_req, res) => {
        runs++
        res.status(202).type('text/plain').send(`sent ${runs}`)
      })
      app.post('/stream', express.json(), guard, (_req, res) => {
        runs++
        res.status(201).type('text/plain')
        res.write(`chunk-a-${runs}\n`)
        setTimeout(() => {
          res.write(Buffer.from(`chunk-b-${runs}\n`))
          res.end(`end-${runs}`)
        }, 10)
      })
      app.post('/file', express.json(), guard, (_req, res) => {
        runs++
        res.sendFile(file)
      })
      app.post('/head', express.json(), guard, (_req, res) => {
        runs++
        res.writeHead(201, { 'Content-Type': 'text/x-raw', Location: '/raw' })
        res.end(`raw ${runs}`)
      })
      app.post('/unguarded', express.json(), (_req, res) => {
        runs++
        res.json({})
      })
      return app
    }

    it.each(['/send', '/stream', '/file', '/head'])(
      'captures and replays %s byte for byte',
      async (path) => {
        const app = routeApp()
        const first = await request(app).post(path).set('Idempotency-Key', 'k').send({})
        const replay = await request(app).post(path).set('Idempotency-Key', 'k').send({})
        expect(replay.status).toBe(first.status)
        expect(replay.text).toBe(first.text)
        expect(replay.text.length).toBeGreaterThan(0)
        expect(replay.headers['content-type']).toBe(first.headers['content-type'])
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(runs).toBe(1)
      },
    )

    it('keeps writeHead() headers on replay', async () => {
      const app = routeApp()
      await request(app).post('/head').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/head').set('Idempotency-Key', 'k').send({})
      expect(replay.headers.location).toBe('/raw')
    })

    it('leaves routes without the middleware alone', async () => {
      const app = routeApp()
      await request(app).post('/unguarded').set('Idempotency-Key', 'k').send({})
      await request(app).post('/unguarded').set('Idempotency-Key', 'k').send({})
      expect(runs).toBe(2)
    })
  })

  describe('when other middleware or apps share the response', () => {
    /** Wraps res.write/end on the response itself, upper-casing the body (like compression). */
    function shout(_req: Request, res: Response, next: NextFunction) {
      const { write, end } = res
      const loud = (chunk: unknown) =>
        typeof chunk === 'string' || Buffer.isBuffer(chunk) ? chunk.toString().toUpperCase() : chunk
      res.write = ((chunk: unknown, ...rest: unknown[]) =>
        (write as (...a: unknown[]) => boolean).call(res, loud(chunk), ...rest)) as typeof res.write
      res.end = ((chunk: unknown, ...rest: unknown[]) => {
        // As express-session does: the real end() comes later, after an async save.
        setImmediate(() => (end as (...a: unknown[]) => Response).call(res, loud(chunk), ...rest))
        return res
      }) as typeof res.end
      next()
    }

    it('records what the handler wrote under a wrapper mounted before it, and replays through it', async () => {
      const app = express()
      app.use(express.json())
      app.use(shout)
      app.use(idempotency())
      app.post('/orders', (_req, res) => {
        runs++
        res.status(201).type('text/plain').send(`order ${runs}`)
      })
      const first = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(first.text).toBe('ORDER 1')
      expect(replay.status).toBe(201)
      expect(replay.text).toBe('ORDER 1')
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(runs).toBe(1)
    })

    it('still calls a ServerResponse.prototype.end patched after the guard started (an APM agent)', async () => {
      const app = makeApp()
      await request(app).post('/orders').set('Idempotency-Key', 'a').send({ item: 1 })
      const nodeEnd = ServerResponse.prototype.end
      let seen = 0
      ServerResponse.prototype.end = function (this: ServerResponse, ...args: unknown[]) {
        seen++
        return (nodeEnd as (...a: unknown[]) => ServerResponse).apply(this, args)
      } as typeof nodeEnd
      try {
        await request(app).post('/orders').set('Idempotency-Key', 'b').send({ item: 1 })
        await request(app).get('/orders')
        const replay = await request(app)
          .post('/orders')
          .set('Idempotency-Key', 'b')
          .send({ item: 1 })
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(seen).toBe(3)
      } finally {
        ServerResponse.prototype.end = nodeEnd
      }
    })

    it.each(['before', 'after'])('replays with compression mounted %s the guard', async (order) => {
      const app = express()
      app.use(express.json())
      const guard = idempotency()
      const gzip = compression({ threshold: 0 })
      if (order === 'before') app.use(gzip, guard)
      else app.use(guard, gzip)
      app.post('/orders', (_req, res) => {
        runs++
        res.status(201).json({ run: runs, padding: 'x'.repeat(200) })
      })
      const first = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      const replay = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(first.headers['content-encoding']).toBe('gzip')
      expect(replay.status).toBe(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.body).toEqual(first.body)
      expect(runs).toBe(1)
    })

    /**
     * compression() inside the guard, so the guard records the encoded bytes; POST /orders answers
     * 201 with the run count and `extra` (padding by default, so that there is something to encode).
     */
    function compressedApp(
      options: IdempotencyOptions = {},
      extra: object = { padding: 'x'.repeat(200) },
    ) {
      const app = express()
      app.use(express.json())
      app.use(idempotency(options), compression({ threshold: 0 }))
      app.post('/orders', (_req, res) => {
        runs++
        res.status(201).json({ run: runs, ...extra })
      })
      return app
    }

    /** POST /orders with key `key`, accepting `acceptEncoding` (undefined: no such header). */
    function postAccepting(app: ReturnType<typeof express>, acceptEncoding?: string, key = 'k') {
      const req = request(app).post('/orders').set('Idempotency-Key', key)
      return (
        acceptEncoding === undefined
          ? req.unset('Accept-Encoding')
          : req.set('Accept-Encoding', acceptEncoding)
      ).send({})
    }

    it('decodes a compressed replay for a retry that does not accept its coding', async () => {
      const app = compressedApp()
      const post = (acceptEncoding: string | undefined) => postAccepting(app, acceptEncoding)
      const first = await post('br')
      expect(first.headers['content-encoding']).toBe('br')
      const same = await post('gzip;q=0.5, br')
      expect(same.headers['content-encoding']).toBe('br')
      expect(same.headers.vary).toBe('Accept-Encoding')
      for (const acceptEncoding of ['gzip', 'identity', 'br;q=0', undefined]) {
        const replay = await post(acceptEncoding)
        expect(replay.status).toBe(201)
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(replay.headers['content-encoding']).toBeUndefined()
        // Shared caches must not hand one client's coding to another.
        expect(replay.headers.vary).toBe('Accept-Encoding')
        expect(replay.body).toEqual(first.body)
      }
      expect(runs).toBe(1)
    })

    it('records the encoded bytes with their coding when wrappers sit both below and above it', async () => {
      const app = express()
      app.use(express.json())
      // A pass-through wrapper before the guard (as express-session puts on), compression after.
      app.use((_req: Request, res: Response, next: NextFunction) => {
        const wrapped = res as unknown as { end: (...args: unknown[]) => unknown }
        const end = wrapped.end
        wrapped.end = (...args: unknown[]) => end.apply(res, args)
        next()
      })
      app.use(idempotency(), compression({ threshold: 0 }))
      app.post('/orders', (_req, res) => {
        runs++
        res.status(201).json({ run: runs, padding: 'x'.repeat(200) })
      })
      const post = (acceptEncoding: string) => postAccepting(app, acceptEncoding)
      const first = await post('gzip')
      expect(first.headers['content-encoding']).toBe('gzip')
      for (const [acceptEncoding, coding] of [
        ['gzip', 'gzip'],
        ['identity', undefined],
      ] as const) {
        const replay = await post(acceptEncoding)
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(replay.headers['content-encoding']).toBe(coding)
        expect(replay.body).toEqual(first.body)
      }
      expect(runs).toBe(1)
    })

    it('decodes a large compressed replay, and omits one that decodes past maxStoredBodyBytes', async () => {
      const items = Array.from({ length: 2_000 }, (_, i) => ({ id: i, note: 'x'.repeat(300) }))
      for (const [key, maxStoredBodyBytes, omitted] of [
        ['fits', 1024 * 1024, false],
        ['too-big', 64 * 1024, true],
      ] as const) {
        const app = compressedApp({ maxStoredBodyBytes }, { items })
        const post = (acceptEncoding: string) => postAccepting(app, acceptEncoding, key)
        const first = await post('gzip')
        // About 640 KB of JSON, stored as 8.5 KB of gzip either way.
        expect(first.headers['content-encoding']).toBe('gzip')
        expect((await post('gzip')).body).toEqual(first.body)
        const decoded = await post('identity')
        expect(decoded.headers['content-encoding']).toBeUndefined()
        if (omitted) {
          expect(decoded.status).toBe(201)
          expect(decoded.headers['idempotent-body-omitted']).toBe('true')
          expect(decoded.headers['content-length']).toBe('0')
        } else {
          expect(decoded.headers['idempotent-body-omitted']).toBeUndefined()
          expect(decoded.body).toEqual(first.body)
        }
      }
      expect(runs).toBe(2)
    })

    it('replays an omitted compressed body without its coding', async () => {
      const app = compressedApp({ maxStoredBodyBytes: 16 })
      const first = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(first.headers['content-encoding']).toBe('gzip')
      const replay = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(replay.status).toBe(201)
      expect(replay.headers['idempotent-body-omitted']).toBe('true')
      expect(replay.headers['content-encoding']).toBeUndefined()
      expect(replay.headers['content-length']).toBe('0')
      expect(runs).toBe(1)
    })

    it('answers 500, without running the handler, when a stored encoded body does not decode', async () => {
      const store = new MemoryStore()
      const { complete } = store.sync
      Object.assign(store.sync, {
        complete: ((key, token, response, ttlMs) =>
          complete(
            key,
            token,
            { ...response, body: Buffer.from('not gzip') },
            ttlMs,
          )) satisfies typeof complete,
      })
      const app = compressedApp({ store })
      await postAccepting(app, 'gzip').expect(201)
      const replay = await postAccepting(app, 'identity')
      expect(replay.status).toBe(500)
      expect(replay.headers['content-type']).toMatch(PROBLEM)
      expect(replay.body.code).toBe('IDEMPOTENCY_RECORD_UNREADABLE')
      expect(runs).toBe(1)
    })

    it('lets two differently configured guards on one response both record it', async () => {
      const app = express()
      app.use(express.json())
      app.use(idempotency())
      app.post('/orders', idempotency({ headerName: 'X-Order-Key' }), (_req, res) => {
        runs++
        res.status(201).json({ run: runs })
      })
      await request(app)
        .post('/orders')
        .set('Idempotency-Key', 'a')
        .set('X-Order-Key', 'b')
        .send({})
        .expect(201)
      const inner = await request(app).post('/orders').set('X-Order-Key', 'b').send({})
      const outer = await request(app).post('/orders').set('Idempotency-Key', 'a').send({})
      for (const replay of [inner, outer]) {
        expect(replay.status).toBe(201)
        expect(replay.body).toEqual({ run: 1 })
        expect(replay.headers['idempotent-replayed']).toBe('true')
      }
      expect(runs).toBe(1)
    })

    it('records in a mounted sub-app and leaves the other responses of both apps alone', async () => {
      const api = express()
      api.use(express.json())
      api.use(idempotency())
      api.post('/orders', (_req, res) => {
        runs++
        res.status(201).json({ run: runs })
      })
      const app = express()
      app.use('/api', api)
      app.post('/plain', express.json(), (_req, res) => {
        runs++
        res.json({ run: runs })
      })
      app.get('/stream', (_req, res) => {
        res.write('a')
        res.end('b')
      })
      await request(app).post('/api/orders').set('Idempotency-Key', 'k').send({}).expect(201)
      const replay = await request(app).post('/api/orders').set('Idempotency-Key', 'k').send({})
      expect(replay.body).toEqual({ run: 1 })
      expect(replay.headers['idempotent-replayed']).toBe('true')
      const plain = await request(app).post('/plain').set('Idempotency-Key', 'k').send({})
      expect(plain.body).toEqual({ run: 2 })
      expect(plain.headers['idempotent-replayed']).toBeUndefined()
      expect((await request(app).get('/stream')).text).toBe('ab')
    })

    it('lets the lease lapse when the client left and the handler never answers', async () => {
      const app = express()
      app.use(express.json())
      app.use(idempotency({ leaseMs: 150 }))
      app.post('/hangs', (req, res) => {
        runs++
        if (req.get('x-answer')) res.json({ run: runs })
      })
      const server = createServer(app).listen(0)
      try {
        const { port } = server.address() as { port: number }
        await abandonPost(port, '/hangs', () => runs === 1)
        // Renewed for as long as the client stays, the lease would answer 409 for 10 minutes.
        await vi.waitUntil(
          async () => {
            const retry = await request(server)
              .post('/hangs')
              .set('X-Answer', '1')
              .set('Idempotency-Key', 'k')
              .send({})
            return retry.status === 200
          },
          { timeout: 5_000, interval: 50 },
        )
        expect(runs).toBe(2)
      } finally {
        server.closeAllConnections()
        server.close()
      }
    })
  })

  describe('when emitting events', () => {
    it('reports claimed, replayed and mismatch with the key hash', async () => {
      const log = eventLog()
      const app = makeApp({ onEvent: log.onEvent })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1 })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 1 })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({ item: 2 })
      expect(log.types()).toEqual(['claimed', 'replayed', 'mismatch'])
      expect(log.events[1]?.status).toBe(201)
    })

    it('ignores a throwing listener', async () => {
      const app = makeApp({
        onEvent: () => {
          throw new Error('metrics down')
        },
      })
      await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
    })
  })
})
