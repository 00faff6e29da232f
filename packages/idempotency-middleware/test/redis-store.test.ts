import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { syncBuiltinESMExports } from 'node:module'
import timers from 'node:timers'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import express from 'express'
import { Redis as Redis5, type RedisOptions } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import request from 'supertest'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { idempotency } from '../src/index.js'
import { RedisStore, type RedisStoreOptions } from '../src/redis.js'
import { describeStore } from '../src/testing.js'
import { counted, sleep } from './support.js'

const clients: { quit(): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()))
})

/** Counts the writes reaching `client`'s socket (one per write, or per corked batch). */
function socketWrites(client: Redis5 | Redis6): { count: number } {
  const writes = { count: 0 }
  const stream = client.stream as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const method of ['_write', '_writev']) {
    const original = stream[method] as (...args: unknown[]) => unknown
    stream[method] = function (this: unknown, ...args: unknown[]) {
      writes.count++
      return original.apply(this, args)
    }
  }
  return writes
}

/** Claims `count` keys in one tick, as concurrent requests parsed in one loop phase do. */
const claimMany = (store: RedisStore, count: number) =>
  Promise.all(Array.from({ length: count }, (_, i) => store.claim(`k${i}`, 'fp', 10_000)))

const versions = [
  ['ioredis 5', (options = {}) => new Redis5(redisUrl, options)],
  ['ioredis 6', (options = {}) => new Redis6(redisUrl, options)],
] as const

describe('RedisStore with a client that is not ioredis', () => {
  it('refuses it at construction, naming the missing method', () => {
    // node-redis 4 spells these evalSha / EVALSHA and has no Buffer variants.
    const nodeRedisLike = { evalSha: () => Promise.resolve(), eval: () => Promise.resolve() }
    expect(() => new RedisStore({ client: nodeRedisLike as never })).toThrow(
      /client lacks evalsha; pass an ioredis 5 or 6 client/,
    )
  })
})

describe.skipIf(noRedis)('RedisStore', () => {
  for (const [version, make] of versions) {
    describeStore(`redis (${version})`, () => {
      const client = make()
      clients.push(client)
      return new RedisStore({ client, prefix: `conf:${randomUUID()}:` })
    })

    describe(`with ${version}`, () => {
      /** A connected client (ready, so its socket exists) and a store on it. */
      const connected = async (
        name: string,
        clientOptions: RedisOptions = {},
        storeOptions: Partial<RedisStoreOptions> = {},
      ) => {
        const client = make(clientOptions)
        clients.push(client)
        await client.ping()
        const prefix = `${name}:${randomUUID()}:`
        return { client, store: new RedisStore({ client, prefix, ...storeOptions }) }
      }

      it('uses one round trip per operation, by EVALSHA', async () => {
        const client = make()
        clients.push(client)
        const store = new RedisStore({ client, prefix: `rt:${randomUUID()}:` })
        await store.claim('warm', 'fp', 1_000)
        const names = counted(client)
        const claim = await store.claim('k', 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(names).toEqual(['evalsha'])
        await store.renew('k', claim.token, 10_000)
        await store.complete(
          'k',
          claim.token,
          { status: 201, headers: {}, body: Buffer.from('x') },
          10_000,
        )
        await store.claim('k', 'fp', 10_000)
        await store.release('k', 'nobody')
        expect(names).toEqual(['evalsha', 'evalsha', 'evalsha', 'evalsha', 'evalsha'])
      })

      it('falls back to EVAL after the script cache is flushed', async () => {
        const client = make()
        clients.push(client)
        const store = new RedisStore({ client, prefix: `flush:${randomUUID()}:` })
        await store.claim('a', 'fp', 1_000)
        await client.script('FLUSH')
        expect((await store.claim('b', 'fp', 1_000)).state).toBe('claimed')
      })

      it('keeps one key per record, with a PX expiry, and the body as raw bytes', async () => {
        const client = make()
        clients.push(client)
        const prefix = `shape:${randomUUID()}:`
        const store = new RedisStore({ client, prefix })
        const claim = await store.claim('k', 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const body = Buffer.from([0, 1, 2, 255, 254])
        await store.complete('k', claim.token, { status: 200, headers: {}, body }, 5_000)
        expect(await client.keys(`${prefix}*`)).toEqual([`${prefix}k`])
        const ttl = await client.pttl(`${prefix}k`)
        expect(ttl).toBeGreaterThan(4_000)
        expect(ttl).toBeLessThanOrEqual(5_000)
        // One string: the fingerprint, status, flag and headers, then the body's own bytes.
        const stored = await client.getBuffer(`${prefix}k`)
        expect(stored?.subarray(-body.length).equals(body)).toBe(true)
        expect(stored?.subarray(0, -body.length).toString()).toBe('c2\nfp200\n\n2\n{}')
      })

      it('gives an in-flight record that lost its expiry a lease, so the key cannot lock for good', async () => {
        const client = make()
        clients.push(client)
        const prefix = `persist:${randomUUID()}:`
        const store = new RedisStore({ client, prefix })
        const claim = await store.claim('k', 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        // PERSIST, or a RESTORE/migration without TTLs: its owner may be long gone.
        await client.persist(`${prefix}k`)
        const busy = await store.claim('k', 'fp', 200)
        expect(busy).toMatchObject({ state: 'in-progress', retryAfterMs: 200 })
        const ttl = await client.pttl(`${prefix}k`)
        expect(ttl).toBeGreaterThan(0)
        expect(ttl).toBeLessThanOrEqual(200)
        await sleep(250)
        expect((await store.claim('k', 'fp', 10_000)).state).toBe('claimed')
      })

      it('counts 1 round trip to claim, 1 to complete and 1 to replay over HTTP', async () => {
        const client = make()
        clients.push(client)
        const store = new RedisStore({ client, prefix: `http:${randomUUID()}:` })
        await store.claim('warm', 'fp', 1_000)
        const app = express()
        app.use(express.json())
        app.use(idempotency({ store }))
        app.post('/orders', (_req, res) => {
          res.status(201).json({ ok: true })
        })
        const names = counted(client)
        await request(app).post('/orders').set('Idempotency-Key', 'k').send({}).expect(201)
        expect(names).toHaveLength(2)
        const replay = await request(app).post('/orders').set('Idempotency-Key', 'k').send({})
        expect(replay.headers['idempotent-replayed']).toBe('true')
        expect(names).toHaveLength(3)
      })

      it('sends the scripts of one loop phase in one socket write, and uncorks after it', async () => {
        const { client, store } = await connected('cork')
        const writes = socketWrites(client)
        const claims = claimMany(store, 20)
        expect(client.stream.writableCorked).toBe(1)
        const results = await claims
        expect(results.map((r) => r.state)).toEqual(Array(20).fill('claimed'))
        expect(writes.count).toBe(1)
        expect(client.stream.writableCorked).toBe(0)
      })

      it('writes each script at once with coalesceWrites: false', async () => {
        const { client, store } = await connected('nocork', {}, { coalesceWrites: false })
        const writes = socketWrites(client)
        await claimMany(store, 20)
        expect(writes.count).toBe(20)
      })

      it('still sends under fake timers, which replace the global setImmediate', async () => {
        const { client, store } = await connected('fake')
        vi.useFakeTimers()
        try {
          const claims = claimMany(store, 3)
          expect(client.stream.writableCorked).toBe(1)
          expect((await claims).every((r) => r.state === 'claimed')).toBe(true)
        } finally {
          vi.useRealTimers()
        }
      })

      it('still sends when fake timers also replace the timers module (as sinon does)', async () => {
        const { store } = await connected('faketimers')
        const real = timers.setImmediate
        timers.setImmediate = (() => {}) as unknown as typeof timers.setImmediate
        syncBuiltinESMExports()
        try {
          const claims = claimMany(store, 3)
          expect((await claims).every((r) => r.state === 'claimed')).toBe(true)
        } finally {
          timers.setImmediate = real
          syncBuiltinESMExports()
        }
      })

      it('leaves the writes of a client that does not resend them alone', async () => {
        // ioredis drops, unsettled, the commands it wrote to a socket that then closed.
        const { client, store } = await connected('noresend', {
          autoResendUnfulfilledCommands: false,
        })
        const claims = claimMany(store, 3)
        expect(client.stream.writableCorked).toBe(0)
        expect((await claims).every((r) => r.state === 'claimed')).toBe(true)
      })

      it('leaves batching to an auto-pipelined client', async () => {
        const { client, store } = await connected('ap', { enableAutoPipelining: true })
        const claims = claimMany(store, 20)
        expect(client.stream.writableCorked).toBe(0)
        expect((await claims).every((r) => r.state === 'claimed')).toBe(true)
      })

      it('leaves a socket that is not ready alone, and its queued scripts still run', async () => {
        const client = make({ lazyConnect: true })
        clients.push(client)
        const store = new RedisStore({ client, prefix: `lazy:${randomUUID()}:` })
        const claims = claimMany(store, 5)
        expect(client.stream).toBeUndefined()
        expect((await claims).every((r) => r.state === 'claimed')).toBe(true)
        expect(client.stream.writableCorked).toBe(0)
      })
    })
  }
})

describe.skipIf(noRedis)('RedisStore on process exit', () => {
  it('sends a write it was still holding back when the process exits right after the call', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/exit-after-claim.ts', import.meta.url))
    const prefix = `exit:${randomUUID()}:`
    await promisify(execFile)(process.execPath, [
      '--import',
      'tsx',
      '--conditions=@steadfast/source',
      fixture,
      redisUrl as string,
      prefix,
    ])
    const client = new Redis5(redisUrl)
    clients.push(client)
    expect(await client.exists(`${prefix}k`)).toBe(1)
  })
})
