import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  freePort,
  hasRedisServer,
  type RedisServer,
  startRedisServer,
} from '../../test-support/redis-server.js'
import { type Answer, isProblem, postWork } from './support/http.js'
import { type AppProcess, killAll, sleep, startFixture, uniquePrefix } from './support/processes.js'

const PERSISTED_KEYS = 30
const OUTAGE_MS = 1_500
const RECOVERY_LIMIT_MS = 2_000

interface Sample {
  answer?: Answer
  error?: string
  sentAt: number
}

/** Keeps `concurrency` requests with fresh keys in flight until `stop()`. */
function load(app: AppProcess, name: string, concurrency = 4) {
  const samples: Sample[] = []
  let running = true
  let n = 0
  const worker = async () => {
    while (running) {
      const sentAt = Date.now()
      const key = `${name}-load-${n++}`
      try {
        samples.push({ answer: await postWork(app.url, { key, timeoutMs: 10_000 }), sentAt })
      } catch (error) {
        samples.push({ error: String(error), sentAt })
      }
      await sleep(10)
    }
  }
  const workers = Array.from({ length: concurrency }, worker)
  return {
    samples,
    async stop() {
      running = false
      await Promise.all(workers)
    },
  }
}

describe.skipIf(!hasRedisServer())('when Redis stops and comes back under load', () => {
  const prefix = uniquePrefix('outage')
  let dir: string
  let port: number
  let server: RedisServer | undefined
  let closed: AppProcess
  let open: AppProcess

  const startServer = () =>
    startRedisServer({
      port,
      args: ['--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir],
    })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'steadfast-outage-'))
    port = await freePort()
    server = await startServer()
    const config = {
      redisUrl: server.url,
      prefix,
      effects: 'local',
      storeTimeoutMs: 500,
      failFastWhileDown: true,
    }
    ;[closed, open] = await Promise.all([
      startFixture('idempotent-app.ts', { ...config, onStoreError: 'fail-closed' }),
      startFixture('idempotent-app.ts', { ...config, onStoreError: 'fail-open' }),
    ])
  })

  afterAll(async () => {
    await killAll()
    await server?.kill()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers 503 (fail-closed) or passes through (fail-open), recovers, and loses no record', async () => {
    const persisted = new Map<string, { app: AppProcess; body: string }>()
    for (const app of [closed, open]) {
      for (let i = 0; i < PERSISTED_KEYS; i++) {
        const key = `kept-${app.pid}-${i}`
        const answer = await postWork(app.url, { key })
        expect(answer.status).toBe(201)
        persisted.set(key, { app, body: answer.body })
      }
    }

    const closedLoad = load(closed, 'closed')
    const openLoad = load(open, 'open')
    await sleep(500)
    // A crash, not a clean shutdown: with appendfsync always, every acknowledged write is on disk.
    await server?.kill()
    const downAt = Date.now()
    await sleep(OUTAGE_MS)
    const restartAt = Date.now()
    server = await startServer()
    const upAt = Date.now()
    await sleep(2_500)
    await Promise.all([closedLoad.stop(), openLoad.stop()])

    expect(closed.alive() && open.alive()).toBe(true)
    for (const { samples } of [closedLoad, openLoad]) {
      expect(samples.filter((s) => s.error !== undefined)).toEqual([])
    }
    const during = (samples: Sample[]) =>
      samples.filter((s) => s.sentAt > downAt + 50 && s.sentAt < downAt + OUTAGE_MS - 50)
    const closedDuring = during(closedLoad.samples)
    const openDuring = during(openLoad.samples)
    expect(closedDuring.length).toBeGreaterThan(10)
    expect(openDuring.length).toBeGreaterThan(10)
    for (const { answer } of closedDuring) {
      expect(answer?.status).toBe(503)
      expect(answer && isProblem(answer)).toBe(true)
    }
    for (const { answer } of openDuring) {
      expect(answer?.status).toBe(201)
      expect(answer?.headers.get('idempotent-replayed')).toBeNull()
    }

    // Recovery: from Redis answering PING again to the last refused request.
    const after = closedLoad.samples.filter((s) => s.sentAt >= upAt)
    const lastFailure = after.filter((s) => s.answer?.status !== 201).at(-1)
    const recoveryMs = lastFailure?.answer ? Math.max(0, lastFailure.answer.doneAt - upAt) : 0
    const okAfter = after.filter((s) => s.answer?.status === 201).length
    const firstOk = closedLoad.samples.find(
      (s) => s.sentAt >= restartAt && s.answer?.status === 201,
    )
    const firstOkMs = (firstOk?.answer?.doneAt ?? Number.NaN) - restartAt
    console.info(
      `[outage] during: ${closedDuring.length} x 503 (fail-closed), ${openDuring.length} x pass-through (fail-open); restart took ${upAt - restartAt} ms to answer PING; first 201 ${firstOkMs} ms after the restart began; last refusal ${recoveryMs} ms after PING; ${okAfter} x 201 after`,
    )
    expect(recoveryMs).toBeLessThan(RECOVERY_LIMIT_MS)
    expect(firstOkMs - (upAt - restartAt)).toBeLessThan(RECOVERY_LIMIT_MS)
    expect(okAfter).toBeGreaterThan(10)

    // Every record completed before the crash is still there and still replays.
    for (const [key, { app, body }] of persisted) {
      const replay = await postWork(app.url, { key })
      expect(replay.status).toBe(201)
      expect(replay.headers.get('idempotent-replayed')).toBe('true')
      expect(replay.body).toBe(body)
    }
    const redis = new Redis(server?.url ?? '')
    try {
      expect((await redis.keys(`${prefix}idem:*`)).length).toBeGreaterThanOrEqual(
        2 * PERSISTED_KEYS,
      )
    } finally {
      await redis.quit()
    }
  })

  // ioredis queues commands while disconnected by default: a claim whose store call already timed
  // out (503) may still run when Redis returns, and must not lock the key for a whole lease.
  it('lets a request refused during the outage run as soon as Redis is back (queued client)', async () => {
    const queued = await startFixture('idempotent-app.ts', {
      redisUrl: server?.url,
      prefix: `${prefix}queued:`,
      effects: 'local',
      storeTimeoutMs: 300,
      onStoreError: 'fail-closed',
    })
    await server?.kill()
    await sleep(300)
    const keys = Array.from({ length: 10 }, (_, i) => `blip-${i}`)
    const refused = await Promise.all(keys.map((key) => postWork(queued.url, { key })))
    expect(refused.map((a) => a.status)).toEqual(keys.map(() => 503))
    server = await startServer()
    const back = Date.now()
    // Clients retry until each key answers 201. The claims queued during the outage land on
    // reconnect and are released at once, so this takes well under a second — not the 60 s
    // lease a stranded claim would hold (the bound leaves room for a loaded CI machine).
    const statuses = new Map<string, number>()
    while (Date.now() - back < 10_000) {
      const pending = keys.filter((key) => statuses.get(key) !== 201)
      if (pending.length === 0) break
      const answers = await Promise.all(pending.map((key) => postWork(queued.url, { key })))
      for (const [i, key] of pending.entries()) statuses.set(key, answers[i]?.status ?? 0)
      await sleep(100)
    }
    const recoveredMs = Date.now() - back
    console.info(`[outage] every refused key ran ${recoveredMs} ms after Redis came back`)
    expect(keys.map((key) => statuses.get(key))).toEqual(keys.map(() => 201))
    expect(recoveredMs).toBeLessThan(10_000)
  })
})
