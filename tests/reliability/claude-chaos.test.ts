import { AsyncLocalStorage } from 'node:async_hooks'
import Anthropic from '@anthropic-ai/sdk'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { classifyError, type MessageWithMeta, ResilientClaude } from '@steadfast/claude-adapter'
import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { longRun } from './support/processes.js'

const CALLS = longRun ? 10_000 : 2_000
const CONCURRENCY = 50
const PERMANENT_400S = 20
const PRIMARY = 'claude-sonnet-5-5'
const FALLBACK = 'claude-haiku-5-5'
const CALL_DEADLINE_MS = 10_000
/** A call still pending this long after its deadline counts as hung. */
const HANG_MS = CALL_DEADLINE_MS + 5_000

type Outcome = 'success' | 'fallback' | 'cache' | 'degrade' | 'permanent' | 'failed' | 'hung'

// Tags each upstream request with the call it belongs to, so the fake's log can be grouped per call.
const currentCall = new AsyncLocalStorage<string>()
const taggingFetch = (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
  const id = currentCall.getStore()
  if (id === undefined) return fetch(input, init)
  const headers = new Headers(init?.headers)
  headers.set('x-chaos-call', id)
  return fetch(input, { ...init, headers })
}

describe('when ResilientClaude meets faults, an outage and a rate limit', () => {
  let fake: FakeAnthropic

  beforeAll(async () => {
    fake = await startFakeAnthropic({
      seed: 42,
      // 30% transient faults in all: 10% each of 529, 500 and a dropped connection.
      faults: [
        { status: 529, probability: 0.1 },
        { status: 500, probability: 0.1 / 0.9 },
        { drop: true, probability: 0.1 / 0.8 },
      ],
      rateLimit: { requestsPerSecond: longRun ? 250 : 200, burst: 20 },
    })
  })

  afterAll(() => fake?.close())

  it(`settles all ${CALLS} calls as success, fallback, cache or degrade`, {
    timeout: longRun ? 600_000 : 180_000,
  }, async () => {
    const retriedPermanent: unknown[] = []
    let rateLimitPauses = 0
    const claude = new ResilientClaude({
      client: new Anthropic({ apiKey: 'test', baseURL: fake.url, fetch: taggingFetch }),
      fallbackModels: [FALLBACK],
      registry: new BreakerRegistry(),
      retry: {
        maxAttempts: 3,
        backoff: { initialMs: 20, multiplier: 2, maxMs: 200, jitter: 'full' },
        maxHintMs: 2_000,
      },
      breaker: {
        failureRate: { threshold: 0.6, minimumCalls: 20, window: { kind: 'count', size: 50 } },
        openMs: 1_000,
      },
      cache: { ttlMs: 3_600_000, mode: 'fallback' },
      degrade: () => 'The assistant is busy; here is a placeholder.',
      onEvent: (event) => {
        if (event.type === 'retry' && classifyError(event.error) === 'permanent') {
          retriedPermanent.push(event.error)
        }
        if (event.type === 'rate-limit-pause') rateLimitPauses++
      },
    })

    const outcomes: Outcome[] = new Array(CALLS)
    const errors = new Map<number, unknown>()
    let started = 0
    let settled = 0
    let outage: { from: number; to: number } | undefined
    const scriptEvery = Math.floor((CALLS * 0.9) / PERMANENT_400S)

    const one = async (i: number): Promise<Outcome> => {
      const call = currentCall.run(String(i), () =>
        claude.messages.createWithMeta(
          {
            model: PRIMARY,
            max_tokens: 64,
            // 150 distinct questions, so that answers can come from the cache.
            messages: [{ role: 'user', content: `question ${i % 150}` }],
          },
          { timeoutMs: CALL_DEADLINE_MS },
        ),
      )
      let timer: NodeJS.Timeout | undefined
      const hung = new Promise<'hung'>((resolve) => {
        timer = setTimeout(() => resolve('hung'), HANG_MS)
      })
      try {
        const result: MessageWithMeta | 'hung' = await Promise.race([call, hung])
        if (result === 'hung') return 'hung'
        const { source, model } = result.meta
        if (source === 'cache') return 'cache'
        if (source === 'degraded') return 'degrade'
        return model === PRIMARY ? 'success' : 'fallback'
      } catch (error) {
        errors.set(i, error)
        return (error as { status?: unknown }).status === 400 ? 'permanent' : 'failed'
      } finally {
        clearTimeout(timer)
      }
    }

    const worker = async () => {
      while (started < CALLS) {
        const i = started++
        if (i > 0 && i % scriptEvery === 0 && i / scriptEvery <= PERMANENT_400S) {
          fake.script({ status: 400, errorType: 'invalid_request_error' })
        }
        outcomes[i] = await one(i)
        settled++
        if (outage === undefined && settled >= CALLS * 0.3) {
          fake.outage(PRIMARY, { status: 529 })
          outage = { from: Date.now(), to: 0 }
        } else if (outage && outage.to === 0 && settled >= CALLS * 0.55) {
          fake.restore(PRIMARY)
          outage.to = Date.now()
        }
      }
    }
    const startedAt = Date.now()
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    const elapsedMs = Date.now() - startedAt

    const count = (o: Outcome) => outcomes.filter((x) => x === o).length
    const byCall = new Map<string, FakeAnthropic['requests']>()
    for (const request of fake.requests) {
      const id = request.headers['x-chaos-call']
      if (id === undefined) continue
      const list = byCall.get(id) ?? []
      list.push(request)
      byCall.set(id, list)
    }
    const got400 = [...byCall].filter(([, requests]) => requests.some((r) => r.status === 400))
    const summary = {
      calls: CALLS,
      elapsedMs,
      success: count('success'),
      fallback: count('fallback'),
      cache: count('cache'),
      degrade: count('degrade'),
      permanent400: count('permanent'),
      failed: count('failed'),
      hung: count('hung'),
      upstreamRequests: fake.count(),
      rateLimited429: fake.requests.filter((r) => r.status === 429).length,
      rateLimitPauses,
      outageMs: outage ? outage.to - outage.from : 0,
    }
    console.info('[chaos]', JSON.stringify(summary))

    expect(summary.hung).toBe(0)
    expect([...errors].filter(([i]) => outcomes[i] === 'failed').map(([, e]) => String(e))).toEqual(
      [],
    )
    // Each scripted 400 ended its call at once: no retry, no fallback after it.
    expect(retriedPermanent).toEqual([])
    expect(got400).toHaveLength(PERMANENT_400S)
    for (const [id, requests] of got400) {
      expect(requests.filter((r) => r.status === 400)).toHaveLength(1)
      expect(requests.at(-1)?.status, `call ${id}`).toBe(400)
      expect(outcomes[Number(id)]).toBe('permanent')
    }
    expect(summary.permanent400).toBe(PERMANENT_400S)
    expect(summary.success + summary.fallback + summary.cache + summary.degrade).toBe(
      CALLS - PERMANENT_400S,
    )
    expect(summary.fallback).toBeGreaterThan(0)
    expect(summary.cache + summary.degrade).toBeGreaterThan(0)
    expect(summary.rateLimited429 + summary.rateLimitPauses).toBeGreaterThan(0)
    claude.close()
  })
})
