import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker } from '../src/index.js'
import { CountWindow, TimeWindow } from '../src/sliding-window.js'
import { fail, ok, settle } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers({ now: 1_000_000 })
})
afterEach(() => {
  vi.useRealTimers()
})

describe('CountWindow', () => {
  it('keeps only the last size outcomes', () => {
    const window = new CountWindow(3)
    window.record(true, false)
    window.record(true, true)
    window.record(false, false)
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 2, 1])
    window.record(false, false)
    window.record(false, false)
    expect([window.calls, window.failures, window.slowCalls]).toEqual([3, 0, 0])
  })
})

describe('TimeWindow', () => {
  it('drops calls older than sizeMs, one bucket at a time', () => {
    const window = new TimeWindow(1_000, 10)
    window.record(true, false, 0)
    window.record(false, true, 450)
    expect([window.calls, window.failures, window.slowCalls]).toEqual([2, 1, 1])
    window.advance(999)
    expect(window.calls).toBe(2)
    window.advance(1_000)
    expect([window.calls, window.failures, window.slowCalls]).toEqual([1, 0, 1])
    window.advance(1_399)
    expect(window.calls).toBe(1)
    window.advance(1_400)
    expect(window.calls).toBe(0)
  })

  it('clears everything after a gap longer than the window', () => {
    const window = new TimeWindow(1_000, 4)
    for (let t = 0; t < 1_000; t += 100) window.record(true, false, t)
    expect(window.calls).toBe(10)
    window.record(false, false, 50_000)
    expect([window.calls, window.failures]).toEqual([1, 0])
  })

  it('starts over when the clock steps back, instead of holding calls until it catches up', () => {
    const window = new TimeWindow(1_000, 10)
    for (let t = 3_600_000; t < 3_601_000; t += 100) window.record(true, false, t)
    window.record(false, false, 0)
    expect([window.calls, window.failures]).toEqual([1, 0])
    window.advance(1_000)
    expect(window.calls).toBe(0)
  })
})

describe('failure-rate policy', () => {
  describe('when the window is count-based', () => {
    const options = {
      failureThreshold: 1, // ignored: failureRate replaces the consecutive policy
      failureRate: { threshold: 0.5, minimumCalls: 4, window: { kind: 'count', size: 4 } as const },
    }

    it('decides nothing before minimumCalls', async () => {
      const breaker = new CircuitBreaker(options)
      for (let i = 0; i < 3; i++) await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
      await settle(breaker, ok)
      expect(breaker.state).toBe('open')
    })

    it('opens when the failure rate reaches the threshold', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, ok)
      await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
      await settle(breaker, fail())
      expect(breaker.state).toBe('open')
      expect(breaker.snapshot().window).toEqual({ calls: 0, failures: 0, slowCalls: 0 })
    })

    it('forgets outcomes that slid out of the window', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, fail())
      for (let i = 0; i < 6; i++) await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.snapshot().window).toEqual({ calls: 4, failures: 1, slowCalls: 0 })
      expect(breaker.state).toBe('closed')
    })

    it('caps minimumCalls at the window size', async () => {
      const breaker = new CircuitBreaker({
        failureRate: { threshold: 1, minimumCalls: 100, window: { kind: 'count', size: 3 } },
      })
      for (let i = 0; i < 3; i++) await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })

    it('handles thresholds that are not exact in binary', async () => {
      const breaker = new CircuitBreaker({
        failureRate: { threshold: 0.3, minimumCalls: 10, window: { kind: 'count', size: 10 } },
      })
      for (let i = 0; i < 7; i++) await settle(breaker, ok)
      for (let i = 0; i < 3; i++) await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })

    it('defaults to a window of 20 calls and minimumCalls 10', async () => {
      const breaker = new CircuitBreaker({ failureRate: { threshold: 0.5 } })
      for (let i = 0; i < 9; i++) await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
      await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })
  })

  describe('when the window is time-based', () => {
    const options = {
      failureRate: {
        threshold: 0.5,
        minimumCalls: 3,
        window: { kind: 'time', sizeMs: 10_000, buckets: 10 } as const,
      },
    }

    it('opens when the rate over the last sizeMs reaches the threshold', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
      await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })

    it('forgets calls older than sizeMs', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, fail())
      await settle(breaker, fail())
      vi.advanceTimersByTime(10_000)
      expect(breaker.snapshot().window?.calls).toBe(0)
      await settle(breaker, ok)
      await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
    })

    it('counts calls spread across buckets within the window', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, fail())
      vi.advanceTimersByTime(4_000)
      await settle(breaker, ok)
      vi.advanceTimersByTime(4_000)
      expect(breaker.state).toBe('closed')
      await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })

    it('decides nothing before minimumCalls within the window', async () => {
      const breaker = new CircuitBreaker(options)
      await settle(breaker, fail())
      await settle(breaker, fail())
      vi.advanceTimersByTime(10_000)
      await settle(breaker, fail())
      expect(breaker.state).toBe('closed')
    })
  })
})

describe('slow-call policy', () => {
  const slowCall = (ms: number) => () => new Promise<string>((r) => setTimeout(() => r('slow'), ms))

  async function run(breaker: CircuitBreaker, fn: () => Promise<string>, ms: number) {
    const call = settle(breaker, fn)
    await vi.advanceTimersByTimeAsync(ms)
    return call
  }

  it('opens when the share of slow calls reaches slowCallRate', async () => {
    const breaker = new CircuitBreaker({
      slowCallMs: 100,
      slowCallRate: 0.5,
      failureRate: { threshold: 1, minimumCalls: 4, window: { kind: 'count', size: 4 } },
    })
    const reasons: string[] = []
    breaker.on('stateChange', (e) => reasons.push(e.reason))
    const slow: number[] = []
    breaker.on('slowCall', (e) => slow.push(e.durationMs))
    await run(breaker, slowCall(10), 10)
    await run(breaker, slowCall(10), 10)
    await run(breaker, slowCall(150), 150)
    expect(breaker.state).toBe('closed')
    await run(breaker, slowCall(100), 100)
    expect(breaker.state).toBe('open')
    expect(reasons).toEqual(['slow-calls'])
    expect(slow).toEqual([150, 100])
    expect(breaker.snapshot().totals.slowCalls).toBe(2)
  })

  it('works alongside the consecutive-failure policy with the default window', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 3, slowCallMs: 50 })
    for (let i = 0; i < 9; i++) await run(breaker, slowCall(60), 60)
    expect(breaker.state).toBe('closed')
    await run(breaker, slowCall(60), 60)
    expect(breaker.state).toBe('open')
  })

  it('counts a slow probe as failed', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000, slowCallMs: 100 })
    await settle(breaker, fail())
    vi.advanceTimersByTime(1_000)
    const { value } = await run(breaker, slowCall(200), 200)
    expect(value).toBe('slow')
    expect(breaker.state).toBe('open')
  })
})
