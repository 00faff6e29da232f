import { Anthropic, type APIError } from '@anthropic-ai/sdk'
import { BreakerRegistry, isCircuitOpenError } from '@steadfast/circuit-breaker'
import { MemoryStore } from '@steadfast/idempotency-middleware'
import { describe, expect, it } from 'vitest'
import {
  type CallOptions,
  type ClaudeUnavailableError,
  classifyError,
  isClaudeAttemptTimeoutError,
  isClaudeTimeoutError,
  isClaudeUnavailableError,
  isDegraded,
  isIdempotencyKeyReuseError,
  isRateLimitPausedError,
  isRefusalError,
  isResponseValidationError,
  isRetryable,
  isTruncatedResponseError,
  ResilientClaude,
} from '../src/index.js'
import { FALLBACK, PRIMARY, params, rejection, setup } from './helpers.js'

describe('ResilientClaude', () => {
  describe('when transient faults precede a success', () => {
    it('retries exactly as many times as there are faults', async () => {
      const { fake, claude } = await setup({
        faults: [{ status: 529 }, { status: 500 }, { drop: true }],
      })
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(message.content[0]).toMatchObject({ text: 'Echo: hello there world' })
      expect(meta).toMatchObject({ model: PRIMARY, attempts: 4, source: 'api' })
      expect(meta.usage?.output_tokens).toBe(6)
      expect(fake.requests.map((r) => r.outcome)).toEqual(['error', 'error', 'dropped', 'ok'])
      // The SDK never retried on its own: every request is a first try for it.
      expect(fake.requests.every((r) => r.headers['x-stainless-retry-count'] === '0')).toBe(true)
    })

    it('retries a JSON body cut half way (undici `terminated`)', async () => {
      const { fake, claude } = await setup({ faults: [{ cutAfterEvents: 0, stream: false }] })
      await claude.messages.create(params)
      expect(fake.count()).toBe(2)
    })
  })

  describe('when the primary model is overloaded', () => {
    it('answers from the fallback model after the primary’s attempts run out', async () => {
      const { fake, claude, events } = await setup({}, { fallbackModels: [FALLBACK] })
      fake.outage(PRIMARY)
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(message.model).toBe(FALLBACK)
      expect(meta).toMatchObject({ model: FALLBACK, attempts: 5, models: [PRIMARY, FALLBACK] })
      expect(fake.count(PRIMARY)).toBe(4)
      expect(fake.count(FALLBACK)).toBe(1)
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'fallback', from: PRIMARY, to: FALLBACK }),
      )
      expect(events.filter((e) => e.type === 'retry')).toHaveLength(3)
    })

    it('throws ClaudeUnavailableError listing every model when all fail', async () => {
      const { fake, claude } = await setup({}, { fallbackModels: [FALLBACK] })
      fake.outage(PRIMARY)
      fake.outage(FALLBACK, { status: 503 })
      const error = (await rejection(claude.messages.create(params))) as ClaudeUnavailableError
      expect(isClaudeUnavailableError(error)).toBe(true)
      expect(error.failures.map((f) => f.model)).toEqual([PRIMARY, FALLBACK])
      expect(classifyError(error)).toBe('transient')
      expect(fake.count()).toBe(8)
    })
  })

  describe('when the error is permanent', () => {
    it('sends a 401 once: no retry, no fallback', async () => {
      const { fake, claude } = await setup(
        { faults: [{ status: 401, times: Number.POSITIVE_INFINITY }] },
        { fallbackModels: [FALLBACK] },
      )
      const error = await rejection(claude.messages.create(params))
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError)
      expect(fake.count()).toBe(1)
    })

    it('treats a spend-limit 429 as permanent', async () => {
      const { fake, claude } = await setup(
        {
          faults: [
            {
              status: 429,
              errorCode: 'enforced_spend_limit_reached',
              retryAfter: 1,
              times: Number.POSITIVE_INFINITY,
            },
          ],
        },
        { fallbackModels: [FALLBACK] },
      )
      const error = await rejection(claude.messages.create(params))
      expect((error as APIError).errorCode).toBe('enforced_spend_limit_reached')
      expect(fake.count()).toBe(1)
    })

    it('obeys x-should-retry: false on a 500', async () => {
      const { fake, claude } = await setup({ faults: [{ status: 500, shouldRetry: false }] })
      await rejection(claude.messages.create(params))
      expect(fake.count()).toBe(1)
    })

    it('never retries or falls back on a 400, even with x-should-retry: true', async () => {
      const { fake, claude } = await setup(
        { faults: [{ status: 400, shouldRetry: true, times: Number.POSITIVE_INFINITY }] },
        { fallbackModels: [FALLBACK] },
      )
      expect(await rejection(claude.messages.create(params))).toBeInstanceOf(
        Anthropic.BadRequestError,
      )
      expect(fake.count()).toBe(1)
    })

    it('falls back on a 404 for a retired model', async () => {
      const { fake, claude } = await setup({}, { fallbackModels: [FALLBACK] })
      fake.outage(PRIMARY, { status: 404, message: `model: ${PRIMARY}` })
      const message = await claude.messages.create(params)
      expect(message.model).toBe(FALLBACK)
      expect(fake.count(PRIMARY)).toBe(1)
    })

    it('throws a permanent ClaudeUnavailableError, not degraded, when no model exists', async () => {
      let degraded = 0
      const { fake, claude } = await setup(
        {},
        {
          fallbackModels: [FALLBACK],
          degrade: () => {
            degraded += 1
            return 'busy'
          },
        },
      )
      fake.outage(PRIMARY, { status: 404, message: `model: ${PRIMARY}` })
      fake.outage(FALLBACK, { status: 404, message: `model: ${FALLBACK}` })
      const error = (await rejection(claude.messages.create(params))) as ClaudeUnavailableError
      expect(isClaudeUnavailableError(error)).toBe(true)
      expect(error.failures.map((f) => f.model)).toEqual([PRIMARY, FALLBACK])
      expect(classifyError(error)).toBe('permanent')
      expect(isRetryable(error)).toBe(false)
      expect(degraded).toBe(0)
      expect(fake.count()).toBe(2)
      // One model that is only overloaded keeps the call transient: a later call may succeed.
      fake.outage(PRIMARY)
      const { meta } = await claude.messages.createWithMeta(params)
      expect(meta.source).toBe('degraded')
      expect(degraded).toBe(1)
    })

    it('does not fall back on a 400', async () => {
      const { fake, claude } = await setup(
        { faults: [{ status: 400, times: Number.POSITIVE_INFINITY }] },
        { fallbackModels: [FALLBACK] },
      )
      await rejection(claude.messages.create(params))
      expect(fake.count()).toBe(1)
    })
  })

  describe('when rate limited', () => {
    it('waits at least retry-after (1 s) before the next request', async () => {
      const { fake, claude, events } = await setup({ faults: [{ status: 429, retryAfter: 1 }] })
      await claude.messages.create(params)
      const [first, second] = fake.requests
      expect(first?.status).toBe(429)
      // Timestamps are the fake's own; allow a few ms of timer jitter.
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990)
      expect(events).toContainEqual({ type: 'rate-limit-pause', delayMs: 1000 })
    })

    it('honours retry-after-ms over retry-after', async () => {
      const { fake, claude } = await setup({
        faults: [{ status: 529, retryAfterMs: 300, retryAfter: 5 }],
      })
      await claude.messages.create(params)
      const [first, second] = fake.requests
      const gap = (second?.at ?? 0) - (first?.at ?? 0)
      expect(gap).toBeGreaterThanOrEqual(290)
      expect(gap).toBeLessThan(2_000)
    })

    it('honours retry-after as an HTTP date', async () => {
      const { fake, claude } = await setup()
      // HTTP dates have whole seconds: two seconds ahead is at least one second away.
      fake.script({ status: 503, retryAfter: new Date(Date.now() + 2_000).toUTCString() })
      await claude.messages.create(params)
      const [first, second] = fake.requests
      expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(990)
    })

    it('holds other callers of the same model during the pause', async () => {
      const { fake, claude, events } = await setup({ faults: [{ status: 429, retryAfter: 1 }] })
      const first = claude.messages.create(params)
      while (!events.some((e) => e.type === 'rate-limit-pause')) {
        await new Promise((resolve) => setTimeout(resolve, 5))
      }
      const pausedAt = fake.requests[0]?.at ?? 0
      await Promise.all([first, claude.messages.create(params)])
      expect(fake.count()).toBe(3)
      for (const request of fake.requests.slice(1)) {
        expect(request.at - pausedAt).toBeGreaterThanOrEqual(990)
      }
    })

    it('moves to the fallback at once when retry-after exceeds what is left of timeoutMs', async () => {
      const { fake, claude } = await setup(
        { faults: [{ status: 429, retryAfter: 30, model: PRIMARY }] },
        { fallbackModels: [FALLBACK] },
      )
      const started = Date.now()
      const { message } = await claude.messages.createWithMeta(params, { timeoutMs: 5_000 })
      expect(message.model).toBe(FALLBACK)
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(fake.count(PRIMARY)).toBe(1)
    })
  })

  describe('when a 429 asks for longer than retry.maxHintMs (no timeoutMs)', () => {
    it.each([
      ['retry-after', { retryAfter: 3 }],
      ['retry-after-ms', { retryAfterMs: 3_000 }],
    ] as const)('moves to the fallback at once on %s, without sleeping', async (_, hint) => {
      const { fake, claude, events } = await setup(
        { faults: [{ status: 429, model: PRIMARY, ...hint }] },
        { fallbackModels: [FALLBACK], retry: { maxAttempts: 3, maxHintMs: 300 } },
      )
      const { message } = await claude.messages.createWithMeta(params)
      expect(message.model).toBe(FALLBACK)
      // Before: a retry sleeping maxHintMs, only to find the model still paused.
      expect(events.map((e) => e.type)).toEqual([
        'attempt',
        'rate-limit-pause',
        'fallback',
        'attempt',
      ])
      expect(fake.count(PRIMARY)).toBe(1)
    })
  })

  describe('when a 429 paused a model longer than a later call can wait', () => {
    it('moves that later call to the fallback at once, without queueing', async () => {
      const { fake, claude } = await setup(
        { faults: [{ status: 429, retryAfter: 30, model: PRIMARY }] },
        { fallbackModels: [FALLBACK] },
      )
      const first = await claude.messages.createWithMeta(params, { timeoutMs: 3_000 })
      expect(first.meta.model).toBe(FALLBACK)
      const started = Date.now()
      const { meta } = await claude.messages.createWithMeta(params, { timeoutMs: 3_000 })
      // Without the check the call queued behind the 30 s pause until its 3 s deadline.
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(meta).toMatchObject({ model: FALLBACK, source: 'api', attempts: 1 })
      expect(fake.count(PRIMARY)).toBe(1)
    })

    it('rejects with RateLimitPausedError (infrastructure) as cause when there is no fallback', async () => {
      const { fake, claude } = await setup({ faults: [{ status: 429, retryAfter: 30 }] })
      await rejection(claude.messages.create(params, { timeoutMs: 1_000 }))
      const error = (await rejection(
        claude.messages.create(params, { timeoutMs: 1_000 }),
      )) as ClaudeUnavailableError
      expect(isRateLimitPausedError(error.cause)).toBe(true)
      expect(classifyError(error.cause)).toBe('infrastructure')
      expect(fake.count()).toBe(1)
    })
  })

  describe('when a model keeps failing', () => {
    it('opens its breaker; the fake sees no more calls for that model while open', async () => {
      const { fake, claude, events } = await setup(
        {},
        {
          fallbackModels: [FALLBACK],
          retry: { maxAttempts: 1 },
          breaker: { failureThreshold: 3, openMs: 60_000 },
        },
      )
      fake.outage(PRIMARY)
      for (let i = 0; i < 3; i++) await claude.messages.create(params)
      expect(fake.count(PRIMARY)).toBe(3)
      expect(events).toContainEqual({ type: 'breaker', model: PRIMARY, from: 'closed', to: 'open' })
      for (let i = 0; i < 5; i++) {
        const { message, meta } = await claude.messages.createWithMeta(params)
        expect(message.model).toBe(FALLBACK)
        expect(meta.attempts).toBe(1)
      }
      expect(fake.count(PRIMARY)).toBe(3)
      expect(fake.count(FALLBACK)).toBe(8)
    })

    it('counts a 503 with x-should-retry: false as a breaker failure and falls back', async () => {
      const registry = new BreakerRegistry()
      const { fake, claude } = await setup(
        {},
        { registry, fallbackModels: [FALLBACK], breaker: { failureThreshold: 2, openMs: 60_000 } },
      )
      fake.outage(PRIMARY, { status: 503, shouldRetry: false })
      for (let i = 0; i < 3; i++) {
        const { message, meta } = await claude.messages.createWithMeta(params)
        expect(message.model).toBe(FALLBACK)
        expect(meta.source).toBe('api')
      }
      // One request per call (the header stops retries of that model), none once open.
      expect(fake.count(PRIMARY)).toBe(2)
      expect(registry.get(`claude:${PRIMARY}`).state).toBe('open')
    })

    it('rejects with the open breaker as cause when there is no fallback', async () => {
      const { fake, claude } = await setup(
        {},
        { retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1, openMs: 60_000 } },
      )
      fake.outage(PRIMARY)
      await rejection(claude.messages.create(params))
      const error = (await rejection(claude.messages.create(params))) as ClaudeUnavailableError
      expect(isCircuitOpenError(error.cause)).toBe(true)
      expect(classifyError(error)).toBe('infrastructure')
      expect(fake.count()).toBe(1)
    })
  })

  describe('when a model hangs', () => {
    it('answers from the fallback within timeoutMs, then the hanging model’s breaker opens', async () => {
      const registry = new BreakerRegistry()
      const { fake, claude, events } = await setup(
        { faults: [{ model: PRIMARY, delayMs: 5_000, times: Number.POSITIVE_INFINITY }] },
        { registry, fallbackModels: [FALLBACK], breaker: { failureThreshold: 2, openMs: 60_000 } },
      )
      for (let i = 0; i < 3; i++) {
        const started = Date.now()
        const { message } = await claude.messages.createWithMeta(params, { timeoutMs: 1_000 })
        expect(message.model).toBe(FALLBACK)
        expect(Date.now() - started).toBeLessThan(1_000)
      }
      // Two calls each gave the primary half the deadline; the third found its breaker open.
      expect(fake.count(PRIMARY)).toBe(2)
      expect(registry.get(`claude:${PRIMARY}`).state).toBe('open')
      const fallback = events.find((e) => e.type === 'fallback')
      const timeout = fallback?.type === 'fallback' ? fallback.error : undefined
      expect(isClaudeAttemptTimeoutError((timeout as Error | undefined)?.cause)).toBe(true)
      expect(fake.requests.find((r) => r.model === PRIMARY)?.outcome).toBe('client-closed')
    })

    it('aborts a request after retry.attemptTimeoutMs and retries it', async () => {
      const { fake, claude, events } = await setup(
        { faults: [{ delayMs: 3_000 }] },
        {
          retry: {
            maxAttempts: 2,
            attemptTimeoutMs: 300,
            backoff: { kind: 'constant', delayMs: 5 },
          },
        },
      )
      const started = Date.now()
      const { meta } = await claude.messages.createWithMeta(params)
      expect(Date.now() - started).toBeLessThan(2_000)
      expect(meta).toMatchObject({ model: PRIMARY, attempts: 2 })
      const retried = events.find((e) => e.type === 'retry')
      const error = retried?.type === 'retry' ? retried.error : undefined
      expect(isClaudeAttemptTimeoutError(error)).toBe(true)
      expect(classifyError(error)).toBe('transient')
      expect(fake.requests[0]?.outcome).toBe('client-closed')
    })
  })

  describe('when a half-open probe outlives probeTimeoutMs', () => {
    it('falls back and aborts the probe request', async () => {
      const { fake, claude } = await setup(
        {},
        {
          fallbackModels: [FALLBACK],
          retry: { maxAttempts: 1 },
          breaker: { failureThreshold: 1, openMs: 100, probeTimeoutMs: 300 },
        },
      )
      fake.outage(PRIMARY)
      expect((await claude.messages.create(params)).model).toBe(FALLBACK)
      fake.restore(PRIMARY)
      fake.script({ delayMs: 2_000, model: PRIMARY })
      await new Promise((resolve) => setTimeout(resolve, 150))
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(message.model).toBe(FALLBACK)
      expect(meta.models).toEqual([PRIMARY, FALLBACK])
      const probe = fake.requests.filter((r) => r.model === PRIMARY)[1]
      for (let i = 0; i < 100 && probe?.outcome !== 'client-closed'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(probe?.outcome).toBe('client-closed')
    })

    it('gives the per-model breakers a probe timeout suited to LLM latency', async () => {
      const registry = new BreakerRegistry()
      const { claude } = await setup({}, { registry, breaker: { failureThreshold: 5 } })
      await claude.messages.create(params)
      expect(registry.get(`claude:${PRIMARY}`).options.probeTimeoutMs).toBe(120_000)
    })
  })

  describe('when the answer stops early', () => {
    it('returns a max_tokens answer by default', async () => {
      const { claude } = await setup({ faults: [{ stopReason: 'max_tokens' }] })
      expect((await claude.messages.create(params)).stop_reason).toBe('max_tokens')
    })

    it('throws TruncatedResponseError with onTruncated: error, without retrying', async () => {
      const { fake, claude } = await setup(
        { faults: [{ stopReason: 'max_tokens' }] },
        { onTruncated: 'error', fallbackModels: [FALLBACK] },
      )
      const error = await rejection(claude.messages.create(params))
      expect(isTruncatedResponseError(error)).toBe(true)
      expect(classifyError(error)).toBe('business')
      expect(fake.count()).toBe(1)
    })

    it('throws RefusalError on a refusal, without retrying or falling back', async () => {
      const { fake, claude } = await setup(
        { faults: [{ stopReason: 'refusal' }] },
        { fallbackModels: [FALLBACK] },
      )
      const error = await rejection(claude.messages.create(params))
      expect(isRefusalError(error)).toBe(true)
      expect(fake.count()).toBe(1)
    })

    it('returns pause_turn as is', async () => {
      const { claude } = await setup({ faults: [{ stopReason: 'pause_turn' }] })
      expect((await claude.messages.create(params)).stop_reason).toBe('pause_turn')
    })

    it('moves a full context window to a larger-context model', async () => {
      const { claude } = await setup(
        { faults: [{ stopReason: 'model_context_window_exceeded', model: PRIMARY }] },
        { fallbackModels: [FALLBACK], largerContextModels: [FALLBACK] },
      )
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(message.model).toBe(FALLBACK)
      expect(meta.attempts).toBe(2)
    })
  })

  describe('when validate rejects the answer', () => {
    it('asks again, then returns the valid answer', async () => {
      let calls = 0
      const { fake, claude } = await setup(
        {},
        {
          validate: () => {
            calls += 1
            if (calls === 1) throw new Error('not JSON')
          },
        },
      )
      const { meta } = await claude.messages.createWithMeta(params)
      expect(meta.attempts).toBe(2)
      expect(fake.count()).toBe(2)
    })

    it('throws ResponseValidationError after validateAttempts answers', async () => {
      const { fake, claude } = await setup(
        {},
        {
          validateAttempts: 3,
          validate: () => {
            throw new Error('never valid')
          },
        },
      )
      const error = await rejection(claude.messages.create(params))
      expect(isResponseValidationError(error)).toBe(true)
      expect((error as Error).cause).toEqual(new Error('never valid'))
      expect(fake.count()).toBe(3)
    })
  })

  describe('when a cache is configured', () => {
    it('answers from the cache when every model fails', async () => {
      const { fake, claude, events } = await setup(
        {},
        { fallbackModels: [FALLBACK], cache: { ttlMs: 60_000 }, retry: { maxAttempts: 1 } },
      )
      const fresh = await claude.messages.create(params)
      fake.outage(PRIMARY)
      fake.outage(FALLBACK)
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(message).toEqual(fresh)
      expect(meta).toMatchObject({ source: 'cache', attempts: 2 })
      expect(events).toContainEqual({ type: 'cache-hit', mode: 'fallback' })
    })

    it('serves from the cache first in mode first', async () => {
      const { fake, claude } = await setup({}, { cache: { ttlMs: 60_000, mode: 'first' } })
      await claude.messages.create(params)
      const { meta } = await claude.messages.createWithMeta({ ...params })
      expect(meta).toMatchObject({ source: 'cache', attempts: 0 })
      await claude.messages.create({ ...params, max_tokens: 100 })
      expect(fake.count()).toBe(2)
    })

    it('does not use the cache for a permanent error', async () => {
      const { fake, claude } = await setup({}, { cache: { ttlMs: 60_000 } })
      await claude.messages.create(params)
      fake.script({ status: 403 })
      expect(await rejection(claude.messages.create(params))).toBeInstanceOf(
        Anthropic.PermissionDeniedError,
      )
    })
  })

  describe('when degrade is configured', () => {
    it('returns a Message-shaped degraded answer when every model fails', async () => {
      const seen: unknown[] = []
      const { fake, claude, events } = await setup(
        {},
        {
          retry: { maxAttempts: 1 },
          degrade: (_params, error) => {
            seen.push(error)
            return 'Service busy, try later.'
          },
        },
      )
      fake.outage(PRIMARY)
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(isDegraded(message)).toBe(true)
      expect(message).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: PRIMARY,
        stop_reason: 'end_turn',
        content: [{ type: 'text', text: 'Service busy, try later.' }],
      })
      expect(message.id).toMatch(/^msg_degraded_/)
      expect(meta.source).toBe('degraded')
      expect(isClaudeUnavailableError(seen[0])).toBe(true)
      expect(events.map((e) => e.type)).toEqual(['attempt', 'degraded'])
    })

    it('does not degrade a caller’s own abort', async () => {
      const { claude } = await setup(
        { faults: [{ delayMs: 2_000 }] },
        { degrade: () => 'degraded' },
      )
      const controller = new AbortController()
      const call = claude.messages.create(params, { signal: controller.signal })
      setTimeout(() => controller.abort(new Error('user gave up')), 50)
      expect(await rejection(call)).toEqual(new Error('user gave up'))
    })
  })

  describe('when call options are forwarded as undefined', () => {
    it('accepts them (exactOptionalPropertyTypes)', async () => {
      const { claude } = await setup()
      const forwarded: CallOptions = {
        signal: undefined,
        timeoutMs: undefined,
        idempotencyKey: undefined,
      }
      const { meta } = await claude.messages.createWithMeta(params, forwarded)
      expect(meta.source).toBe('api')
    })
  })

  describe('when timeoutMs elapses', () => {
    it('rejects with ClaudeTimeoutError', async () => {
      const { claude } = await setup({ faults: [{ delayMs: 3_000 }] })
      const started = Date.now()
      const error = await rejection(claude.messages.create(params, { timeoutMs: 200 }))
      expect(isClaudeTimeoutError(error)).toBe(true)
      expect(Date.now() - started).toBeLessThan(1_500)
    })
  })

  describe('when a request carries an image', () => {
    it('charges the token limiter a fixed estimate, not the base64 length', async () => {
      const { claude } = await setup({}, { rateLimit: { inputTokensPerMinute: 1_200_000 } })
      // 600 000 base64 characters: 150 000 tokens at 4 a character, about 1 600 really.
      const data = Buffer.alloc(450_000, 7).toString('base64')
      await claude.messages.create({
        ...params,
        messages: [
          {
            role: 'user',
            content: [
              { type: 'image', source: { type: 'base64', media_type: 'image/png', data } },
              { type: 'text', text: 'what is this?' },
            ],
          },
        ],
      })
      const started = Date.now()
      await claude.messages.create(params)
      // Before: 140 000 tokens of debt at 20 a millisecond held the next call 7 s.
      expect(Date.now() - started).toBeLessThan(2_000)
    })
  })

  describe('when calls carry an idempotencyKey', () => {
    it('shares one upstream request between identical concurrent calls', async () => {
      const { fake, claude } = await setup({ latencyMs: 100 })
      const results = await Promise.all(
        Array.from({ length: 5 }, () =>
          claude.messages.createWithMeta(params, { idempotencyKey: 'order-1' }),
        ),
      )
      expect(fake.count()).toBe(1)
      expect(new Set(results.map((r) => r.message.id)).size).toBe(1)
    })

    it('replays a completed call without a request', async () => {
      const { fake, claude } = await setup()
      const first = await claude.messages.createWithMeta(params, { idempotencyKey: 'k' })
      const again = await claude.messages.createWithMeta(params, { idempotencyKey: 'k' })
      expect(again.message).toEqual(first.message)
      expect(again.meta.idempotency).toEqual({ key: 'k', replayed: true, keyAttempts: 1 })
      expect(fake.count()).toBe(1)
    })

    it('replays across instances that share a store', async () => {
      const store = new MemoryStore()
      const { fake, client } = await setup()
      const one = new ResilientClaude({ client, idempotency: { store } })
      const two = new ResilientClaude({ client, idempotency: { store } })
      const a = await one.messages.create(params, { idempotencyKey: 'shared' })
      const b = await two.messages.create(params, { idempotencyKey: 'shared' })
      expect(b).toEqual(a)
      expect(fake.count()).toBe(1)
    })

    it('rejects the same key with other params', async () => {
      const { claude } = await setup()
      await claude.messages.create(params, { idempotencyKey: 'k' })
      const error = await rejection(
        claude.messages.create({ ...params, max_tokens: 10 }, { idempotencyKey: 'k' }),
      )
      expect(isIdempotencyKeyReuseError(error)).toBe(true)
    })

    it('degrades outside the record, so the key is not stored', async () => {
      const { fake, claude } = await setup(
        {},
        {
          retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 5 } },
          degrade: () => 'busy',
        },
      )
      fake.outage(PRIMARY)
      const degraded = await claude.messages.createWithMeta(params, { idempotencyKey: 'd' })
      expect(degraded.meta).toMatchObject({
        source: 'degraded',
        attempts: 2,
        models: [PRIMARY],
        idempotency: { key: 'd', replayed: false, keyAttempts: 2 },
      })
      fake.restore(PRIMARY)
      const real = await claude.messages.createWithMeta(params, { idempotencyKey: 'd' })
      expect(real.meta).toMatchObject({ source: 'api', idempotency: { keyAttempts: 3 } })
    })

    it('counts the attempts of failed calls under the key', async () => {
      const { fake, claude } = await setup(
        {},
        { retry: { maxAttempts: 2, backoff: { kind: 'constant', delayMs: 5 } } },
      )
      fake.outage(PRIMARY)
      await rejection(claude.messages.create(params, { idempotencyKey: 'k' }))
      fake.restore(PRIMARY)
      const { meta } = await claude.messages.createWithMeta(params, { idempotencyKey: 'k' })
      expect(meta.attempts).toBe(1)
      expect(meta.idempotency).toEqual({ key: 'k', replayed: false, keyAttempts: 3 })
    })
  })
})
