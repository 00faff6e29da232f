import { storageKey } from '@steadfast/idempotency-middleware'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../test-support/redis.js'
import { type Answer, postWork } from './support/http.js'
import {
  type AppProcess,
  killAll,
  sleep,
  startFixture,
  tagged,
  uniquePrefix,
  waitFor,
} from './support/processes.js'

const KEYS = 20
const LEASE_MS = 1_500

/** Retries like a well-behaved client: on 409 or a dropped connection, again after a pause. */
async function untilStored(apps: AppProcess[], key: string): Promise<Answer> {
  for (let attempt = 0; ; attempt++) {
    const app = apps[attempt % apps.length] as AppProcess
    const answer = await postWork(app.url, { key }).catch(() => undefined)
    if (answer && answer.status !== 409) return answer
    await sleep(100)
  }
}

describe.skipIf(noRedis)('when a process dies mid-handler', () => {
  const prefix = uniquePrefix('crash')
  let redis: Redis
  let victim: AppProcess
  let survivors: AppProcess[]

  beforeAll(async () => {
    redis = new Redis(redisUrl)
    const config = { redisUrl, prefix, effects: 'redis', leaseMs: LEASE_MS }
    ;[victim, ...survivors] = await Promise.all([
      // Only the victim's handler is slow; every request is identical, as a client's retry is.
      startFixture('idempotent-app.ts', { ...config, handlerDelayMs: 60_000 }),
      startFixture('idempotent-app.ts', config),
      startFixture('idempotent-app.ts', config),
    ])
  })

  afterAll(async () => {
    await killAll()
    await redis.quit()
  })

  it('lets retries run once the lease lapses, and never commits a side effect twice', async () => {
    const keys = Array.from({ length: KEYS }, (_, i) => `pay-${i}`)
    const inFlight = keys.map((key) =>
      postWork(victim.url, { key }).then(
        (answer) => answer.status,
        () => 'dropped' as const,
      ),
    )
    await waitFor(
      async () => (await redis.mget(keys.map((k) => `${prefix}started:${k}`))).every(Boolean),
      15_000,
      'every handler to start on the victim',
    )
    await victim.signal('SIGKILL')
    const killedAt = Date.now()
    expect(await Promise.all(inFlight)).toEqual(keys.map(() => 'dropped'))

    // The dead owner's lease still holds: an immediate retry is told to wait, not run twice.
    const early = await Promise.all(keys.map((key) => postWork(survivors[0]?.url ?? '', { key })))
    expect(early.map((a) => a.status)).toEqual(keys.map(() => 409))
    expect(early.every((a) => Number(a.headers.get('retry-after')) >= 1)).toBe(true)

    const retried = await Promise.all(keys.map((key) => untilStored(survivors, key)))
    const recoveredMs = Date.now() - killedAt
    console.info(
      `[crash] all ${KEYS} keys completed ${recoveredMs} ms after SIGKILL (lease ${LEASE_MS} ms)`,
    )
    expect(recoveredMs).toBeGreaterThanOrEqual(LEASE_MS - 600)
    for (const [i, answer] of retried.entries()) {
      expect(answer.status).toBe(201)
      expect(JSON.parse(answer.body)).toMatchObject({ key: keys[i], run: 1 })
    }
    // Started twice (the victim, then the retry), committed once.
    for (const key of keys) {
      expect(await redis.get(`${prefix}started:${key}`)).toBe('2')
      expect(await redis.get(`${prefix}effect:${key}`)).toBe('1')
    }
    const replays = await Promise.all(keys.map((key) => postWork(survivors[1]?.url ?? '', { key })))
    for (const [i, answer] of replays.entries()) {
      expect(answer.headers.get('idempotent-replayed')).toBe('true')
      expect(answer.body).toBe(retried[i]?.body)
    }
    expect(survivors.every((app) => app.alive())).toBe(true)
  })

  it("refuses a paused zombie's late write: the record keeps the new owner's response", async () => {
    const zombie = await startFixture('idempotent-app.ts', {
      redisUrl,
      prefix,
      effects: 'redis',
      leaseMs: 600,
      handlerDelayMs: 300,
    })
    const key = 'zombie-1'
    const recordKey = `${prefix}idem:${storageKey('', key)}`
    const zombieAnswer = postWork(zombie.url, { key })
    await waitFor(async () => (await redis.get(`${prefix}started:${key}`)) === '1', 10_000, 'start')
    // A stop-the-world pause (GC, VM freeze, SIGSTOP): no renewals, the lease lapses.
    await zombie.signal('SIGSTOP')
    await waitFor(async () => (await redis.exists(recordKey)) === 0, 5_000, 'the lease to lapse')

    const owner = await postWork(survivors[0]?.url ?? '', { key })
    expect(owner.status).toBe(201)
    expect(JSON.parse(owner.body)).toMatchObject({ run: 1, pid: survivors[0]?.pid })

    await zombie.signal('SIGCONT')
    const late = await zombieAnswer
    // The zombie's handler did finish (its own client gets its answer) ...
    expect(late.status).toBe(201)
    expect(JSON.parse(late.body)).toMatchObject({ run: 2, pid: zombie.pid })
    // ... but its write was fenced off by token: the store kept the new owner's response.
    await waitFor(
      () =>
        tagged<{ type: string; keyHash: string }>(zombie, 'EVENT').some(
          (e) => e.type === 'lease-lost' && e.keyHash === storageKey('', key),
        ),
      5_000,
      'the zombie to report its lost lease',
    )
    // The record ends with the stored body's bytes (see RedisStore's record layout).
    expect((await redis.getBuffer(recordKey))?.toString().endsWith(owner.body)).toBe(true)
    const replay = await postWork(survivors[1]?.url ?? '', { key })
    expect(replay.headers.get('idempotent-replayed')).toBe('true')
    expect(replay.body).toBe(owner.body)
  })
})
