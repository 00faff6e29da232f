import { randomUUID } from 'node:crypto'
import express from 'express'
import { Cluster as Cluster5 } from 'ioredis'
import { Cluster as Cluster6 } from 'ioredis6'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { noRedisCluster, useRedisCluster } from '../../../test-support/redis-cluster.js'
import { idempotency } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import { describeStore } from '../src/testing.js'

describe.skipIf(noRedisCluster)('RedisStore on a Redis Cluster (3 masters)', () => {
  const cluster = useRedisCluster()

  for (const [version, Cluster] of [
    ['ioredis 5', Cluster5],
    ['ioredis 6', Cluster6],
  ] as const) {
    const connect = () => cluster.track(new Cluster(cluster.nodes()))

    describeStore(
      `redis cluster (${version})`,
      () => new RedisStore({ client: connect(), prefix: `conf:${randomUUID()}:` }),
    )

    it(`guards an Express app with keys on every master (${version})`, async () => {
      const client = connect()
      const prefix = `app:${randomUUID()}:`
      let runs = 0
      const app = express()
      app.use(express.json())
      app.use(idempotency({ store: new RedisStore({ client, prefix }) }))
      app.post('/orders', (req, res) => {
        runs++
        setTimeout(() => res.status(201).json({ order: req.body.n, run: runs }), 20)
      })
      const keys = Array.from({ length: 60 }, (_, n) => `order-${n}`)
      const send = (key: string, n: number) =>
        request(app).post('/orders').set('Idempotency-Key', key).send({ n })
      const first = await Promise.all(keys.map((key, n) => send(key, n)))
      expect(first.map((res) => res.status)).toEqual(keys.map(() => 201))
      const replays = await Promise.all(keys.map((key, n) => send(key, n)))
      expect(replays.every((res) => res.headers['idempotent-replayed'] === 'true')).toBe(true)
      expect(replays.map((res) => res.body)).toEqual(first.map((res) => res.body))
      expect(runs).toBe(keys.length)
      // The storage keys are hashes, so they spread over the slots: every master holds some.
      const held = await Promise.all(
        client.nodes('master').map(async (node) => (await node.keys(`${prefix}*`)).length),
      )
      expect(held).toHaveLength(3)
      expect(held.every((count) => count > 0)).toBe(true)

      const racing = await Promise.all(Array.from({ length: 50 }, () => send('one-key', 1)))
      expect(runs).toBe(keys.length + 1)
      const statuses = racing.map((res) => res.status).sort()
      expect(statuses.filter((status) => status === 201)).toHaveLength(1)
      expect(statuses.filter((status) => status !== 201).every((status) => status === 409)).toBe(
        true,
      )
    })
  }
})
