import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isRateLimitQueueFullError, RateLimiter } from '../src/index.js'

/** Resolution times (ms since start) of `count` acquires made at once. */
async function releaseTimes(limiter: RateLimiter, count: number, tokens = 1, key = 'm') {
  const start = Date.now()
  const times: number[] = []
  const all = Array.from({ length: count }, () =>
    limiter.acquire(tokens, undefined, key).then(() => times.push(Date.now() - start)),
  )
  await vi.advanceTimersByTimeAsync(120_000)
  await Promise.all(all)
  return times
}

const headers = (values: Record<string, string>) => new Headers(values)

describe('RateLimiter', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  describe('when requestsPerMinute is set', () => {
    it('spreads requests evenly after a half-second burst', async () => {
      const limiter = new RateLimiter({ requestsPerMinute: 240 })
      expect(await releaseTimes(limiter, 5)).toEqual([0, 0, 250, 500, 750])
    })

    it('allows a larger burst with burstMs', async () => {
      const limiter = new RateLimiter({ requestsPerMinute: 240, burstMs: 1000 })
      expect(await releaseTimes(limiter, 5)).toEqual([0, 0, 0, 0, 250])
    })
  })

  describe('when inputTokensPerMinute is set', () => {
    it('paces by estimated tokens, letting an oversized request go once the bucket is full', async () => {
      const limiter = new RateLimiter({ inputTokensPerMinute: 6_000, burstMs: 1000 })
      // 100 tokens a second, bucket 100: each 100-token request waits a full second.
      expect(await releaseTimes(limiter, 3, 100)).toEqual([0, 1000, 2000])
      const big = new RateLimiter({ inputTokensPerMinute: 6_000, burstMs: 1000 })
      expect(await releaseTimes(big, 2, 250)).toEqual([0, 2500])
    })

    it('caps the debt of one oversized request at a minute of tokens', async () => {
      const limiter = new RateLimiter({ inputTokensPerMinute: 6_000, burstMs: 1000 })
      // 6 000 tokens of debt plus a full bucket of 100, at 100 a second.
      expect(await releaseTimes(limiter, 2, 1_000_000)).toEqual([0, 61_000])
    })
  })

  describe('when the queue is full', () => {
    it('rejects with RateLimitQueueFullError', async () => {
      const limiter = new RateLimiter({ requestsPerMinute: 60, maxQueue: 2 })
      await limiter.acquire(1)
      const queued = [limiter.acquire(1), limiter.acquire(1)]
      expect(limiter.queued).toBe(2)
      const overflow = await limiter.acquire(1).catch((error: unknown) => error)
      expect(isRateLimitQueueFullError(overflow)).toBe(true)
      await vi.advanceTimersByTimeAsync(2_000)
      await Promise.all(queued)
    })
  })

  describe('when paused by a 429', () => {
    it('holds callers of that model only', async () => {
      const limiter = new RateLimiter()
      limiter.pause(1_000, 'a')
      const order: string[] = []
      const a = limiter.acquire(1, undefined, 'a').then(() => order.push(`a@${Date.now()}`))
      const b = limiter.acquire(1, undefined, 'b').then(() => order.push(`b@${Date.now()}`))
      const start = Date.now()
      await vi.advanceTimersByTimeAsync(1_000)
      await Promise.all([a, b])
      expect(order).toEqual([`b@${start}`, `a@${start + 1_000}`])
    })

    it('holds everyone when no model is given', async () => {
      const limiter = new RateLimiter()
      limiter.pause(500)
      expect(await releaseTimes(limiter, 2)).toEqual([500, 500])
    })
  })

  describe('when adapting to response headers', () => {
    it('learns the request limit from anthropic-ratelimit-requests-limit', async () => {
      const limiter = new RateLimiter()
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '120' }))
      expect(await releaseTimes(limiter, 3)).toEqual([0, 500, 1000])
    })

    it('keeps the lower of configured and learned limits', async () => {
      const limiter = new RateLimiter({ requestsPerMinute: 60 })
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '6000' }))
      expect(await releaseTimes(limiter, 2)).toEqual([0, 1000])
    })

    it('waits for the reset when remaining is 0 and no limit is known', async () => {
      const limiter = new RateLimiter()
      limiter.observe(
        headers({
          'anthropic-ratelimit-requests-remaining': '0',
          'anthropic-ratelimit-requests-reset': new Date(Date.now() + 400).toISOString(),
        }),
      )
      expect(await releaseTimes(limiter, 1)).toEqual([400])
    })

    it('paces by the lowest limit any model reported, whichever answered last', async () => {
      const limiter = new RateLimiter()
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '120' }), 'slow')
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '6000' }), 'fast')
      // The fast model's later response must not lift the pace to its 100 requests/s.
      expect(await releaseTimes(limiter, 3, 1, 'fast')).toEqual([0, 500, 1000])
    })

    it('forgets a model’s limit a minute after its last report', async () => {
      const limiter = new RateLimiter()
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '120' }), 'slow')
      vi.advanceTimersByTime(61_000)
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '6000' }), 'fast')
      // 100 requests/s now; the bucket fills from where the slow pace left it.
      expect(await releaseTimes(limiter, 3, 1, 'fast')).toEqual([0, 10, 20])
    })

    it('ignores headers when adaptive is false', async () => {
      const limiter = new RateLimiter({ adaptive: false })
      limiter.observe(headers({ 'anthropic-ratelimit-requests-limit': '1' }))
      expect(await releaseTimes(limiter, 3)).toEqual([0, 0, 0])
    })
  })

  describe('when a 429 paused a model', () => {
    it('reports how long the pause still lasts, per model', async () => {
      const limiter = new RateLimiter()
      limiter.pause(1_000, 'a')
      vi.advanceTimersByTime(400)
      expect(limiter.pausedMs('a')).toBe(600)
      expect(limiter.pausedMs('b')).toBe(0)
    })
  })

  describe('when a waiting caller aborts', () => {
    it('leaves the queue with the signal’s reason', async () => {
      const limiter = new RateLimiter({ requestsPerMinute: 60 })
      await limiter.acquire(1)
      const controller = new AbortController()
      const waiting = limiter.acquire(1, controller.signal).catch((error: unknown) => error)
      controller.abort(new Error('gone'))
      expect(await waiting).toEqual(new Error('gone'))
      expect(limiter.queued).toBe(0)
    })
  })
})
