import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../test-support/redis.js'
import { type Answer, isProblem, postWork, seeded } from './support/http.js'
import {
  type AppProcess,
  killAll,
  longRun,
  sleep,
  startFixture,
  uniquePrefix,
} from './support/processes.js'

const PROCESSES = 4
const KEYS = 50
const PER_KEY = longRun ? 100 : 20

describe.skipIf(noRedis)('when 4 Express processes share one Redis', () => {
  const prefix = uniquePrefix('race')
  let redis: Redis
  let apps: AppProcess[] = []

  beforeAll(async () => {
    redis = new Redis(redisUrl)
    apps = await Promise.all(
      Array.from({ length: PROCESSES }, () =>
        startFixture('idempotent-app.ts', { redisUrl, prefix, effects: 'redis' }),
      ),
    )
  })

  afterAll(async () => {
    await killAll()
    await redis.quit()
  })

  it('warms up every process (JIT, sockets, Redis scripts)', async () => {
    for (const app of apps) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => postWork(app.url, { key: `warm-${app.pid}-${i}` })),
      )
      expect(answers.every((answer) => answer.status === 201)).toBe(true)
    }
  })

  it(`runs each key's handler exactly once under ${KEYS * PER_KEY} concurrent requests`, async () => {
    const random = seeded(7)
    const jobs = Array.from({ length: KEYS * PER_KEY }, (_, i) => ({
      key: `order-${i % KEYS}`,
      app: apps[Math.floor(random() * PROCESSES)] as AppProcess,
      // Spread over 600 ms so that some duplicates meet a running handler (409) and others a
      // stored response (replay); the handler takes 60 ms.
      startAfterMs: Math.floor(random() * 600),
    }))
    const answers = await Promise.all(
      jobs.map(async (job) => {
        await sleep(job.startAfterMs)
        const answer = await postWork(job.app.url, { key: job.key, delayMs: 60 })
        return { key: job.key, answer }
      }),
    )

    // The side effect, counted in Redis by the handlers themselves.
    for (let k = 0; k < KEYS; k++) {
      expect(await redis.get(`${prefix}effect:order-${k}`), `order-${k}`).toBe('1')
    }

    const originals = new Map<string, Answer>()
    const counts = { original: 0, replay: 0, conflict: 0, other: 0 }
    for (const { key, answer } of answers) {
      if (answer.status === 201 && answer.headers.get('idempotent-replayed') === null) {
        expect(originals.has(key), `second original for ${key}`).toBe(false)
        originals.set(key, answer)
        counts.original++
      } else if (answer.status === 201 && answer.headers.get('idempotent-replayed') === 'true') {
        counts.replay++
      } else if (answer.status === 409 && isProblem(answer)) {
        counts.conflict++
      } else {
        counts.other++
      }
    }
    for (const { key, answer } of answers) {
      if (answer.headers.get('idempotent-replayed') === 'true') {
        expect(answer.body).toBe(originals.get(key)?.body)
      }
    }
    const latencies = [...originals.values()].map((a) => a.doneAt - a.sentAt).sort((a, b) => a - b)
    console.info(
      '[race] original latency ms min/median/max',
      latencies[0],
      latencies[25],
      latencies.at(-1),
    )
    console.info(`[race] ${answers.length} requests over ${KEYS} keys:`, counts)
    expect(counts.other).toBe(0)
    expect(counts.original).toBe(KEYS)
    expect(counts.replay).toBeGreaterThan(0)
    expect(counts.conflict).toBeGreaterThan(0)
    expect(apps.every((app) => app.alive())).toBe(true)
  })
})

describe.skipIf(noRedis)('when Express and Koa processes share one store', () => {
  const prefix = uniquePrefix('mixed')
  let express: AppProcess
  let koa: AppProcess

  beforeAll(async () => {
    const config = { redisUrl, prefix, effects: 'redis' }
    ;[express, koa] = await Promise.all([
      // Koa's bodyparser keeps the raw bytes; Express does when asked (keepRawBody), so both
      // fingerprint the same bytes.
      startFixture('idempotent-app.ts', { ...config, keepRawBody: true }),
      startFixture('idempotent-app.ts', { ...config, framework: 'koa' }),
    ])
  })

  afterAll(() => killAll())

  // A rolling migration (or a load balancer over both) sends a client's retry to the other
  // framework: the identical request must replay, not be refused as a reused key.
  it('replays the identical retry on the other framework', async () => {
    for (const [first, second] of [
      [express, koa],
      [koa, express],
    ] as const) {
      const key = `mixed-${first.pid}`
      const original = await postWork(first.url, { key, body: { amount: 5 } })
      expect(original.status).toBe(201)
      const retry = await postWork(second.url, { key, body: { amount: 5 } })
      expect(retry.status).toBe(201)
      expect(retry.headers.get('idempotent-replayed')).toBe('true')
      expect(retry.body).toBe(original.body)
    }
  })
})
