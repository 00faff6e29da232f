// The same service compiled twice, under legacy experimentalDecorators (+ emitDecoratorMetadata,
// reflect-metadata loaded, as NestJS apps run) and under TC39 standard decorators.
import 'reflect-metadata'
import { Anthropic } from '@anthropic-ai/sdk'
import { BreakerRegistry, defaultRegistry } from '@steadfast/circuit-breaker'
import { ResilientClaude } from '@steadfast/claude-adapter'
import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import request from 'supertest'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import { createApp } from '../src/app.js'

type ServiceModule = typeof import('../src/summary-service.js')

const modes: Record<'legacy' | 'standard', () => Promise<ServiceModule>> = {
  legacy: () => import('../src/summary-service.js?decorators=legacy') as Promise<ServiceModule>,
  standard: () => import('../src/summary-service.js?decorators=standard') as Promise<ServiceModule>,
}

describe.each(['legacy', 'standard'] as const)('SummaryService with %s decorators', (mode) => {
  let fake: FakeAnthropic
  let mod: ServiceModule

  beforeAll(async () => {
    fake = await startFakeAnthropic()
    mod = await modes[mode]()
  })
  afterAll(() => fake.close())
  beforeEach(() => {
    fake.reset()
    defaultRegistry.get(mod.summaryBreaker).reset()
  })

  function app(maxRecent?: number) {
    const claude = new ResilientClaude({
      client: new Anthropic({ apiKey: 'test', baseURL: fake.url }),
      fallbackModels: ['claude-haiku-5-5'],
      // A registry per test keeps the adapter's per-model breakers from leaking across tests.
      registry: new BreakerRegistry(),
    })
    return createApp(new mod.SummaryService(claude, undefined, maxRecent))
  }

  it('answers from Claude', async () => {
    const res = await request(app())
      .post('/summaries')
      .send({ text: 'The deploy failed. Rollback done.' })
      .expect(200)
    expect(res.body).toMatchObject({ source: 'claude', model: 'claude-sonnet-5-5' })
    expect(res.body.text).toContain('The deploy failed')
    expect(res.headers.warning).toBeUndefined()
  })

  it('falls back to the last good summary when Claude is down', async () => {
    const server = app()
    const text = 'Invoice 42 was paid. The customer is happy.'
    const first = await request(server).post('/summaries').send({ text }).expect(200)
    fake.outage('claude-sonnet-5-5')
    fake.outage('claude-haiku-5-5')
    const second = await request(server).post('/summaries').send({ text }).expect(200)
    expect(second.body).toMatchObject({ source: 'cache', text: first.body.text })
    expect(second.body.reason).toMatch(/Error$/)
    expect(second.headers.warning).toContain('fallback')
  })

  it('keeps the last maxRecent summaries for the fallback, the least recently stored going first', async () => {
    const server = app(2)
    const [a, b, c] = ['Build 1 passed.', 'Build 2 failed.', 'Build 3 passed.']
    // A is stored again after B, so B's is the oldest when C's comes.
    for (const text of [a, b, a, c]) {
      await request(server).post('/summaries').send({ text }).expect(200)
    }
    fake.outage('claude-sonnet-5-5')
    fake.outage('claude-haiku-5-5')
    const sources: string[] = []
    for (const text of [a, b, c]) {
      const res = await request(server).post('/summaries').send({ text }).expect(200)
      sources.push(res.body.source)
    }
    expect(sources).toEqual(['cache', 'extract', 'cache'])
  })

  it('extracts the first sentence when nothing is cached', async () => {
    fake.outage('claude-sonnet-5-5')
    fake.outage('claude-haiku-5-5')
    const res = await request(app())
      .post('/summaries')
      .send({ text: 'Disk is 95% full. Please add space soon.' })
      .expect(200)
    expect(res.body).toEqual(
      expect.objectContaining({ source: 'extract', text: 'Disk is 95% full.' }),
    )
  })

  it('times out slow attempts, aborts their requests and falls back', async () => {
    fake.script({ delayMs: 10_000, times: Number.POSITIVE_INFINITY })
    const started = Date.now()
    const res = await request(app())
      .post('/summaries')
      .send({ text: 'Slow. Very slow.' })
      .expect(200)
    const elapsed = Date.now() - started
    expect(res.body.source).toBe('extract')
    // Two attempts of 1.5 s each plus a short backoff, never the fake's 10 s.
    expect(elapsed).toBeLessThan(8_000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(fake.requests.length).toBeGreaterThanOrEqual(2)
    expect(fake.requests.every((r) => r.outcome === 'client-closed')).toBe(true)
  }, 15_000)

  it('moves on to the fallback model when the primary hangs, within @Timeout', async () => {
    fake.script({ model: 'claude-sonnet-5-5', delayMs: 10_000, times: Number.POSITIVE_INFINITY })
    const res = await request(app()).post('/summaries').send({ text: 'Hang. On.' }).expect(200)
    expect(res.body).toMatchObject({ source: 'claude', model: 'claude-haiku-5-5' })
  }, 15_000)

  it('opens the shared breaker after repeated failures and stops calling Claude', async () => {
    const server = app()
    fake.outage('claude-sonnet-5-5')
    fake.outage('claude-haiku-5-5')
    for (let i = 0; i < 3; i++) {
      await request(server)
        .post('/summaries')
        .send({ text: `Outage ${i}.` })
        .expect(200)
    }
    expect(defaultRegistry.get(mod.summaryBreaker).state).toBe('open')
    const before = fake.count()
    const res = await request(server).post('/summaries').send({ text: 'Another one.' }).expect(200)
    expect(res.body).toMatchObject({ source: 'extract', reason: 'CircuitOpenError' })
    expect(fake.count()).toBe(before)
  })

  it('answers 400 problem+json without text', async () => {
    const res = await request(app()).post('/summaries').send({})
    expectProblem(res, 400, 'Text required', 'SUMMARY_TEXT_REQUIRED')
  })

  it('answers a 502 problem, not a fallback, when Claude rejects the API key', async () => {
    fake.script({ status: 401, times: Number.POSITIVE_INFINITY })
    const res = await request(app())
      .post('/summaries')
      .send({ text: 'Invoice 42 was paid. The customer is happy.' })
    expectProblem(res, 502, 'Bad Gateway', 'SUMMARY_UPSTREAM_ERROR')
    expect(res.headers.warning).toBeUndefined()
    // A caller or configuration error is not retried either.
    expect(fake.count()).toBe(1)
  })

  it('answers a 502 problem when Claude rejects the request as forbidden', async () => {
    fake.script({ status: 403, times: Number.POSITIVE_INFINITY })
    const res = await request(app()).post('/summaries').send({ text: 'Forbidden. Really.' })
    expectProblem(res, 502, 'Bad Gateway', 'SUMMARY_UPSTREAM_ERROR')
  })

  describe('when the request is not one the service serves', () => {
    it('answers an unknown route with a 404 problem', async () => {
      expectProblem(await request(app()).get('/nope'), 404, 'Not Found', 'NOT_FOUND')
    })

    it('answers malformed JSON with a 400 problem', async () => {
      const res = await request(app())
        .post('/summaries')
        .set('content-type', 'application/json')
        .send('{"text": oops')
      expectProblem(res, 400, 'Invalid JSON', 'INVALID_JSON')
      expect(fake.count()).toBe(0)
    })

    it('answers a body over the 100kb limit with a 413 problem', async () => {
      const res = await request(app())
        .post('/summaries')
        .send({ text: 'x'.repeat(200_000) })
      expectProblem(res, 413, 'Payload Too Large', 'PAYLOAD_TOO_LARGE')
      expect(fake.count()).toBe(0)
    })
  })
})

describe('createApp() problems outside the decorated stack', () => {
  it('answers an error without an HTTP status with a 500 INTERNAL_ERROR problem', async () => {
    const broken = createApp({
      summarize: () => Promise.reject(new TypeError('a bug in the summarizer')),
    })
    const res = await request(broken).post('/summaries').send({ text: 'Anything.' })
    expectProblem(res, 500, 'Internal Server Error', 'INTERNAL_ERROR')
    expect(res.text).not.toContain('a bug')
  })

  it('answers another client error of the body parser with a BAD_REQUEST problem', async () => {
    const res = await request(createApp({ summarize: () => Promise.reject(new Error('unused')) }))
      .post('/summaries')
      .set('content-type', 'application/json')
      .set('content-encoding', 'no-such-coding')
      .send('{"text":"hi"}')
    expectProblem(res, 415, 'Unsupported Media Type', 'BAD_REQUEST')
  })
})
