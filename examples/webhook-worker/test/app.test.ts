import { createHash } from 'node:crypto'
import type { FakeAnthropic } from '@steadfast/claude-adapter/testing'
import { MemoryStore } from '@steadfast/idempotency-middleware'
import request from 'supertest'
import { beforeEach, describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import { jobIdFor } from '../src/receiver.js'
import { claudeWorker } from '../src/worker.js'
import { asAdmin, deliver, eventually, useHarness } from './support.js'

const event = (id: string) => ({ id, type: 'invoice.paid', data: { amount: 42 } })

describe('webhook-worker (in-process queue)', () => {
  const harness = useHarness()
  const app = (config: Parameters<typeof harness.app>[0] = {}) => harness.app(config)
  let fake: FakeAnthropic
  beforeEach(() => {
    fake = harness.fake
  })

  describe('when the signature is bad', () => {
    it('answers 400/401 problem+json and queues nothing', async () => {
      const { app: http, queue } = await app({ worker: false })
      const missing = await request(http).post('/webhooks/github').send({ id: 'evt_1' }).expect(400)
      expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/)
      expect(missing.body.code).toBe('WEBHOOK_SIGNATURE_INVALID')
      await deliver(http, event('evt_1'), { secret: 'forged' }).expect(401)
      await deliver(http, event('evt_1'), {
        timestamp: Math.floor(Date.now() / 1000) - 600,
      }).expect(401)
      expect(await queue.depth()).toEqual({ waiting: 0, active: 0, completed: 0, failed: 0 })
    })
  })

  describe('when deliveries repeat', () => {
    it('answers 202 at once and gives duplicates the same job without queueing again', async () => {
      const { app: http, queue } = await app({ worker: false })
      const first = await deliver(http, event('evt_dup')).expect(202)
      expect(first.body).toEqual({ jobId: jobIdFor('evt_dup'), duplicate: false })
      expect(first.headers.location).toBe(`/jobs/${first.body.jobId}`)
      const again = await deliver(http, event('evt_dup')).expect(202)
      expect(again.body).toEqual({ jobId: first.body.jobId, duplicate: true })
      expect((await queue.depth()).waiting).toBe(1)
      expect(fake.count()).toBe(0) // Claude is never called in the request path
    })

    it('keys by the signed event id, else a hash of the raw body, never by headers or path', async () => {
      const { app: http } = await app({ worker: false })
      const byId = await deliver(http, event('evt_a'), { headers: { 'Idempotency-Key': 'k-1' } })
      expect(byId.body.jobId).toBe(jobIdFor('evt_a'))
      const raw = JSON.stringify({ type: 'ping' })
      const byBody = await deliver(http, raw).expect(202)
      expect(byBody.body.jobId).toBe(jobIdFor(createHash('sha256').update(raw).digest('hex')))
    })

    it('gives a replayed signed delivery with another Idempotency-Key the same job', async () => {
      const { app: http, queue } = await app({ worker: false })
      // A captured delivery: the same body and signature header, sent again.
      const timestamp = Math.floor(Date.now() / 1000)
      const first = await deliver(http, event('evt_replay_a'), {
        timestamp,
        headers: { 'Idempotency-Key': 'k-1' },
      }).expect(202)
      const replay = await deliver(http, event('evt_replay_a'), {
        timestamp,
        headers: { 'Idempotency-Key': 'k-2' },
      }).expect(202)
      expect(replay.body).toEqual({ jobId: first.body.jobId, duplicate: true })
      expect((await queue.depth()).waiting).toBe(1)
    })

    it('gives a replayed signed delivery posted to another source path the same job', async () => {
      const { app: http, queue } = await app({ worker: false })
      const timestamp = Math.floor(Date.now() / 1000)
      const first = await deliver(http, event('evt_replay_b'), { timestamp }).expect(202)
      const replay = await deliver(http, event('evt_replay_b'), {
        timestamp,
        source: 'stripe',
      }).expect(202)
      expect(replay.body).toEqual({ jobId: first.body.jobId, duplicate: true })
      expect((await queue.depth()).waiting).toBe(1)
    })

    it('answers 400 for a signed body that is not JSON', async () => {
      const { app: http } = await app({ worker: false })
      const res = await deliver(http, '{not json').expect(400)
      expect(res.body.code).toBe('WEBHOOK_BODY_INVALID')
    })
  })

  describe('when the worker runs', () => {
    it('completes the job with a Claude summary, once', async () => {
      const { app: http } = await app()
      const { body } = await deliver(http, event('evt_run')).expect(202)
      await deliver(http, event('evt_run')).expect(202)
      const job = await eventually(async () => {
        const res = await request(http).get(`/jobs/${body.jobId}`).set(asAdmin)
        return res.body.status === 'completed' ? res.body : undefined
      })
      expect(job.result).toMatchObject({
        model: 'claude-sonnet-5-5',
        source: 'api',
        claudeAttempts: 1,
      })
      expect(job.result.summary).toContain('invoice.paid')
      expect(fake.count()).toBe(1)
    })

    it('falls back to the second model when the primary is overloaded', async () => {
      fake.outage('claude-sonnet-5-5')
      const { app: http } = await app()
      const { body } = await deliver(http, event('evt_fb')).expect(202)
      const job = await eventually(async () => {
        const res = await request(http).get(`/jobs/${body.jobId}`).set(asAdmin)
        return res.body.status === 'completed' ? res.body : undefined
      })
      expect(job.result.model).toBe('claude-haiku-5-5')
    })

    it('does not call Claude again for a job redelivered after its call completed', async () => {
      const made = await app({ worker: false })
      const handler = claudeWorker({
        claude: made.claude,
        store: new MemoryStore(),
        metrics: made.metrics,
      })
      const data = { source: 'github', key: 'k', event: event('evt_r'), receivedAt: Date.now() }
      const job = { id: 'job_redelivered', data, attempt: 1 }
      const first = await handler(job)
      const second = await handler({ ...job, attempt: 2 })
      expect(second).toEqual(first)
      expect(fake.count()).toBe(1)
      expect((await made.metrics.idempotencyHits.get()).values[0]?.value).toBe(1)
    })

    it('dead-letters a job when every model is down, instead of storing a placeholder', async () => {
      fake.outage('claude-sonnet-5-5', { status: 529 })
      fake.outage('claude-haiku-5-5', { status: 529 })
      const { app: http } = await app()
      const { body } = await deliver(http, event('evt_outage')).expect(202)
      const dead = await eventually(async () => {
        const res = await request(http).get('/dlq').set(asAdmin)
        return res.body.jobs.length > 0 ? res.body.jobs : undefined
      })
      expect(dead[0]).toMatchObject({ id: body.jobId, status: 'failed', attempts: 3 })
      fake.restore('claude-sonnet-5-5')
      fake.restore('claude-haiku-5-5')
      await request(http).post(`/dlq/${body.jobId}/replay`).set(asAdmin).expect(202)
      const job = await eventually(async () => {
        const res = await request(http).get(`/jobs/${body.jobId}`).set(asAdmin)
        return res.body.status === 'completed' ? res.body : undefined
      })
      expect(job.result.source).toBe('api')
    })

    it('dead-letters a job after its attempts and re-queues it on replay', async () => {
      // A permanent 400 is not retried inside the Claude call.
      fake.script({ status: 400, times: 3 })
      const { app: http } = await app()
      const { body } = await deliver(http, event('evt_dlq')).expect(202)
      const dead = await eventually(async () => {
        const res = await request(http).get('/dlq').set(asAdmin)
        return res.body.jobs.length > 0 ? res.body.jobs : undefined
      })
      expect(dead).toHaveLength(1)
      expect(dead[0]).toMatchObject({ id: body.jobId, status: 'failed', attempts: 3 })
      expect(dead[0].error).toMatch(/400|invalid/i)
      expect(fake.count()).toBe(3)

      await request(http).post(`/dlq/${body.jobId}/replay`).set(asAdmin).expect(202)
      const job = await eventually(async () => {
        const res = await request(http).get(`/jobs/${body.jobId}`).set(asAdmin)
        return res.body.status === 'completed' ? res.body : undefined
      })
      expect(job.result.source).toBe('api')
      expect((await request(http).get('/dlq').set(asAdmin)).body.jobs).toHaveLength(0)
      await request(http).post('/dlq/job_nope/replay').set(asAdmin).expect(404)
    })
  })

  describe('when the queue is full', () => {
    it('answers 503 with Retry-After and drops nothing silently', async () => {
      const { app: http, queue } = await app({ worker: false, maxQueued: 2 })
      await deliver(http, event('evt_f1')).expect(202)
      await deliver(http, event('evt_f2')).expect(202)
      const full = await deliver(http, event('evt_f3')).expect(503)
      expect(full.headers['retry-after']).toBe('1')
      expect(full.body.code).toBe('QUEUE_FULL')
      expect((await queue.depth()).waiting).toBe(2)
      const ready = await request(http).get('/readyz').expect(503)
      expect(ready.body).toMatchObject({ full: true, reachable: true })
      // Backpressure is not sickness: liveness stays green.
      await request(http).get('/healthz').expect(200)
    })
  })

  describe('when the request is not one the receiver serves', () => {
    it('answers an unknown route with a 404 problem', async () => {
      const { app: http } = await app({ worker: false })
      const res = await request(http).get('/nope')
      expectProblem(res, 404, 'Not Found', 'NOT_FOUND')
    })

    it('answers a delivery over the 1mb limit with a 413 problem and queues nothing', async () => {
      const { app: http, queue } = await app({ worker: false })
      const big = { ...event('evt_big'), data: { blob: 'x'.repeat(1_100_000) } }
      const res = await deliver(http, big)
      expectProblem(res, 413, 'Payload Too Large', 'WEBHOOK_BODY_TOO_LARGE')
      expect((await queue.depth()).waiting).toBe(0)
    })
  })

  describe('operations endpoints', () => {
    it('serves readiness and Prometheus metrics', async () => {
      const { app: http } = await app()
      await request(http).get('/readyz').expect(200)
      await deliver(http, event('evt_m')).expect(202)
      await deliver(http, event('evt_m')).expect(202)
      await deliver(http, event('evt_m'), { secret: 'forged' }).expect(401)
      await request(http).post('/webhooks/made-up-1').send({}).expect(400)
      await eventually(async () => (fake.count() >= 1 ? true : undefined))
      await new Promise((resolve) => setTimeout(resolve, 50))
      const metrics = (await request(http).get('/metrics').expect(200)).text
      expect(metrics).toMatch(/webhook_deliveries_received_total\{source="github"\} 2/)
      expect(metrics).not.toMatch(/made-up-1/)
      expect(metrics).toMatch(/webhook_duplicates_total 1/)
      expect(metrics).toMatch(/webhook_deliveries_rejected_total\{reason="signature-mismatch"\} 1/)
      expect(metrics).toMatch(/jobs_queued_total 1/)
      expect(metrics).toMatch(/claude_attempts_total\{model="claude-sonnet-5-5"\} 1/)
      expect(metrics).toMatch(
        /circuit_breaker_state\{breaker="claude:claude-sonnet-5-5",state="closed"\} 1/,
      )
      expect(metrics).toMatch(/idempotency_misses_total 1/)
      expect(metrics).toMatch(/dlq_depth 0/)
    })

    it('stops accepting once shutdown begins', async () => {
      const made = await app()
      const shutdown = made.shutdown(1_000)
      const res = await deliver(made.app, event('evt_late'))
      expect(res.status).toBe(503)
      await shutdown
    })
  })
})
