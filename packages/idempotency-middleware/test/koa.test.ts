import { createReadStream } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough, Readable } from 'node:stream'
import Router from '@koa/router'
import type { Context, Next } from 'koa'
import Koa3 from 'koa'
import compress from 'koa-compress'
import Koa2 from 'koa2'
import request from 'supertest'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { type KoaIdempotencyOptions, koaIdempotency } from '../src/koa.js'
import { abandonPost, abandonWhileWaiting, eventLog, postTorn, SpyStore, sleep } from './support.js'

const frameworks: [string, typeof Koa3][] = [
  ['koa 3', Koa3],
  ['koa 2', Koa2 as unknown as typeof Koa3],
]

/** A minimal body parser with @koa/bodyparser's fields: `rawBody` and `body`. */
async function bodyParser(ctx: Context, next: Next) {
  const chunks: Buffer[] = []
  for await (const chunk of ctx.req) chunks.push(chunk as Buffer)
  if (chunks.length > 0) {
    const raw = Buffer.concat(chunks).toString()
    const req = ctx.request as { rawBody?: string; body?: unknown }
    req.rawBody = raw
    req.body = ctx.is('json') ? JSON.parse(raw) : raw
  }
  await next()
}

describe.each(frameworks)('koaIdempotency() with %s', (_name, Koa) => {
  let runs = 0
  afterEach(() => {
    runs = 0
  })

  function makeApp(options: KoaIdempotencyOptions = {}, parse = true) {
    const app = new Koa()
    if (parse) app.use(bodyParser)
    app.use(koaIdempotency(options))
    app.use(async (ctx) => {
      runs++
      switch (ctx.path) {
        case '/string':
          ctx.status = 201
          ctx.set('Location', `/things/${runs}`)
          ctx.set('Set-Cookie', `s=${runs}`)
          ctx.body = `created ${runs}`
          return
        case '/buffer':
          ctx.type = 'application/octet-stream'
          ctx.body = Buffer.from([0, 255, runs])
          return
        case '/object':
          ctx.status = 202
          ctx.body = { run: runs, got: (ctx.request as { body?: unknown }).body }
          return
        case '/stream':
          ctx.type = 'text/plain'
          ctx.body = Readable.from([`a-${runs}\n`, `b-${runs}\n`, 'x'.repeat(50)])
          return
        case '/status':
          ctx.status = Number(ctx.query.code)
          ctx.body = { run: runs }
          return
        case '/throws':
          throw new Error('boom')
        case '/slow':
          await sleep(Number(ctx.query.ms ?? 200))
          ctx.status = Number(ctx.query.code ?? 200)
          ctx.body = { run: runs }
          return
        default:
          ctx.status = 404
      }
    })
    app.silent = true
    return app
  }

  it.each(['/string', '/buffer', '/object', '/stream'])(
    'captures a %s body and replays it byte for byte',
    async (path) => {
      const app = makeApp()
      const first = await request(app.callback())
        .post(path)
        .set('Idempotency-Key', 'k')
        .send({ a: 1 })
        .responseType('blob')
      const replay = await request(app.callback())
        .post(path)
        .set('Idempotency-Key', 'k')
        .send({ a: 1 })
        .responseType('blob')
      expect(replay.status).toBe(first.status)
      expect(replay.headers['content-type']).toBe(first.headers['content-type'])
      expect(Buffer.isBuffer(first.body) && first.body.length > 0).toBe(true)
      expect(Buffer.compare(replay.body, first.body)).toBe(0)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(first.headers['idempotent-replayed']).toBeUndefined()
      expect(runs).toBe(1)
    },
  )

  it('replays allowlisted headers only', async () => {
    const app = makeApp()
    await request(app.callback()).post('/string').set('Idempotency-Key', 'k').send({})
    const replay = await request(app.callback())
      .post('/string')
      .set('Idempotency-Key', 'k')
      .send({})
    expect(replay.status).toBe(201)
    expect(replay.headers.location).toBe('/things/1')
    expect(replay.headers['set-cookie']).toBeUndefined()
    expect(replay.headers['access-control-expose-headers']).toBe('Idempotent-Replayed')
  })

  it('answers 400 for a malformed or repeated key, and when required', async () => {
    const app = makeApp({ required: true })
    const bad = await request(app.callback())
      .post('/object')
      .set('Idempotency-Key', '"open')
      .send({})
    expect(bad.status).toBe(400)
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(bad.headers['cache-control']).toBe('no-store')
    expect(bad.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
    const twice = await request(app.callback())
      .post('/object')
      .set('Idempotency-Key', ['a', 'b'] as unknown as string)
      .send({})
    expect(twice.body.code).toBe('IDEMPOTENCY_KEY_INVALID')
    const missing = await request(app.callback()).post('/object').send({})
    expect(missing.status).toBe(400)
    expect(missing.body.code).toBe('IDEMPOTENCY_KEY_REQUIRED')
    expect(missing.body.detail).toContain('Idempotency-Key')
    expect(runs).toBe(0)
  })

  it('passes other methods through', async () => {
    const app = makeApp({ required: true })
    await request(app.callback()).get('/object').set('Idempotency-Key', 'k')
    await request(app.callback()).get('/object').set('Idempotency-Key', 'k')
    expect(runs).toBe(2)
  })

  it('answers 422 for a different body and 409 while the first runs, mismatch first', async () => {
    const app = makeApp()
    const server = createServer(app.callback()).listen(0)
    try {
      const first = request(server)
        .post('/slow')
        .set('Idempotency-Key', 'k')
        .send({ a: 1 })
        .then((r) => r)
      await vi.waitUntil(() => runs === 1)
      const mismatch = await request(server)
        .post('/slow')
        .set('Idempotency-Key', 'k')
        .send({ a: 2 })
      expect(mismatch.status).toBe(422)
      expect(mismatch.body.code).toBe('IDEMPOTENCY_KEY_REUSED')
      const busy = await request(server).post('/slow').set('Idempotency-Key', 'k').send({ a: 1 })
      expect(busy.status).toBe(409)
      expect(busy.headers['retry-after']).toMatch(/^\d+$/)
      expect((await first).status).toBe(200)
      expect(runs).toBe(1)
    } finally {
      server.close()
    }
  })

  it('waits and replays with onConcurrent.waitMs', async () => {
    const app = makeApp({ onConcurrent: { waitMs: 5_000 } })
    const server = createServer(app.callback()).listen(0)
    try {
      const first = request(server)
        .post('/slow')
        .set('Idempotency-Key', 'k')
        .send({})
        .then((r) => r)
      await vi.waitUntil(() => runs === 1)
      const second = await request(server).post('/slow').set('Idempotency-Key', 'k').send({})
      expect(second.headers['idempotent-replayed']).toBe('true')
      expect(second.body).toEqual((await first).body)
      expect(runs).toBe(1)
    } finally {
      server.close()
    }
  })

  it('does not run for a waiting client that hung up before the key came free', async () => {
    const store = new SpyStore()
    const log = eventLog()
    const app = makeApp({ store, onConcurrent: { waitMs: 5_000 }, onEvent: log.onEvent })
    const server = createServer(app.callback()).listen(0)
    try {
      const path = '/slow?ms=300&code=503'
      const first = request(server)
        .post(path)
        .set('Idempotency-Key', 'k')
        .send({})
        .then((r) => r)
      await vi.waitUntil(() => runs === 1)
      await abandonWhileWaiting(server, store, path)
      expect((await first).status).toBe(503)
      await vi.waitUntil(() => log.count('released') === 2, { timeout: 3_000 })
      expect(runs).toBe(1)
    } finally {
      server.close()
    }
  })

  it.each([500, 503, 429])('releases a %i', async (code) => {
    const app = makeApp()
    await request(app.callback())
      .post(`/status?code=${code}`)
      .set('Idempotency-Key', 'k')
      .send({})
      .expect(code)
    await request(app.callback())
      .post(`/status?code=${code}`)
      .set('Idempotency-Key', 'k')
      .send({})
      .expect(code)
    expect(runs).toBe(2)
  })

  // RFC 9110 §9.3.2: a HEAD answer may declare the length a GET would have had, and no other.
  it('gives a HEAD replay the Content-Length of the first answer, and no body', async () => {
    const app = makeApp({ methods: ['POST', 'HEAD'] })
    const first = await request(app.callback()).head('/object').set('Idempotency-Key', 'h')
    const replay = await request(app.callback()).head('/object').set('Idempotency-Key', 'h')
    expect(first.headers['content-length']).toBe('9')
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.headers['content-length']).toBe('9')
    expect(replay.text).toBeUndefined()
    expect(runs).toBe(1)
  })

  it('releases when the handler throws', async () => {
    const log = eventLog()
    const app = makeApp({ onEvent: log.onEvent })
    await request(app.callback()).post('/throws').set('Idempotency-Key', 'k').send({}).expect(500)
    await request(app.callback()).post('/throws').set('Idempotency-Key', 'k').send({}).expect(500)
    expect(runs).toBe(2)
    expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
  })

  it('releases when the client aborts before the handler finished', async () => {
    const log = eventLog()
    const app = makeApp({ onEvent: log.onEvent })
    const server = createServer(app.callback()).listen(0)
    try {
      const { port } = server.address() as { port: number }
      await abandonPost(port, '/slow?ms=150', () => runs === 1)
      await vi.waitUntil(() => log.types().includes('released'), { timeout: 5_000 })
      const retry = await request(server).post('/slow?ms=150').set('Idempotency-Key', 'k').send({})
      expect(retry.headers['idempotent-replayed']).toBeUndefined()
      expect(runs).toBe(2)
    } finally {
      server.close()
    }
  })

  /** koa-compress outside the guard, so the guard records the encoded bytes. */
  function compressedApp() {
    const app = new Koa()
    app.use(compress({ threshold: 0 }))
    app.use(bodyParser)
    app.use(koaIdempotency())
    app.use((ctx) => {
      runs++
      ctx.status = 201
      ctx.body = { run: runs, padding: 'x'.repeat(200) }
    })
    return app
  }

  it('replays a body koa-compress encoded without encoding it twice', async () => {
    const app = compressedApp()
    const first = await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    const replay = await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    expect(first.headers['content-encoding']).toBe('gzip')
    expect(replay.status).toBe(201)
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.body).toEqual(first.body)
    expect(runs).toBe(1)
  })

  it('decodes a koa-compress encoded replay for a retry that does not accept its coding', async () => {
    const app = compressedApp()
    const post = (acceptEncoding: string) =>
      request(app.callback())
        .post('/')
        .set('Idempotency-Key', 'k')
        .set('Accept-Encoding', acceptEncoding)
        .send({})
    const first = await post('gzip')
    expect(first.headers['content-encoding']).toBe('gzip')
    expect((await post('gzip')).headers['content-encoding']).toBe('gzip')
    // koa-compress, outside the guard, encodes the decoded replay again as this client asks.
    for (const [acceptEncoding, expected] of [
      ['identity', undefined],
      ['br', 'br'],
    ] as const) {
      const replay = await post(acceptEncoding)
      expect(replay.status).toBe(201)
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers.vary).toBe('Accept-Encoding')
      expect(replay.headers['content-encoding']).toBe(expected)
      expect(replay.body).toEqual(first.body)
    }
    expect(runs).toBe(1)
  })

  it('stores before the last byte, so an immediate retry replays even with a slow store', async () => {
    const store = new SpyStore()
    store.delay.complete = 200
    const app = makeApp({ store })
    await request(app.callback()).post('/stream').set('Idempotency-Key', 'k').send({})
    const retry = await request(app.callback()).post('/stream').set('Idempotency-Key', 'k').send({})
    expect(retry.headers['idempotent-replayed']).toBe('true')
  })

  it("releases Koa's own 404 (nothing answered), and stores a 404 a handler answers", async () => {
    const log = eventLog()
    let deployed = false
    const app = new Koa()
    app.use(koaIdempotency({ onEvent: log.onEvent }))
    app.use((ctx) => {
      if (ctx.path === '/gone') {
        runs++
        ctx.status = 404
        ctx.body = { error: 'order not found' }
      } else if (deployed) {
        runs++
        ctx.status = 201
        ctx.body = { created: true }
      }
    })
    await request(app.callback()).post('/later').set('Idempotency-Key', 'a').expect(404)
    deployed = true
    const retry = await request(app.callback()).post('/later').set('Idempotency-Key', 'a')
    expect(retry.status).toBe(201)
    expect(retry.headers['idempotent-replayed']).toBeUndefined()
    await request(app.callback()).post('/gone').set('Idempotency-Key', 'b').expect(404)
    const replay = await request(app.callback()).post('/gone').set('Idempotency-Key', 'b')
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(runs).toBe(2)
    expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'claimed', 'replayed'])
  })

  it("releases @koa/router's 405 for a method the path lacks, and stores a 405 a handler answers", async () => {
    const log = eventLog()
    const router = new Router()
    // PATCH /orders may come with the next deploy: its 405 must not answer retries for ttlMs.
    router.get('/orders', (ctx) => {
      ctx.body = []
    })
    router.post('/refunds', (ctx) => {
      runs++
      ctx.status = 405
      ctx.body = { error: 'refunds are closed' }
    })
    const app = new Koa()
    app.use(koaIdempotency({ onEvent: log.onEvent }))
    app.use(router.routes()).use(router.allowedMethods())
    await request(app.callback()).patch('/orders').set('Idempotency-Key', 'a').expect(405)
    expect(log.types()).toEqual(['claimed', 'released'])
    await request(app.callback()).post('/refunds').set('Idempotency-Key', 'b').expect(405)
    const replay = await request(app.callback()).post('/refunds').set('Idempotency-Key', 'b')
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(runs).toBe(1)
  })

  it('stores before a stream body with a length completes, so an immediate retry replays', async () => {
    // The client has the whole response once ctx.length bytes went out, before end().
    const store = new SpyStore()
    store.delay.complete = 200
    const app = new Koa()
    app.use(koaIdempotency({ store }))
    app.use((ctx) => {
      runs++
      ctx.type = 'text/plain'
      ctx.length = 5
      ctx.body = Readable.from([Buffer.from('hel'), Buffer.from('lo')])
    })
    const first = await request(app.callback()).post('/').set('Idempotency-Key', 'k')
    expect(first.text).toBe('hello')
    const retry = await request(app.callback()).post('/').set('Idempotency-Key', 'k')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.text).toBe('hello')
    expect(runs).toBe(1)
  })

  it('fails loudly when no body parser ran', async () => {
    const warn = vi.fn()
    const app = makeApp({ logger: { warn } }, false)
    const res = await request(app.callback())
      .post('/object')
      .set('Idempotency-Key', 'k')
      .send({ a: 1 })
    expect(res.status).toBe(500)
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/body parser/))
    expect(runs).toBe(0)
  })

  it('answers 415 for a body type no parser read, and stores nothing', async () => {
    const store = new SpyStore()
    const app = new Koa()
    app.use(koaIdempotency({ store }))
    app.use((ctx) => {
      runs++
      ctx.body = 'ran'
    })
    const res = await request(app.callback())
      .post('/text')
      .set('Idempotency-Key', 'k')
      .set('Content-Type', 'text/plain')
      .send('plain text')
    expect(res.status).toBe(415)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body.code).toBe('IDEMPOTENCY_BODY_UNSUPPORTED')
    expect(runs).toBe(0)
    expect(store.calls).toEqual([])
  })

  it('replays status and headers without a body when it exceeded maxStoredBodyBytes', async () => {
    const app = makeApp({ maxStoredBodyBytes: 8 })
    const first = await request(app.callback()).post('/string').set('Idempotency-Key', 'k').send({})
    expect(first.text).toBe('created 1')
    const replay = await request(app.callback())
      .post('/string')
      .set('Idempotency-Key', 'k')
      .send({})
    expect(replay.status).toBe(201)
    expect(replay.headers.location).toBe('/things/1')
    expect(replay.headers['idempotent-body-omitted']).toBe('true')
    expect(replay.headers['content-type']).toBeUndefined()
    expect(replay.text).toBe('')
    expect(runs).toBe(1)
  })

  it('answers 503 when the store hangs, and keeps scopes apart', async () => {
    const store = new SpyStore()
    store.fail.claim = 'hang'
    const down = makeApp({ store, storeTimeoutMs: 50 })
    const res = await request(down.callback()).post('/object').set('Idempotency-Key', 'k').send({})
    expect(res.status).toBe(503)
    expect(res.body.code).toBe('IDEMPOTENCY_STORE_UNAVAILABLE')
    expect(runs).toBe(0)
    const scoped = makeApp({ scope: (ctx) => ctx.get('authorization') })
    await request(scoped.callback())
      .post('/object')
      .set('Authorization', 'a')
      .set('Idempotency-Key', 'k')
      .send({})
    await request(scoped.callback())
      .post('/object')
      .set('Authorization', 'b')
      .set('Idempotency-Key', 'k')
      .send({})
    expect(runs).toBe(2)
  })

  it('warns once when ctx.state.user exists and no scope is configured', async () => {
    const warn = vi.fn()
    const app = new Koa()
    app.use(async (ctx, next) => {
      ctx.state.user = { id: 'u' }
      await next()
    })
    app.use(bodyParser)
    app.use(koaIdempotency({ logger: { warn } }))
    app.use((ctx) => {
      ctx.body = {}
    })
    await request(app.callback()).post('/').set('Idempotency-Key', 'a').send({})
    await request(app.callback()).post('/').set('Idempotency-Key', 'b').send({})
    expect(warn).toHaveBeenCalledTimes(1)
  })

  /** An app whose route sets a body stream (with the default 60 s lease) and a server for it. */
  async function withStreamRoute(
    route: (ctx: Context) => void,
    run: (server: Server, log: ReturnType<typeof eventLog>) => Promise<void>,
  ) {
    const log = eventLog()
    const app = new Koa()
    app.silent = true
    app.use(bodyParser)
    app.use(koaIdempotency({ onEvent: log.onEvent }))
    app.use((ctx) => {
      runs++
      ctx.type = 'text/plain'
      route(ctx)
    })
    const server = createServer(app.callback()).listen(0)
    try {
      await run(server, log)
    } finally {
      server.closeAllConnections()
      server.close()
    }
  }

  it('releases the key at once when a body stream fails mid-way, so the retry runs', async () => {
    const route = (ctx: Context) => {
      const body = new PassThrough()
      body.write('part of it')
      setTimeout(() => body.destroy(new Error('disk gone')), 5)
      ctx.body = body
    }
    await withStreamRoute(route, async (server, log) => {
      // A key left to lapse with its lease would answer the retry 409.
      expect(await postTorn(server, '/')).toBe('torn')
      await vi.waitUntil(() => log.types().includes('released'), { timeout: 1_000 })
      expect(await postTorn(server, '/')).toBe('torn')
      expect(runs).toBe(2)
      expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
    })
  })

  it('releases a body stream that fails before its first byte (Koa 2 would answer its 404)', async () => {
    const route = (ctx: Context) => {
      ctx.body = createReadStream(`/nonexistent/steadfast-${Date.now()}`)
    }
    await withStreamRoute(route, async (server, log) => {
      await postTorn(server, '/')
      await postTorn(server, '/')
      expect(runs).toBe(2)
      expect(log.types()).toEqual(['claimed', 'released', 'claimed', 'released'])
    })
  })

  it('keeps the key when the client leaves during a streamed body after the handler finished', async () => {
    const route = (ctx: Context) => {
      const body = new PassThrough()
      const drip = setInterval(() => body.write('x'.repeat(1_024)), 5)
      body.on('close', () => clearInterval(drip))
      ctx.body = body
    }
    await withStreamRoute(route, async (server, log) => {
      const { port } = server.address() as AddressInfo
      await new Promise<void>((resolve) => {
        const req = httpRequest({
          port,
          method: 'POST',
          headers: { 'Idempotency-Key': 'k', 'Content-Type': 'application/json' },
        })
        req.on('error', () => {})
        req.on('response', (res) =>
          res.once('data', () => {
            req.destroy()
            resolve()
          }),
        )
        req.end('{}')
      })
      await sleep(50)
      const retry = await request(server).post('/').set('Idempotency-Key', 'k').send({})
      expect(retry.status).toBe(409)
      expect(runs).toBe(1)
      expect(log.types()).toEqual(['claimed', 'conflict'])
    })
  })

  it('stores a response the app writes itself later, with ctx.respond = false', async () => {
    const app = new Koa()
    app.use(bodyParser)
    app.use(koaIdempotency())
    app.use((ctx) => {
      runs++
      ctx.respond = false
      // Handed on, as to a proxy: Koa's middleware is done long before the answer.
      setTimeout(() => {
        ctx.res.statusCode = 201
        ctx.res.setHeader('Content-Type', 'text/plain')
        ctx.res.end(`raw ${runs}`)
      }, 20)
    })
    const first = await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    const retry = await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    expect(first.status).toBe(201)
    expect(retry.status).toBe(201)
    expect(retry.text).toBe('raw 1')
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(runs).toBe(1)
  })

  it('does not list Idempotent-Replayed twice when a CORS middleware exposes it already', async () => {
    const app = new Koa()
    app.use(async (ctx, next) => {
      ctx.set('Access-Control-Expose-Headers', 'Idempotent-Replayed')
      await next()
    })
    app.use(bodyParser)
    app.use(koaIdempotency())
    app.use((ctx) => {
      ctx.body = { ok: true }
    })
    await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    const replay = await request(app.callback()).post('/').set('Idempotency-Key', 'k').send({})
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.headers['access-control-expose-headers']).toBe('Idempotent-Replayed')
  })
})
