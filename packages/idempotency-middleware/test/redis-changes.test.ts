import { randomUUID } from 'node:crypto'
import express from 'express'
import { Redis as Redis5, type RedisOptions } from 'ioredis'
import { Redis as Redis6 } from 'ioredis6'
import request from 'supertest'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { idempotency, idempotent } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import { counted, eventLog, sleep } from './support.js'

const clients: { quit(): Promise<unknown> }[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()))
})

const versions = [
  ['ioredis 5', (options = {}) => new Redis5(redisUrl, options)],
  ['ioredis 6', (options = {}) => new Redis6(redisUrl, options)],
] as const

/** 'woken' if `waiting` settles within 3 s: far sooner than the timeouts the tests wait with. */
const wokenSoon = (waiting: Promise<unknown>) =>
  Promise.race([waiting.then(() => 'woken'), sleep(3_000).then(() => 'still waiting')])

/** A gate a handler or `fn` waits on until the test opens it. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {}
  const opened = new Promise<void>((resolve) => {
    open = resolve
  })
  return { opened, open }
}

describe.skipIf(noRedis)('RedisStore.waitForChange', () => {
  for (const [version, make] of versions) {
    describe(`with ${version}`, () => {
      const connect = (options: RedisOptions = {}) => {
        const client = make(options)
        clients.push(client)
        return client
      }
      /** The subscription counts (`sub=`) of the connections named `name`, sorted. */
      const subscriptions = async (client: Redis5 | Redis6, name: string) => {
        const list = String(await client.client('LIST'))
        return list
          .split('\n')
          .filter((line) => line.includes(` name=${name} `))
          .map((line) => Number(/ sub=(\d+)/.exec(line)?.[1]))
          .sort()
      }

      it('replays to a duplicate waiting in another process after one claim, one check and one claim (Express)', async () => {
        // Two apps on two clients, as two processes sharing Redis.
        const prefix = `http-wait:${randomUUID()}:`
        const handler = gate()
        const appOn = (store: RedisStore, onEvent: ReturnType<typeof eventLog>['onEvent']) => {
          const app = express()
          app.use(express.json())
          app.use(idempotency({ store, onConcurrent: { waitMs: 10_000 }, onEvent }))
          app.post('/orders', async (_req, res) => {
            await handler.opened
            res.status(201).json({ ok: true })
          })
          return app
        }
        const firstLog = eventLog()
        const secondLog = eventLog()
        const firstStore = new RedisStore({ client: connect(), prefix })
        const secondClient = connect()
        const secondStore = new RedisStore({ client: secondClient, prefix })
        // Loads the scripts, so no NOSCRIPT retry is counted below.
        await secondStore.claim('warm', 'fp', 1_000)
        await secondStore.waitForChange?.('never-claimed', 1_000)
        const send = (app: express.Express) =>
          request(app).post('/orders').set('Idempotency-Key', 'k').send({ n: 1 })
        const original = send(appOn(firstStore, firstLog.onEvent)).then((res) => res)
        await vi.waitUntil(() => firstLog.count('claimed') === 1)
        const sent = counted(secondClient)
        const duplicate = send(appOn(secondStore, secondLog.onEvent)).then((res) => res)
        await vi.waitUntil(() => sent.length > 0)
        // The duplicate waits this long: a poll backing off from 10 ms claims 6 times in it.
        await sleep(500)
        handler.open()
        const [first, second] = await Promise.all([original, duplicate])
        expect(first.status).toBe(201)
        expect(second.status).toBe(201)
        expect(second.headers['idempotent-replayed']).toBe('true')
        expect(secondLog.types()).toEqual(['replayed'])
        // claim (in flight), the check once subscribed, and the claim the PUBLISH woke it for.
        expect(sent).toEqual(['evalsha', 'evalsha', 'evalsha'])
        await Promise.all([firstStore.close(), secondStore.close()])
      })

      it('wakes a waiter whose completion landed between its read and its SUBSCRIBE', async () => {
        const store = new RedisStore({ client: connect(), prefix: `race:${randomUUID()}:` })
        const claim = await store.claim('k', 'fp', 60_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        // The caller read the key in flight; it completes before the subscription is live.
        await store.complete(
          'k',
          claim.token,
          { status: 201, headers: {}, body: new Uint8Array() },
          60_000,
        )
        expect(await wokenSoon(store.waitForChange('k', 60_000))).toBe('woken')
        await store.close()
      })

      it('subscribes to the channel ioredis publishes on with a keyPrefix', async () => {
        const keyPrefix = `kp:${randomUUID()}:`
        const client = connect({ keyPrefix })
        const store = new RedisStore({ client, prefix: 'p:' })
        const claim = await store.claim('k', 'fp', 60_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const waiting = store.waitForChange('k', 60_000)
        const subscribers = async () =>
          (await client.pubsub('NUMSUB', `${keyPrefix}p:k`))[1] as number
        await vi.waitUntil(async () => (await subscribers()) === 1)
        // Lets the check made once subscribed answer first, so the PUBLISH is what wakes it.
        await sleep(50)
        await store.complete(
          'k',
          claim.token,
          { status: 200, headers: {}, body: new Uint8Array() },
          60_000,
        )
        expect(await wokenSoon(waiting)).toBe('woken')
        await vi.waitUntil(async () => (await subscribers()) === 0)
        await store.close()
      })

      it('shares one subscriber connection, a channel per waited key, until close()', async () => {
        const name = `share-${randomUUID()}`
        const client = connect({ connectionName: name })
        const store = new RedisStore({ client, prefix: `share:${randomUUID()}:` })
        const keys = ['a', 'b', 'c', 'd', 'e']
        const tokens: string[] = []
        for (const key of keys) {
          const claim = await store.claim(key, 'fp', 60_000)
          if (claim.state !== 'claimed') throw new Error('not claimed')
          tokens.push(claim.token)
        }
        const waiting = keys.flatMap((key) => [
          store.waitForChange(key, 60_000),
          store.waitForChange(key, 60_000),
        ])
        // The client and one subscriber, on 5 channels for the 10 waiters.
        await vi.waitUntil(async () => (await subscriptions(client, name)).join() === '0,5')
        const body = new Uint8Array()
        await Promise.all(
          keys.map((key, i) =>
            store.complete(key, tokens[i] as string, { status: 200, headers: {}, body }, 60_000),
          ),
        )
        expect(await wokenSoon(Promise.all(waiting))).toBe('woken')
        await vi.waitUntil(async () => (await subscriptions(client, name)).join() === '0,0')
        await store.close()
        await vi.waitUntil(async () => (await subscriptions(client, name)).join() === '0')
      })

      // One store per tenant on one client is common: a subscriber and an 'end' listener each
      // would open a connection per store and trip Node's MaxListenersExceededWarning at 11.
      it('shares one subscriber among the stores of one client, each close() ending its own waits', async () => {
        const name = `tenants-${randomUUID()}`
        const client = connect({ connectionName: name })
        const stores = Array.from(
          { length: 12 },
          (_, i) => new RedisStore({ client, prefix: `tenant-${i}:${randomUUID()}:` }),
        )
        for (const store of stores) await store.claim('k', 'fp', 60_000)
        const waiting = stores.map((store) => store.waitForChange('k', 60_000))
        await vi.waitUntil(async () => (await subscriptions(client, name)).join() === '0,12')
        expect(client.listenerCount('end')).toBeLessThanOrEqual(1)
        const [closed, ...open] = stores as [RedisStore, ...RedisStore[]]
        await closed.close()
        expect(await wokenSoon(waiting[0] as Promise<void>)).toBe('woken')
        expect(await wokenSoon(Promise.race(waiting.slice(1)))).toBe('still waiting')
        await Promise.all(open.map((store) => store.close()))
        expect(await wokenSoon(Promise.all(waiting))).toBe('woken')
        await vi.waitUntil(async () => (await subscriptions(client, name)).join() === '0')
        expect(client.listenerCount('end')).toBe(0)
      })

      it('falls back to polling while its subscriber connection is down, and still replays', async () => {
        const name = `drop-${randomUUID()}`
        // The subscriber (a duplicate, so with these options) stays down for a second.
        const client = connect({ connectionName: name, retryStrategy: () => 1_000 })
        const store = new RedisStore({ client, prefix: `drop:${randomUUID()}:` })
        const log = eventLog()
        const work = gate()
        const first = idempotent(
          store,
          'job',
          async () => {
            await work.opened
            return 'done'
          },
          { onEvent: log.onEvent },
        )
        await vi.waitUntil(() => log.count('claimed') === 1)
        const waiter = idempotent(store, 'job', async () => 'again', {
          onConcurrent: { waitMs: 10_000 },
        })
        let subscriberId = ''
        await vi.waitUntil(async () => {
          const list = String(await client.client('LIST'))
          const line = list
            .split('\n')
            .find((l) => l.includes(` name=${name} `) && / sub=1/.test(l))
          subscriberId = /^id=(\d+)/.exec(line ?? '')?.[1] ?? ''
          return subscriberId !== ''
        })
        await client.call('CLIENT', 'KILL', 'ID', subscriberId)
        // Published while nobody listens: only polling can see this completion.
        work.open()
        expect(await first).toBe('done')
        expect(await wokenSoon(waiter)).toBe('woken')
        expect(await waiter).toBe('done')
        await store.close()
      })
    })
  }
})
