import { afterEach, describe, expect, it, vi } from 'vitest'
import { IdempotencyEngine, isIdempotencyStoreError, MemoryStore } from '../src/index.js'
import { Deadlines, Ticker, type TickerSlot } from '../src/scheduler.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('Ticker', () => {
  it('checks every live entry once per tick, even when one drops another mid-tick', async () => {
    vi.useFakeTimers()
    const ticker = new Ticker(100)
    const checked: string[] = []
    const slots: Record<string, TickerSlot> = {}
    const entry = (name: string, keep: () => boolean) => {
      slots[name] = ticker.add({
        check: () => {
          checked.push(name)
          return keep()
        },
      })
    }
    entry('a', () => {
      ticker.delete(slots.b as TickerSlot)
      return false
    })
    entry('b', () => true)
    entry('c', () => true)
    entry('d', () => false)
    await vi.advanceTimersByTimeAsync(100)
    expect(checked).toEqual(['a', 'c', 'd'])
    await vi.advanceTimersByTimeAsync(100)
    expect(checked).toEqual(['a', 'c', 'd', 'c'])
    ticker.delete(slots.c as TickerSlot)
    await vi.advanceTimersByTimeAsync(100)
    expect(checked).toHaveLength(4)
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('Deadlines', () => {
  it('rejects a call that outlives its timeout and stops ticking once idle', async () => {
    vi.useFakeTimers()
    const deadlines = new Deadlines(100)
    const hung = deadlines.run(new Promise(() => {}), 'claim').catch((e: unknown) => e)
    const quick = deadlines.run(Promise.resolve('ok'), 'claim')
    expect(await quick).toBe('ok')
    await vi.advanceTimersByTimeAsync(150)
    const error = await hung
    expect(isIdempotencyStoreError(error)).toBe(true)
    expect((error as Error).message).toMatch(/timed out after 100 ms/)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('wraps a store failure with its cause', async () => {
    const cause = new Error('ECONNRESET')
    const error = await new Deadlines(100)
      .run(Promise.reject(cause), 'complete')
      .catch((e: unknown) => e)
    expect(isIdempotencyStoreError(error)).toBe(true)
    expect((error as Error).cause).toBe(cause)
  })
})

describe('lease renewal', () => {
  it('keeps a claim alive while held, then lets it lapse after maxLeaseHoldMs', async () => {
    vi.useFakeTimers()
    const store = new MemoryStore()
    const engine = new IdempotencyEngine({ store, leaseMs: 3_000, maxLeaseHoldMs: 20_000 })
    const decision = await engine.begin('k', 'fp')
    expect(decision.kind).toBe('run')
    await vi.advanceTimersByTimeAsync(15_000)
    expect((await store.claim('k', 'fp', 3_000)).state).toBe('in-progress')
    await vi.advanceTimersByTimeAsync(10_000)
    expect((await store.claim('k', 'fp', 3_000)).state).toBe('claimed')
    await store.close()
  })

  it('stops renewing once the claim completes, leaving no timer behind', async () => {
    vi.useFakeTimers()
    const store = new MemoryStore()
    const engine = new IdempotencyEngine({ store, leaseMs: 3_000 })
    const decision = await engine.begin('k', 'fp')
    if (decision.kind !== 'run') throw new Error('not claimed')
    await decision.claim.finish(200, {}, new Uint8Array(0), false)
    await store.close()
    await vi.advanceTimersByTimeAsync(5_000)
    expect(vi.getTimerCount()).toBe(0)
  })
})
