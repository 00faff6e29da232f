import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { isTimeoutError, retry, retryContext, TimeoutError, timeout } from '../src/index.js'

describe('timeout()', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('resolves with the value when in time and clears its timer', async () => {
    await expect(timeout(async () => 'fast', 1_000)).resolves.toBe('fast')
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects with TimeoutError and aborts the signal it handed out when late', async () => {
    let signal: AbortSignal | undefined
    const call = timeout((s) => {
      signal = s
      return new Promise(() => {})
    }, 500)
    const outcome = call.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(499)
    expect(signal?.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    const error = await outcome
    expect(error).toBeInstanceOf(TimeoutError)
    expect(isTimeoutError(error)).toBe(true)
    expect((error as TimeoutError).timeoutMs).toBe(500)
    expect(signal?.reason).toBe(error)
  })

  it('exposes its signal and deadline through retryContext()', async () => {
    vi.setSystemTime(10_000)
    const seen = await timeout((signal) => {
      const context = retryContext()
      return [context?.signal === signal, context?.deadline, context?.attempt]
    }, 500)
    expect(seen).toEqual([true, 10_500, 1])
  })

  it('is retried by retry() as a transient failure', async () => {
    let attempt = 0
    const call = retry(
      () =>
        timeout(() => {
          attempt++
          return attempt === 1 ? new Promise<string>(() => {}) : 'second'
        }, 100),
      { backoff: { initialMs: 0 } },
    )
    await vi.advanceTimersByTimeAsync(100)
    await expect(call).resolves.toBe('second')
  })

  it('rejects with the outer abort reason and aborts the inner signal', async () => {
    const controller = new AbortController()
    let inner: AbortSignal | undefined
    const call = retry(
      () =>
        timeout((signal) => {
          inner = signal
          return new Promise(() => {})
        }, 10_000),
      { signal: controller.signal },
    )
    const outcome = call.catch((e: unknown) => e)
    await vi.advanceTimersByTimeAsync(1)
    const reason = new Error('client went away')
    controller.abort(reason)
    expect(await outcome).toBe(reason)
    expect(inner?.aborted).toBe(true)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('sets no timer and no deadline for Infinity', async () => {
    let deadline: number | undefined = 0
    let settled = false
    const call = timeout(() => {
      deadline = retryContext()?.deadline
      return new Promise((resolve) => setTimeout(resolve, 60_000, 'late'))
    }, Number.POSITIVE_INFINITY)
    void call.finally(() => {
      settled = true
    })
    await vi.advanceTimersByTimeAsync(59_999)
    expect([settled, deadline, vi.getTimerCount()]).toEqual([false, undefined, 1])
    await vi.advanceTimersByTimeAsync(1)
    await expect(call).resolves.toBe('late')
  })

  it('waits out a limit past setTimeout’s 2^31−1 ms in full', async () => {
    const outcome = timeout(() => new Promise(() => {}), 2 ** 31 + 5).catch((e: unknown) => e)
    let settled = false
    void outcome.finally(() => {
      settled = true
    })
    await vi.advanceTimersByTimeAsync(2 ** 31 + 4)
    expect(settled).toBe(false)
    await vi.advanceTimersByTimeAsync(1)
    expect(await outcome).toBeInstanceOf(TimeoutError)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('rejects invalid limits', async () => {
    await expect(timeout(async () => 1, 0)).rejects.toBeInstanceOf(RangeError)
  })
})
