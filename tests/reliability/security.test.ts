import { randomUUID } from 'node:crypto'
import { RedisStore } from '@steadfast/idempotency-middleware/redis'
import { Redis } from 'ioredis'
import request from 'supertest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../test-support/redis.js'
import { createExpressApp, createKoaApp, localEffects } from './support/apps.js'
import { uniquePrefix } from './support/processes.js'
import { rawRequest } from './support/raw-http.js'
import { type Served, serve } from './support/servers.js'

describe.skipIf(noRedis)('when clients probe the guard', () => {
  const prefix = uniquePrefix('security')
  let redis: Redis
  let express: Served
  let koa: Served
  const records = async () => redis.keys(`${prefix}idem:*`)

  beforeAll(async () => {
    redis = new Redis(redisUrl)
    const options = () => ({
      store: new RedisStore({ client: redis, prefix: `${prefix}idem:` }),
      effects: localEffects(),
      echoKey: false,
    })
    express = await serve(createExpressApp(options()))
    koa = await serve(createKoaApp(options()).callback())
  })

  afterAll(async () => {
    await express?.close()
    await koa?.close()
    await redis.quit()
  })

  const apps = () =>
    [
      ['express', () => request(`http://127.0.0.1:${express.port}`)],
      ['koa', () => request(`http://127.0.0.1:${koa.port}`)],
    ] as const

  it("never replays one tenant's response to another tenant using the same key", async () => {
    for (const [name, agent] of apps()) {
      const key = `shared-${name}-${randomUUID()}`
      const alice = await agent()
        .post('/work')
        .set('x-tenant', 'alice')
        .set('Idempotency-Key', key)
        .send({ amount: 1 })
      const mallory = await agent()
        .post('/work')
        .set('x-tenant', 'mallory')
        .set('Idempotency-Key', key)
        .send({ amount: 1 })
      expect(alice.status).toBe(201)
      expect(mallory.status).toBe(201)
      expect(mallory.headers['idempotent-replayed']).toBeUndefined()
      expect(mallory.body.run).toBe(2)
      expect(mallory.text).not.toBe(alice.text)
      const aliceAgain = await agent()
        .post('/work')
        .set('x-tenant', 'alice')
        .set('Idempotency-Key', key)
        .send({ amount: 1 })
      expect(aliceAgain.headers['idempotent-replayed']).toBe('true')
      expect(aliceAgain.text).toBe(alice.text)
    }
  })

  it('never replays Set-Cookie', async () => {
    for (const [, agent] of apps()) {
      const key = randomUUID()
      const first = await agent().post('/work').set('Idempotency-Key', key).send({ amount: 2 })
      expect(first.headers['set-cookie']).toBeDefined()
      const replay = await agent().post('/work').set('Idempotency-Key', key).send({ amount: 2 })
      expect(replay.headers['idempotent-replayed']).toBe('true')
      expect(replay.headers['set-cookie']).toBeUndefined()
      expect(replay.text).toBe(first.text)
    }
  })

  it('rejects keys longer than 255 characters or with control characters, storing nothing', async () => {
    const bad: (string | Buffer)[] = [
      'k'.repeat(256),
      `"${'k'.repeat(256)}"`,
      'ab\tcd',
      '"ab\tcd"',
      Buffer.from('ab\u0001cd', 'latin1'),
      Buffer.from('ab\u007fcd', 'latin1'),
      Buffer.from('ключ', 'utf8'),
    ]
    for (const [name, port] of [
      ['express', express.port],
      ['koa', koa.port],
    ] as const) {
      const before = (await records()).length
      for (const key of bad) {
        const answer = await rawRequest(port, {
          path: '/work',
          headers: [
            ['Content-Type', 'application/json'],
            ['Idempotency-Key', key],
          ],
          body: '{"amount":3}',
        })
        expect(answer.status, `${name}: ${JSON.stringify(key.toString())}`).toBe(400)
        // A control character other than HTAB never gets past Node's HTTP parser (a bare 400).
        if (answer.headers['content-type'] !== undefined) {
          expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
          expect(JSON.parse(answer.body.toString()).code).toBe('IDEMPOTENCY_KEY_INVALID')
        }
      }
      expect((await records()).length).toBe(before)
      const longest = await rawRequest(port, {
        path: '/work',
        headers: [
          ['Content-Type', 'application/json'],
          ['Idempotency-Key', `${name}-${'k'.repeat(255 - name.length - 1)}`],
        ],
        body: '{"amount":3}',
      })
      expect(longest.status).toBe(201)
    }
  })

  it('stores only a hash of the key: the raw key appears in no Redis key or value', async () => {
    const rawKeys = Array.from({ length: 20 }, (_, i) => `raw-client-key-${i}-${randomUUID()}`)
    for (const [i, key] of rawKeys.entries()) {
      const agent = i % 2 === 0 ? apps()[0][1] : apps()[1][1]
      const answer = await agent()
        .post('/work')
        .set('x-tenant', `t${i}`)
        .set('Idempotency-Key', key)
        .send({ amount: 4 })
      expect(answer.status).toBe(201)
    }
    const keys = await records()
    expect(keys.length).toBeGreaterThanOrEqual(rawKeys.length)
    for (const name of keys) {
      // A SHA-256 in base64url after the prefix.
      expect(name.slice(`${prefix}idem:`.length)).toMatch(/^[A-Za-z0-9_-]{43}$/)
      const dump = (await redis.getBuffer(name))?.toString('latin1') ?? ''
      expect(dump.length).toBeGreaterThan(0)
      for (const raw of rawKeys) {
        expect(name.includes(raw)).toBe(false)
        expect(dump.includes(raw)).toBe(false)
      }
    }
  })
})
