import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { startRedisServer } from '../../../test-support/redis-server.js'
import { CircuitBreaker, isCircuitRedisTimeoutError } from '../src/index.js'
import { RedisBreakerSync } from '../src/redis.js'
import { callUntilClosed, fail, ok, settle, uniquePrefix, waitFor } from './helpers.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Two fleet members in this process, each with its own connections, sharing one prefix. */
function twoInstances(url: string, options: { openMs: number; probeTimeoutMs: number }) {
  const prefix = uniquePrefix()
  const errors: unknown[] = []
  const members = ['a', 'b'].map((id) => {
    const client = new Redis(url, { retryStrategy: () => 100 })
    client.on('error', () => {})
    const sync = new RedisBreakerSync({
      client,
      prefix,
      instanceId: id,
      leaseRetryMs: 100,
      onError: (error) => errors.push(error),
    })
    const breaker = new CircuitBreaker({ name: 'svc', failureThreshold: 1, ...options })
    sync.attach(breaker)
    return { client, sync, breaker }
  }) as [Member, Member]
  const leases = () => leasesHeld(members[0].client, prefix)
  const close = async () => {
    for (const { sync, client } of members) {
      await sync.close()
      client.disconnect()
    }
  }
  return { members, errors, leases, close }
}

interface Member {
  client: Redis
  sync: RedisBreakerSync
  breaker: CircuitBreaker
}

/** Probe-lease slots taken under `prefix`, whatever the key layout. */
async function leasesHeld(client: Redis, prefix: string): Promise<number> {
  let held = 0
  for (const key of await client.keys(`${prefix}*probes`)) held += await client.zcard(key)
  return held
}

/**
 * Two instances on `url` whose fleet has just opened: A tripped, B followed. Resolves with the
 * fleet (closed after the test) and when it opened.
 */
async function openedFleet(url: string, options: { openMs: number; probeTimeoutMs: number }) {
  const fleet = twoInstances(url, options)
  cleanups.push(fleet.close)
  const [a, b] = fleet.members
  await Promise.all([a.sync.ready(), b.sync.ready()])
  await settle(a.breaker, fail())
  const openedAt = Date.now()
  expect(await waitFor(() => b.breaker.state === 'open', 2_000)).toBe(true)
  return { fleet, a, b, openedAt }
}

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

describe.skipIf(noRedis)('RedisBreakerSync probe leases (real Redis)', () => {
  // openMs 1 s and probeTimeoutMs 3 s make a lease of 4 s: an instance that sits on the lease
  // delays the fleet's recovery by that long.
  const openMs = 1_000
  const leaseMs = 4_000

  describe('when the fleet is half-open and only one instance has traffic', () => {
    it('lets that instance probe at once; an idle instance takes no lease', async () => {
      const { fleet, a, b, openedAt } = await openedFleet(redisUrl, {
        openMs,
        probeTimeoutMs: 3_000,
      })
      // Traffic comes back a little after the open period, as sparse traffic does; until a call
      // wants to probe, nobody may hold the lease (on a timer, the idle B could win it).
      await sleep(openMs + 200 - (Date.now() - openedAt))
      expect(await fleet.leases()).toBe(0)
      await callUntilClosed(a.breaker, leaseMs / 2)
      expect(a.breaker.state).toBe('closed')
      expect(Date.now() - openedAt).toBeLessThan(openMs + leaseMs / 2)
      expect(await waitFor(() => b.breaker.state === 'closed', 2_000)).toBe(true)
      expect(fleet.errors).toEqual([])
    })

    it('takes back a lease an instance took for one call and then did not use', async () => {
      const { fleet, a, b, openedAt } = await openedFleet(redisUrl, {
        openMs,
        probeTimeoutMs: 3_000,
      })
      await sleep(openMs + 100 - (Date.now() - openedAt))
      expect(await fleet.leases()).toBe(0)
      // One call on B: rejected while B asks for the lease, and B gets no further traffic.
      expect((await settle(b.breaker, ok)).error).toBeDefined()
      await sleep(50)
      expect(await fleet.leases()).toBe(1)
      // Unused for twice leaseRetryMs (100 ms): given back, long before the lease would expire.
      await sleep(300)
      expect(await fleet.leases()).toBe(0)
      await callUntilClosed(a.breaker, leaseMs / 2)
      expect(a.breaker.state).toBe('closed')
      expect(Date.now() - openedAt).toBeLessThan(openMs + leaseMs / 2)
      expect(fleet.errors).toEqual([])
    })
  })

  describe('when Redis is connected but does not answer', () => {
    it('probes locally after probeTimeoutMs and closes while Redis is frozen', async () => {
      const server = await startRedisServer()
      cleanups.push(() => server.kill())
      const admin = new Redis(server.url)
      const pid = Number(/process_id:(\d+)/.exec(await admin.info('server'))?.[1])
      admin.disconnect()
      expect(pid).toBeGreaterThan(0)
      const { fleet, b } = await openedFleet(server.url, { openMs: 500, probeTimeoutMs: 1_000 })
      // SIGSTOP: the TCP connections stay up (the kernel still acks), but nothing is answered.
      process.kill(pid, 'SIGSTOP')
      try {
        const tookMs = await callUntilClosed(b.breaker, 4_000)
        expect(b.breaker.state).toBe('closed')
        // open period (500) + lease deadline (probeTimeoutMs 1000) + slack for the poll and CI
        expect(tookMs).toBeLessThan(2_500)
        expect(b.client.status).toBe('ready')
        expect(fleet.errors.some(isCircuitRedisTimeoutError)).toBe(true)
      } finally {
        // Thawed before the cleanups run, which would otherwise wait on it.
        process.kill(pid, 'SIGCONT')
      }
    })
  })
})
