import { randomBytes } from 'node:crypto'
import type { FakeAnthropic } from '@steadfast/claude-adapter/testing'
import request from 'supertest'
import { beforeEach, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { freePort } from '../../../test-support/redis-server.js'
import { BullQueue, QueueUnavailableError } from '../src/bullmq-queue.js'
import { signatureHeader, signPayload } from '../src/signature.js'
import { asAdmin, deliver, eventually, runSource, secret, useHarness } from './support.js'

const event = (id: string) => ({ id, type: 'deploy.failed', data: { service: 'api' } })
const unique = () => randomBytes(6).toString('hex')

describe.skipIf(noRedis)('webhook-worker on BullMQ + Redis', () => {
  const harness = useHarness()
  let fake: FakeAnthropic
  beforeEach(() => {
    fake = harness.fake
  })

  it('shares dedupe and work between two receivers and two workers', async () => {
    const queueName = `webhooks-${unique()}`
    const a = await harness.app({ redisUrl, queueName })
    const b = await harness.app({ redisUrl, queueName })
    const id = `evt_${unique()}`
    const first = await deliver(a.app, event(id)).expect(202)
    const second = await deliver(b.app, event(id)).expect(202)
    expect(second.body).toEqual({ jobId: first.body.jobId, duplicate: true })
    const job = await eventually(async () => {
      const res = await request(b.app).get(`/jobs/${first.body.jobId}`).set(asAdmin)
      return res.body.status === 'completed' ? res.body : undefined
    })
    expect(job.result.model).toBe('claude-sonnet-5-5')
    expect(fake.count()).toBe(1)
  })

  // The sender retries a 503; one for an event already queued would only repeat until the
  // backlog drains, and a 503 says "not accepted" about a job that was.
  it('answers a redelivery of a queued event as a duplicate even when the queue is full', async () => {
    const queueName = `webhooks-${unique()}`
    const { app: http } = await harness.app({ redisUrl, queueName, worker: false, maxQueued: 1 })
    const id = `evt_${unique()}`
    const first = await deliver(http, event(id)).expect(202)
    await deliver(http, event(`evt_${unique()}`)).expect(503)
    const again = await deliver(http, event(id)).expect(202)
    expect(again.body).toEqual({ jobId: first.body.jobId, duplicate: true })
  })

  it('dead-letters into the failed set and replays from it', async () => {
    fake.script({ status: 400, times: 3 })
    const app = await harness.app({ redisUrl, queueName: `webhooks-${unique()}` })
    const { body } = await deliver(app.app, event(`evt_${unique()}`)).expect(202)
    await eventually(async () => {
      const res = await request(app.app).get('/dlq').set(asAdmin)
      return res.body.jobs.some((j: { id: string }) => j.id === body.jobId) ? true : undefined
    })
    await request(app.app).post(`/dlq/${body.jobId}/replay`).set(asAdmin).expect(202)
    const job = await eventually(async () => {
      const res = await request(app.app).get(`/jobs/${body.jobId}`).set(asAdmin)
      return res.body.status === 'completed' ? res.body : undefined
    })
    expect(job.result.source).toBe('api')
  })

  it('pages the failed set without gaps or repeats', async () => {
    const queue = new BullQueue({ redisUrl, name: `pages-${unique()}`, attempts: 1 })
    try {
      queue.start(() => Promise.reject(new Error('poison')), { concurrency: 1 })
      for (const id of ['job_p1', 'job_p2', 'job_p3']) {
        await queue.enqueue(id, { source: 's', key: id, event: {}, receivedAt: Date.now() })
      }
      await eventually(async () => ((await queue.depth()).failed === 3 ? true : undefined))
      const first = await queue.deadLetters(undefined, 2)
      const rest = await queue.deadLetters(first.at(-1), 2)
      expect(first).toHaveLength(2)
      expect(rest).toHaveLength(1)
      expect(new Set([...first, ...rest].map((job) => job.id))).toEqual(
        new Set(['job_p1', 'job_p2', 'job_p3']),
      )
    } finally {
      await queue.close(1_000)
    }
  })

  it('answers unavailable, instead of hanging, when Redis does not answer', async () => {
    const down = `redis://127.0.0.1:${await freePort()}`
    const queue = new BullQueue({ redisUrl: down, name: `down-${unique()}`, redisTimeoutMs: 200 })
    try {
      expect(await queue.ping()).toBe(false)
      const job = { source: 's', key: 'k', event: {}, receivedAt: Date.now() }
      await expect(queue.enqueue('job_down', job)).rejects.toBeInstanceOf(QueueUnavailableError)
      await expect(queue.depth()).rejects.toBeInstanceOf(QueueUnavailableError)
    } finally {
      await queue.close(200)
    }
  })

  it('closes within its bound while a job is still running', async () => {
    const queue = new BullQueue({ redisUrl, name: `bound-${unique()}` })
    let started = false
    queue.start(
      () =>
        new Promise((resolve) => {
          started = true
          setTimeout(resolve, 10_000).unref()
        }),
      { concurrency: 1 },
    )
    await queue.enqueue('job_slow', { source: 's', key: 'k', event: {}, receivedAt: Date.now() })
    await eventually(async () => (started ? true : undefined))
    const closing = Date.now()
    await queue.close(500)
    // Before, Worker.close(true) waited for the 10 s job: the bound did nothing.
    expect(Date.now() - closing).toBeLessThan(5_000)
  }, 20_000)

  it('loses no accepted job when SIGTERM arrives mid-load', async () => {
    const queueName = `webhooks-${unique()}`
    const port = await freePort()
    fake.script({ delayMs: 150, times: Number.POSITIVE_INFINITY })
    const { child, output } = runSource('server.ts', [], {
      REDIS_URL: redisUrl,
      WEBHOOK_SECRET: secret,
      PORT: String(port),
      QUEUE_NAME: queueName,
      FAKE_ANTHROPIC_URL: fake.url,
      CONCURRENCY: '4',
      SHUTDOWN_TIMEOUT_MS: '3000',
    })
    const exited = new Promise<number | null>((resolve) =>
      child.once('exit', (code) => resolve(code)),
    )
    await eventually(
      async () => (output().includes('webhook-worker on') ? true : undefined),
      20_000,
    )

    const accepted: string[] = []
    let stopped = false
    const senders = Array.from({ length: 4 }, async (_, s) => {
      for (let i = 0; !stopped && i < 200; i++) {
        const body = JSON.stringify(event(`evt_${s}_${i}_${queueName}`))
        const res = await fetch(`http://127.0.0.1:${port}/webhooks/load`, {
          method: 'POST',
          headers: { [signatureHeader]: signPayload(secret, body, Math.floor(Date.now() / 1000)) },
          body,
        }).catch(() => undefined)
        if (res?.status === 202) accepted.push(((await res.json()) as { jobId: string }).jobId)
        else if (res) await res.arrayBuffer()
        else break
      }
    })
    // Under load, not after a fixed time: a busy machine may accept only a few in 600 ms.
    await eventually(async () => (accepted.length >= 20 ? true : undefined), 20_000)
    child.kill('SIGTERM')
    const code = await exited
    stopped = true
    await Promise.all(senders)
    expect(code, output()).toBe(0)

    // Every accepted job is completed or still in the queue (waiting, delayed, or active with a
    // lock that BullMQ's stalled check hands to the next worker).
    const queue = new BullQueue({ redisUrl, name: queueName })
    try {
      const states = await Promise.all(
        accepted.map(async (id) => (await queue.get(id))?.status ?? 'lost'),
      )
      expect(states.filter((s) => s === 'lost')).toEqual([])
      expect(states.filter((s) => s === 'completed').length).toBeGreaterThan(0)
      expect(states.some((s) => s !== 'completed')).toBe(true)
    } finally {
      await queue.close(1_000)
    }
  }, 60_000)
})
