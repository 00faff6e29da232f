import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import express from 'express'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { type IdempotencyStore, idempotency, MemoryStore } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import { type Child, startChild } from './fixtures/children.js'
import { sleep } from './support.js'

interface Outcome {
  status: number
  replayed: boolean
  body: unknown
}

/** Fires `count` requests with one key at once, spread over `ports`. */
async function fire(ports: number[], count: number, key: string): Promise<Outcome[]> {
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const res = await request(`http://127.0.0.1:${ports[i % ports.length]}`)
        .post('/orders')
        .set('Idempotency-Key', key)
        .send({ amount: 10 })
      return {
        status: res.status,
        replayed: res.headers['idempotent-replayed'] === 'true',
        body: res.body,
      }
    }),
  )
}

function expectExactlyOnce(outcomes: Outcome[], runs: number) {
  expect(runs).toBe(1)
  const original = outcomes.filter((o) => o.status === 201 && !o.replayed)
  expect(original).toHaveLength(1)
  for (const o of outcomes) {
    expect([201, 409]).toContain(o.status)
    if (o.status === 201) expect(o.body).toEqual(original[0]?.body)
  }
}

async function appWith(store: IdempotencyStore, counter: { runs: number }, options = {}) {
  const app = express()
  app.use(express.json())
  app.use(idempotency({ store, ...options }))
  app.post('/orders', async (_req, res) => {
    const run = ++counter.runs
    await sleep(50)
    res.status(201).json({ run })
  })
  const server = createServer(app)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return server
}

describe('when 200 requests with one key arrive at once', () => {
  it('runs a 50 ms handler exactly once with MemoryStore; the rest replay or get 409', async () => {
    const counter = { runs: 0 }
    const server = await appWith(new MemoryStore(), counter)
    try {
      const { port } = server.address() as { port: number }
      const outcomes = await fire([port], 200, 'k')
      expectExactlyOnce(outcomes, counter.runs)
      expect(outcomes.filter((o) => o.status === 409).length).toBeGreaterThan(0)
    } finally {
      server.close()
    }
  })

  it('replays to every waiter with onConcurrent.waitMs', async () => {
    const counter = { runs: 0 }
    const server = await appWith(new MemoryStore(), counter, { onConcurrent: { waitMs: 10_000 } })
    try {
      const { port } = server.address() as { port: number }
      const outcomes = await fire([port], 200, 'k')
      expectExactlyOnce(outcomes, counter.runs)
      expect(outcomes.every((o) => o.status === 201)).toBe(true)
    } finally {
      server.close()
    }
  })

  describe.skipIf(noRedis)('with RedisStore', () => {
    const clients: Redis[] = []
    const children: Child[] = []
    afterAll(async () => {
      await Promise.all(children.map((c) => c.kill()))
      await Promise.all(clients.map((c) => c.quit()))
    })

    it('runs once across 3 processes sharing one Redis', { timeout: 60_000 }, async () => {
      const prefix = `multi:${randomUUID()}:`
      const started = await Promise.all(
        [1, 2, 3].map(() => startChild({ REDIS_URL: redisUrl, PREFIX: prefix, HANDLER_MS: '50' })),
      )
      children.push(...started)
      const outcomes = await fire(
        started.map((c) => c.port),
        200,
        'k',
      )
      const client = new Redis(redisUrl)
      clients.push(client)
      expectExactlyOnce(outcomes, Number(await client.get(`${prefix}runs`)))
      const pids = new Set(
        outcomes.filter((o) => o.status === 201).map((o) => (o.body as { pid: number }).pid),
      )
      expect(pids.size).toBe(1)
    })

    it('replays to waiters with onConcurrent.waitMs', async () => {
      const client = new Redis(redisUrl)
      clients.push(client)
      const counter = { runs: 0 }
      const store = new RedisStore({ client, prefix: `wait:${randomUUID()}:` })
      const server = await appWith(store, counter, { onConcurrent: { waitMs: 10_000 } })
      try {
        const { port } = server.address() as { port: number }
        const outcomes = await fire([port], 100, 'k')
        expectExactlyOnce(outcomes, counter.runs)
        expect(outcomes.every((o) => o.status === 201)).toBe(true)
      } finally {
        server.close()
      }
    })
  })
})
