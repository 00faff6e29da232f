import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  isRetryError,
  ResultRejectedError,
  RetryError,
  type RetryEvent,
  retry,
  retryContext,
} from '../src/index.js'
import { flaky, HttpError, seededRandom } from './helpers.js'

const fast = { initialMs: 0, jitter: 'none' } as const

describe('retry()', () => {
  describe('when the first attempt succeeds', () => {
    it('resolves with its value and calls it once with attempt 1', async () => {
      const fn = vi.fn(async (attempt: number) => `ok ${attempt}`)
      await expect(retry(fn)).resolves.toBe('ok 1')
      expect(fn).toHaveBeenCalledTimes(1)
    })

    it('arms no timer', async () => {
      vi.useFakeTimers()
      try {
        await retry(async () => 1, { maxElapsedMs: 1_000 })
        expect(vi.getTimerCount()).toBe(0)
      } finally {
        vi.useRealTimers()
      }
    })

    it('accepts a sync function and still returns a promise', async () => {
      const result = retry(() => 7)
      expect(result).toBeInstanceOf(Promise)
      await expect(result).resolves.toBe(7)
    })
  })

  describe('when attempts fail with transient errors', () => {
    it('retries until one succeeds, passing the attempt number', async () => {
      const attempts: number[] = []
      const value = await retry(
        async (attempt) => {
          attempts.push(attempt)
          if (attempt < 3) throw new HttpError(503)
          return 'done'
        },
        { backoff: fast },
      )
      expect(value).toBe('done')
      expect(attempts).toEqual([1, 2, 3])
    })

    it('counts maxAttempts as total tries including the first', async () => {
      const fn = flaky(
        Array.from({ length: 10 }, () => new HttpError(503)),
        'never',
      )
      await expect(retry(fn, { maxAttempts: 4, backoff: fast })).rejects.toBeInstanceOf(RetryError)
      expect(fn.calls).toBe(4)
    })

    it('never retries with maxAttempts 1', async () => {
      const fn = flaky([new HttpError(503)], 'never')
      const error = await retry(fn, { maxAttempts: 1 }).catch((e: unknown) => e)
      expect(isRetryError(error) && error.attempts).toBe(1)
      expect(fn.calls).toBe(1)
    })

    it('rejects with RetryError carrying attempts, cause and every error when exhausted', async () => {
      const errors = [new HttpError(500), new HttpError(502), new HttpError(503)]
      const error = await retry(flaky(errors, 'x'), { maxAttempts: 3, backoff: fast }).catch(
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(RetryError)
      const retryError = error as RetryError
      expect(retryError.name).toBe('RetryError')
      expect(retryError.code).toBe('ERR_RETRY_EXHAUSTED')
      expect(retryError.attempts).toBe(3)
      expect(retryError.cause).toBe(errors[2])
      expect(retryError.errors).toEqual(errors)
      expect(retryError.reason).toBe('attempts')
      expect(retryError.budgetExhausted).toBe(false)
    })

    it('calls onRetry with the failed attempt, its error and the delay', async () => {
      const events: RetryEvent[] = []
      const errors = [new HttpError(503), new HttpError(429)]
      await retry(flaky(errors, 1), {
        backoff: { kind: 'constant', delayMs: 1 },
        onRetry: (event) => events.push(event),
      })
      expect(events).toEqual([
        { attempt: 1, error: errors[0], delayMs: 1 },
        { attempt: 2, error: errors[1], delayMs: 1 },
      ])
    })
  })

  describe('when an error is not retryable', () => {
    it('rejects with the original error at once', async () => {
      const original = new HttpError(400)
      const fn = flaky([original], 'x')
      await expect(retry(fn)).rejects.toBe(original)
      expect(fn.calls).toBe(1)
    })

    it.each([401, 403, 404, 422])('does not retry HTTP %i by default', async (status) => {
      const fn = flaky([new HttpError(status)], 'x')
      await expect(retry(fn)).rejects.toBeInstanceOf(HttpError)
      expect(fn.calls).toBe(1)
    })

    it('follows a custom retryIf', async () => {
      const fn = flaky([new Error('flaky'), new Error('flaky')], 'ok')
      const retryIf = (error: unknown) => (error as Error).message === 'flaky'
      await expect(retry(fn, { retryIf, backoff: fast })).resolves.toBe('ok')
      expect(fn.calls).toBe(3)
    })

    it('rethrows a synchronous throw like a rejection', async () => {
      const boom = new Error('boom')
      await expect(
        retry(() => {
          throw boom
        }),
      ).rejects.toBe(boom)
    })
  })

  describe('when retryOnResult is set', () => {
    it('retries values it rejects and resolves with the first accepted one', async () => {
      const values = ['pending', 'pending', 'ready']
      const value = await retry(async (attempt) => values[attempt - 1], {
        retryOnResult: (v) => v === 'pending',
        backoff: fast,
      })
      expect(value).toBe('ready')
    })

    it('rejects with RetryError whose errors hold the rejected values', async () => {
      const error = (await retry(async () => 'pending', {
        maxAttempts: 2,
        retryOnResult: () => true,
        backoff: fast,
      }).catch((e: unknown) => e)) as RetryError
      expect(error.cause).toBeInstanceOf(ResultRejectedError)
      expect((error.cause as ResultRejectedError).value).toBe('pending')
      expect(error.errors).toHaveLength(2)
    })
  })

  describe('when maxAttempts is invalid', () => {
    it.each([0, -1, 1.5, Number.NaN])('rejects maxAttempts %s with a RangeError', async (n) => {
      await expect(retry(async () => 1, { maxAttempts: n })).rejects.toBeInstanceOf(RangeError)
    })
  })

  describe('when other numeric options are invalid', () => {
    const invalid: [string, Parameters<typeof retry>[1]][] = [
      ['initialMs: -1', { backoff: { initialMs: -1 } }],
      ['multiplier: 0.5', { backoff: { multiplier: 0.5 } }],
      ['maxMs: NaN', { backoff: { maxMs: Number.NaN } }],
      ['constant delayMs: -1', { backoff: { kind: 'constant', delayMs: -1 } }],
      ['linear incrementMs: NaN', { backoff: { kind: 'linear', incrementMs: Number.NaN } }],
      ['maxElapsedMs: NaN', { maxElapsedMs: Number.NaN }],
      ['maxHintMs: -1', { maxHintMs: -1 }],
    ]
    it.each(invalid)(
      'rejects %s with a RangeError before the first attempt',
      async (_, options) => {
        const fn = flaky([], 'ok')
        const error = await retry(fn, options).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(RangeError)
        expect(fn.calls).toBe(0)
      },
    )
  })

  describe('retryContext()', () => {
    it('is undefined outside a retried call', () => {
      expect(retryContext()).toBeUndefined()
    })

    it('gives the attempt, signal and deadline inside, across awaits', async () => {
      vi.useFakeTimers({ now: 1_000 })
      try {
        const controller = new AbortController()
        const seen: unknown[] = []
        const call = retry(
          async () => {
            await Promise.resolve()
            const context = retryContext()
            seen.push({
              attempt: context?.attempt,
              signal: context?.signal,
              deadline: context?.deadline,
            })
            if (context?.attempt === 1) throw new HttpError(503)
          },
          {
            signal: controller.signal,
            maxElapsedMs: 5_000,
            backoff: { kind: 'constant', delayMs: 10 },
          },
        )
        await vi.advanceTimersByTimeAsync(10)
        await call
        expect(seen).toEqual([
          { attempt: 1, signal: controller.signal, deadline: 6_000 },
          { attempt: 2, signal: controller.signal, deadline: 6_000 },
        ])
      } finally {
        vi.useRealTimers()
      }
    })
  })
})

describe('retry() schedules', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  // Waits each expected delay on the fake clock and checks the next attempt starts exactly then.
  async function expectSchedule(
    options: Parameters<typeof retry>[1],
    expected: number[],
  ): Promise<void> {
    let calls = 0
    const delays: number[] = []
    const call = retry(
      async () => {
        calls++
        throw new HttpError(503)
      },
      { ...options, maxAttempts: expected.length + 1, onRetry: (e) => delays.push(e.delayMs) },
    )
    const outcome = call.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(0)
    expect(calls).toBe(1)
    for (const [index, delay] of expected.entries()) {
      if (delay > 0) {
        await vi.advanceTimersByTimeAsync(delay - 1)
        expect(calls).toBe(index + 1)
      }
      await vi.advanceTimersByTimeAsync(delay > 0 ? 1 : 0)
      expect(calls).toBe(index + 2)
    }
    expect(await outcome).toBeInstanceOf(RetryError)
    expect(delays).toEqual(expected)
  }

  // seededRandom(42) yields 0.6011, 0.4483, 0.8525, 0.6697; bases are 100, 200, 400, 800.
  const exponential = { initialMs: 100, multiplier: 2, maxMs: 1_000 } as const

  it('waits initialMs × 2^(n−1) with no jitter', async () => {
    await expectSchedule({ backoff: { ...exponential, jitter: 'none' } }, [100, 200, 400, 800])
  })

  it('waits floor(random × base) with full jitter', async () => {
    await expectSchedule(
      { backoff: { ...exponential, jitter: 'full' }, random: seededRandom(42) },
      [60, 89, 340, 535],
    )
  })

  it('waits floor(base/2 + random × base/2) with equal jitter', async () => {
    await expectSchedule(
      { backoff: { ...exponential, jitter: 'equal' }, random: seededRandom(42) },
      [80, 144, 370, 667],
    )
  })

  it('waits min(cap, floor(initial + random × (prev × 3 − initial))) with decorrelated jitter', async () => {
    await expectSchedule(
      { backoff: { ...exponential, jitter: 'decorrelated' }, random: seededRandom(42) },
      [220, 351, 912, 1_000],
    )
  })

  it('waits the same delay with constant backoff and a growing one with linear', async () => {
    await expectSchedule({ backoff: { kind: 'constant', delayMs: 300 } }, [300, 300, 300])
    await expectSchedule(
      { backoff: { kind: 'linear', initialMs: 100, incrementMs: 100 } },
      [100, 200, 300],
    )
  })

  it('waits what a custom backoff function returns', async () => {
    await expectSchedule({ backoff: (attempt) => attempt * 7 }, [7, 14, 21])
  })

  it('waits a delay past setTimeout’s 2^31−1 ms limit in full', async () => {
    await expectSchedule({ backoff: { kind: 'constant', delayMs: 2 ** 31 + 5 } }, [2 ** 31 + 5])
  })
})

describe('retry() server hints', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: Date.parse('2026-11-27T10:00:00Z') })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  async function delaysFor(error: unknown, options: Parameters<typeof retry>[1] = {}) {
    const delays: number[] = []
    const call = retry(flaky([error], 'ok'), {
      backoff: { initialMs: 5, jitter: 'none' },
      ...options,
      onRetry: (e) => delays.push(e.delayMs),
    })
    const outcome = call.then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    )
    await vi.runAllTimersAsync()
    return { delays, outcome: await outcome }
  }

  it('waits retry-after seconds instead of the computed delay', async () => {
    const { delays } = await delaysFor(new HttpError(429, { 'retry-after': '2' }))
    expect(delays).toEqual([2_000])
  })

  it('waits retry-after-ms from a Headers object', async () => {
    const { delays } = await delaysFor(new HttpError(529, new Headers({ 'retry-after-ms': '750' })))
    expect(delays).toEqual([750])
  })

  it('waits until an HTTP-date retry-after', async () => {
    const headers = { 'retry-after': 'Fri, 27 Nov 2026 10:00:04 GMT' }
    const { delays } = await delaysFor(new HttpError(503, headers))
    expect(delays).toEqual([4_000])
  })

  it('waits the computed delay when retry-after is junk', async () => {
    const { delays } = await delaysFor(new HttpError(503, { 'retry-after': '-1' }))
    expect(delays).toEqual([5])
  })

  it('caps a hint at maxHintMs', async () => {
    const { delays } = await delaysFor(new HttpError(429, { 'retry-after': '600' }), {
      maxHintMs: 30_000,
    })
    expect(delays).toEqual([30_000])
  })

  it('waits a hint past setTimeout’s limit in full when maxHintMs is Infinity', async () => {
    // 3_000_000 s ≈ 35 days: Node would fire a timer that long after 1 ms.
    const fn = flaky([new HttpError(429, { 'retry-after': '3000000' })], 'ok')
    const call = retry(fn, { maxHintMs: Number.POSITIVE_INFINITY })
    await vi.advanceTimersByTimeAsync(3_000_000_000 - 1)
    expect(fn.calls).toBe(1)
    await vi.advanceTimersByTimeAsync(1)
    await expect(call).resolves.toBe('ok')
    expect(fn.calls).toBe(2)
  })

  it('throws at once when the hint exceeds the remaining maxElapsedMs', async () => {
    let calls = 0
    const call = retry(
      async () => {
        calls++
        throw new HttpError(429, { 'retry-after': '20' })
      },
      { maxElapsedMs: 10_000 },
    )
    const error = await call.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(RetryError)
    expect((error as RetryError).reason).toBe('deadline')
    expect(calls).toBe(1)
    expect(Date.now()).toBe(Date.parse('2026-11-27T10:00:00Z'))
  })
})

describe('retry() deadline and signal', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('starts no retry past maxElapsedMs', async () => {
    let calls = 0
    const call = retry(
      async () => {
        calls++
        throw new HttpError(503)
      },
      { maxAttempts: 10, maxElapsedMs: 1_000, backoff: { kind: 'constant', delayMs: 400 } },
    )
    const outcome = call.catch((e: unknown) => e)
    await vi.runAllTimersAsync()
    const error = (await outcome) as RetryError
    // Attempts at 0, 400 and 800 ms; a fourth would start at 1 200 ms.
    expect(calls).toBe(3)
    expect(error.reason).toBe('deadline')
    expect(error.attempts).toBe(3)
  })

  it('cancels the pending sleep at once on abort and rejects with the reason', async () => {
    const controller = new AbortController()
    let calls = 0
    const call = retry(
      async () => {
        calls++
        throw new HttpError(503)
      },
      { signal: controller.signal, backoff: { kind: 'constant', delayMs: 60_000 } },
    )
    const outcome = call.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(10)
    expect(vi.getTimerCount()).toBe(1)
    const reason = new Error('shutting down')
    controller.abort(reason)
    expect(await outcome).toBe(reason)
    expect(vi.getTimerCount()).toBe(0)
    expect(calls).toBe(1)
  })

  it('rejects with the reason without calling fn when already aborted', async () => {
    const fn = vi.fn(async () => 1)
    const reason = new Error('gone')
    await expect(retry(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    expect(fn).not.toHaveBeenCalled()
  })

  it('rejects with the abort reason when the signal aborted during a failing attempt', async () => {
    const controller = new AbortController()
    const reason = new Error('cancelled')
    const call = retry(
      async () => {
        controller.abort(reason)
        throw new HttpError(503)
      },
      { signal: controller.signal },
    )
    await expect(call).rejects.toBe(reason)
  })
})
