import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import express from 'express'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { idempotency } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import { type Child, startChild } from './fixtures/children.js'
import { eventLog, sleep } from './support.js'

describe.skipIf(noRedis)('when an owner dies or stalls (RedisStore)', () => {
  const clients: Redis[] = []
  const children: Child[] = []
  afterAll(async () => {
    await Promise.all(children.map((c) => c.kill('SIGKILL')))
    await Promise.all(clients.map((c) => c.quit()))
  })

  it('runs the key again, once, after the lease of a SIGKILLed process', {
    timeout: 60_000,
  }, async () => {
    const prefix = `crash:${randomUUID()}:`
    const env = { REDIS_URL: redisUrl, PREFIX: prefix, LEASE_MS: '2000' }
    const victim = await startChild({ ...env, HANDLER_MS: '60000' })
    const survivor = await startChild({ ...env, HANDLER_MS: '20' })
    children.push(victim, survivor)
    const client = new Redis(redisUrl)
    clients.push(client)

    const doomed = request(`http://127.0.0.1:${victim.port}`)
      .post('/orders')
      .set('Idempotency-Key', 'k')
      .send({})
      .then(
        () => 'answered',
        () => 'dropped',
      )
    await victim.printed(/STARTED 1/)
    await victim.kill('SIGKILL')
    expect(await doomed).toBe('dropped')

    const survivorUrl = `http://127.0.0.1:${survivor.port}`
    const during = await request(survivorUrl).post('/orders').set('Idempotency-Key', 'k').send({})
    expect(during.status).toBe(409)

    let after = during
    const deadline = Date.now() + 10_000
    while (after.status === 409 && Date.now() < deadline) {
      await sleep(100)
      after = await request(survivorUrl).post('/orders').set('Idempotency-Key', 'k').send({})
    }
    expect(after.status).toBe(201)
    expect(after.headers['idempotent-replayed']).toBeUndefined()
    const replay = await request(survivorUrl).post('/orders').set('Idempotency-Key', 'k').send({})
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(replay.body).toEqual(after.body)
    expect(Number(await client.get(`${prefix}runs`))).toBe(2)
  })

  it("refuses a zombie owner's late complete() by its token", async () => {
    const client = new Redis(redisUrl)
    clients.push(client)
    const store = new RedisStore({ client, prefix: `zombie:${randomUUID()}:` })
    const zombie = await store.claim('k', 'fp', 100)
    if (zombie.state !== 'claimed') throw new Error('not claimed')
    await sleep(250)
    const owner = await store.claim('k', 'fp', 10_000)
    if (owner.state !== 'claimed') throw new Error('no takeover')
    const late = { status: 201, headers: {}, body: Buffer.from('zombie') }
    expect(await store.complete('k', zombie.token, late, 60_000)).toBe(false)
    expect(await store.renew('k', zombie.token, 60_000)).toBe(false)
    await store.release('k', zombie.token)
    expect(
      await store.complete('k', owner.token, { ...late, body: Buffer.from('owner') }, 60_000),
    ).toBe(true)
    const stored = await store.claim('k', 'fp', 10_000)
    if (stored.state !== 'completed') throw new Error('not completed')
    expect(Buffer.from(stored.response.body).toString()).toBe('owner')
  })

  it('keeps the new owner’s response when a stalled handler answers late over HTTP', async () => {
    const client = new Redis(redisUrl)
    clients.push(client)
    const log = eventLog()
    let runs = 0
    const app = express()
    app.use(express.json())
    app.use(
      idempotency({
        store: new RedisStore({ client, prefix: `stall:${randomUUID()}:` }),
        leaseMs: 100,
        maxLeaseHoldMs: 100,
        onEvent: log.onEvent,
      }),
    )
    app.post('/orders', async (req, res) => {
      const run = ++runs
      if (req.get('x-stall')) await sleep(500)
      res.status(201).json({ run })
    })
    const server = createServer(app).listen(0)
    try {
      const stalled = request(server)
        .post('/orders')
        .set('X-Stall', '1')
        .set('Idempotency-Key', 'k')
        .send({})
        .then((r) => r)
      await sleep(300)
      const owner = await request(server).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(owner.body).toEqual({ run: 2 })
      expect((await stalled).body).toEqual({ run: 1 })
      expect(log.types()).toContain('lease-lost')
      const replay = await request(server).post('/orders').set('Idempotency-Key', 'k').send({})
      expect(replay.body).toEqual({ run: 2 })
    } finally {
      server.close()
    }
  })
})
