import { createHash } from 'node:crypto'
import {
  type ClaimResult,
  type IdempotencyStore,
  MemoryStore,
  type StoredResponse,
} from '@steadfast/idempotency-middleware'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import { createApp, type Framework, OrderBook } from '../src/app.js'

const frameworks: Framework[] = ['express', 'koa']

/** What the API may show of an API key: a prefix of its SHA-256, never the key. */
const principalOf = (apiKey: string) =>
  `key_${createHash('sha256').update(apiKey).digest('hex').slice(0, 16)}`

/** A store that keeps a copy of every response body it is asked to persist. */
class RecordingStore implements IdempotencyStore {
  readonly name = 'recording'
  readonly bodies: string[] = []
  private readonly inner = new MemoryStore()

  claim(key: string, fingerprint: string, leaseMs: number): Promise<ClaimResult> {
    return this.inner.claim(key, fingerprint, leaseMs)
  }

  complete(key: string, token: string, response: StoredResponse, ttlMs: number): Promise<boolean> {
    this.bodies.push(Buffer.from(response.body).toString('utf8'))
    return this.inner.complete(key, token, response, ttlMs)
  }

  release(key: string, token: string): Promise<void> {
    return this.inner.release(key, token)
  }

  renew(key: string, token: string, leaseMs: number): Promise<boolean> {
    return this.inner.renew(key, token, leaseMs)
  }
}

describe.each(frameworks)('orders API on %s', (framework) => {
  function setup(processingMs = 0) {
    const book = new OrderBook(processingMs)
    return { book, app: createApp(framework, { book }) }
  }

  it('creates an order and replays it for a retry with the same key', async () => {
    const { app, book } = setup()
    const first = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', '"order-1"')
      .send({ item: 'book', quantity: 2 })
      .expect(201)
    expect(first.headers.location).toBe(`/orders/${first.body.id}`)
    expect(first.headers['idempotent-replayed']).toBeUndefined()

    const retry = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', '"order-1"')
      .send({ item: 'book', quantity: 2 })
      .expect(201)
    expect(retry.headers['idempotent-replayed']).toBe('true')
    expect(retry.headers.location).toBe(first.headers.location)
    expect(retry.text).toBe(first.text)
    expect(book.writes).toBe(1)
  })

  it('answers 422 when a key is reused with another body', async () => {
    const { app, book } = setup()
    await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'order-2')
      .send({ item: 'book' })
      .expect(201)
    const reused = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'order-2')
      .send({ item: 'lamp' })
      .expect(422)
    expect(reused.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(reused.body).toMatchObject({ status: 422, code: 'IDEMPOTENCY_KEY_REUSED' })
    expect(book.writes).toBe(1)
  })

  it('answers 409 with Retry-After while the first request is still running', async () => {
    const { app, book } = setup(300)
    const send = () =>
      request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-3')
        .send({ item: 'desk' })
    const first = send().then((r) => r)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const second = await send()
    expect(second.status).toBe(409)
    expect(second.headers['retry-after']).toMatch(/^\d+$/)
    expect(second.body).toMatchObject({ status: 409, code: 'IDEMPOTENCY_KEY_IN_USE' })
    expect((await first).status).toBe(201)
    expect(book.writes).toBe(1)
  })

  it('requires the Idempotency-Key header on POST and names it', async () => {
    const { app, book } = setup()
    const res = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .send({ item: 'book' })
      .expect(400)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body.code).toBe('IDEMPOTENCY_KEY_REQUIRED')
    expect(res.body.detail).toMatch(/Idempotency-Key/i)
    expect(book.writes).toBe(0)
  })

  it('never replays one API key’s order to another', async () => {
    const { app, book } = setup()
    const alice = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'shared-key')
      .send({ item: 'book' })
      .expect(201)
    const mallory = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_mallory')
      .set('Idempotency-Key', 'shared-key')
      .send({ item: 'book' })
      .expect(201)
    expect(mallory.headers['idempotent-replayed']).toBeUndefined()
    expect(mallory.body.id).not.toBe(alice.body.id)
    expect(mallory.body.owner).toBe(principalOf('sk_mallory'))
    expect(book.writes).toBe(2)
  })

  it('makes PATCH idempotent and answers 404 problems for unknown orders', async () => {
    const { app, book } = setup()
    const created = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'order-4')
      .send({ item: 'chair' })
      .expect(201)
    const patch = () =>
      request(app)
        .patch(`/orders/${created.body.id}`)
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'pay-order-4')
        .send({ status: 'paid' })
    const first = await patch().expect(200)
    const again = await patch().expect(200)
    expect(first.body.status).toBe('paid')
    expect(again.headers['idempotent-replayed']).toBe('true')
    expect(again.text).toBe(first.text)
    expect(book.writes).toBe(2)

    const missing = await request(app)
      .patch('/orders/ord_nope')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'pay-missing')
      .send({ status: 'paid' })
      .expect(404)
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
  })

  it('rejects invalid orders and requests without an API key with problem+json', async () => {
    const { app, book } = setup()
    const invalid = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_alice')
      .set('Idempotency-Key', 'order-5')
      .send({ quantity: -1 })
      .expect(400)
    expect(invalid.body).toMatchObject({ status: 400, title: 'Invalid order' })
    const anonymous = await request(app).post('/orders').send({ item: 'book' }).expect(401)
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(book.writes).toBe(0)
  })

  it('owns orders by a principal id derived from the API key, never the key itself', async () => {
    const book = new OrderBook()
    const store = new RecordingStore()
    const app = createApp(framework, { book, store })
    const created = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_live_alice_secret')
      .set('Idempotency-Key', 'order-6')
      .send({ item: 'book' })
      .expect(201)
    expect(created.body.owner).toBe(principalOf('sk_live_alice_secret'))
    expect(created.text).not.toContain('sk_live_alice_secret')
    const replayed = await request(app)
      .post('/orders')
      .set('x-api-key', 'sk_live_alice_secret')
      .set('Idempotency-Key', 'order-6')
      .send({ item: 'book' })
      .expect(201)
    expect(replayed.headers['idempotent-replayed']).toBe('true')
    expect(replayed.text).not.toContain('sk_live_alice_secret')
    const fetched = await request(app)
      .get(`/orders/${created.body.id}`)
      .set('x-api-key', 'sk_live_alice_secret')
      .expect(200)
    expect(fetched.text).not.toContain('sk_live_alice_secret')
    expect(store.bodies).toHaveLength(1)
    expect(store.bodies.join('\n')).not.toContain('sk_live_alice_secret')
    await request(app)
      .get(`/orders/${created.body.id}`)
      .set('x-api-key', 'sk_live_mallory')
      .expect(404)
  })

  describe('when the API answers a problem itself', () => {
    it('answers a request without an API key with a 401 API_KEY_REQUIRED problem', async () => {
      const { app } = setup()
      const res = await request(app).post('/orders').send({ item: 'book' })
      expectProblem(res, 401, 'Unauthorized', 'API_KEY_REQUIRED')
    })

    it('answers an invalid order with a 400 ORDER_INVALID problem', async () => {
      const { app } = setup()
      const res = await request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-invalid')
        .send({ item: '' })
      expectProblem(res, 400, 'Invalid order', 'ORDER_INVALID')
    })

    it('answers another client’s or a missing order with a 404 ORDER_NOT_FOUND problem', async () => {
      const { app } = setup()
      const created = await request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-owned')
        .send({ item: 'book' })
        .expect(201)
      const foreign = await request(app)
        .get(`/orders/${created.body.id}`)
        .set('x-api-key', 'sk_bob')
      expectProblem(foreign, 404, 'Not Found', 'ORDER_NOT_FOUND')
      const missing = await request(app)
        .patch('/orders/ord_nope')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'pay-nope')
        .send({ status: 'paid' })
      expectProblem(missing, 404, 'Not Found', 'ORDER_NOT_FOUND')
    })

    it('answers a body in an unsupported encoding with a 415 REQUEST_INVALID problem', async () => {
      const { app, book } = setup()
      const res = await request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-encoding')
        .set('content-type', 'application/json')
        .set('content-encoding', 'no-such-coding')
        .send('{"item":"book"}')
      expectProblem(res, 415, 'Unsupported Media Type', 'REQUEST_INVALID')
      expect(book.writes).toBe(0)
    })

    it('answers a failure of the order book with a 500 INTERNAL_ERROR problem', async () => {
      class BrokenBook extends OrderBook {
        override create(): never {
          throw new Error('the orders database is down')
        }
      }
      const res = await request(createApp(framework, { book: new BrokenBook() }))
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-broken')
        .send({ item: 'book' })
      expectProblem(res, 500, 'Internal Server Error', 'INTERNAL_ERROR')
      expect(res.text).not.toContain('database')
    })
  })

  describe('when the request is not one the API serves', () => {
    it('answers an unknown route with a 404 problem', async () => {
      const { app } = setup()
      const res = await request(app).get('/nope').set('x-api-key', 'sk_alice')
      expectProblem(res, 404, 'Not Found', 'NOT_FOUND')
    })

    it('answers a method the route does not serve with a problem', async () => {
      const { app } = setup()
      const res = await request(app).delete('/orders/ord_1').set('x-api-key', 'sk_alice')
      // Express has no 405 of its own; @koa/router's allowedMethods() answers one.
      expectProblem(
        res,
        framework === 'koa' ? 405 : 404,
        framework === 'koa' ? 'Method Not Allowed' : 'Not Found',
        framework === 'koa' ? 'METHOD_NOT_ALLOWED' : 'NOT_FOUND',
      )
    })

    it('answers a method no route knows with a problem', async () => {
      const { app } = setup()
      const res = await request(app).purge('/orders').set('x-api-key', 'sk_alice')
      // @koa/router's allowedMethods() answers 501 for a method none of its routes declares.
      expectProblem(
        res,
        framework === 'koa' ? 501 : 404,
        framework === 'koa' ? 'Not Implemented' : 'Not Found',
        framework === 'koa' ? 'METHOD_NOT_IMPLEMENTED' : 'NOT_FOUND',
      )
    })

    it('answers a body over the 100kb JSON limit with a 413 problem', async () => {
      const { app, book } = setup()
      const res = await request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-big')
        .send({ item: 'x'.repeat(200_000) })
      expectProblem(res, 413, 'Payload Too Large', 'REQUEST_BODY_TOO_LARGE')
      expect(book.writes).toBe(0)
    })

    it('answers malformed JSON with a 400 problem that does not echo the body', async () => {
      const { app, book } = setup()
      const res = await request(app)
        .post('/orders')
        .set('x-api-key', 'sk_alice')
        .set('Idempotency-Key', 'order-bad-json')
        .set('content-type', 'application/json')
        .send('{"item": secret-token')
      expectProblem(res, 400, 'Invalid JSON', 'REQUEST_BODY_INVALID')
      expect(res.text).not.toContain('secret-token')
      expect(book.writes).toBe(0)
    })
  })
})
