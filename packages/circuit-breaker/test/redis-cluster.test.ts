import { Cluster } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { noRedisCluster, useRedisCluster } from '../../../test-support/redis-cluster.js'
import { CircuitBreaker } from '../src/index.js'
import { RedisBreakerSync } from '../src/redis.js'
import { callUntilClosed, fail, settle, uniquePrefix, waitFor } from './helpers.js'

describe.skipIf(noRedisCluster)('RedisBreakerSync on a Redis Cluster (3 masters)', () => {
  const cluster = useRedisCluster()

  async function connect(): Promise<Cluster> {
    const client = cluster.track(new Cluster(cluster.nodes()))
    await new Promise((resolve, reject) => {
      client.once('ready', resolve)
      client.once('error', reject)
    })
    return client
  }

  it('opens an instance when another trips, and closes both after one probe', async () => {
    const prefix = uniquePrefix()
    const errors: unknown[] = []
    const onError = (error: unknown) => errors.push(error)
    const [clientA, clientB] = await Promise.all([connect(), connect()])
    const syncA = new RedisBreakerSync({ client: clientA, prefix, onError })
    const syncB = new RedisBreakerSync({ client: clientB, prefix, onError })
    await Promise.all([syncA.ready(), syncB.ready()])
    const options = { name: 'payments', failureThreshold: 1, openMs: 500, probeTimeoutMs: 1_000 }
    const a = new CircuitBreaker(options)
    const b = new CircuitBreaker(options)
    syncA.attach(a)
    syncB.attach(b)

    await settle(a, fail())
    expect(await waitFor(() => b.state === 'open', 2_000)).toBe(true)
    // The trip script wrote the open key (and the trip set, in the same slot) on some master.
    expect(await clientA.pttl(`${prefix}{payments}:open`)).toBeGreaterThan(0)

    expect(await callUntilClosed(a, 3_000)).toBeLessThan(3_000)
    expect(await waitFor(() => b.state === 'closed', 2_000)).toBe(true)
    expect(await clientA.exists(`${prefix}{payments}:open`)).toBe(0)
    expect(errors).toEqual([])
    await syncA.close()
    await syncB.close()
  })
})
