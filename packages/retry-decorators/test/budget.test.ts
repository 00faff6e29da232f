import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RetryBudget, type RetryError, retry } from '../src/index.js'
import { HttpError } from './helpers.js'

describe('RetryBudget', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 })
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('allows ratio × first attempts retries', () => {
    const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0 })
    for (let i = 0; i < 100; i++) budget.deposit()
    expect(budget.available).toBe(10)
    let granted = 0
    while (budget.tryWithdraw()) granted++
    expect(granted).toBe(10)
  })

  it('always allows minPerSecond × window seconds retries', () => {
    const budget = new RetryBudget({ ratio: 0, minPerSecond: 2, windowMs: 1_000 })
    expect([budget.tryWithdraw(), budget.tryWithdraw(), budget.tryWithdraw()]).toEqual([
      true,
      true,
      false,
    ])
  })

  it('forgets deposits and withdrawals older than the window', () => {
    const budget = new RetryBudget({ ratio: 1, minPerSecond: 0, windowMs: 1_000 })
    budget.deposit()
    vi.advanceTimersByTime(1_000)
    expect(budget.tryWithdraw()).toBe(false)
    budget.deposit()
    expect(budget.tryWithdraw()).toBe(true)
    vi.advanceTimersByTime(1_000)
    budget.deposit()
    expect(budget.tryWithdraw()).toBe(true)
  })

  it('rejects invalid options', () => {
    expect(() => new RetryBudget({ ratio: -1 })).toThrow(RangeError)
    expect(() => new RetryBudget({ windowMs: 0 })).toThrow(RangeError)
  })

  describe('when shared by retry() calls during an outage', () => {
    it('bounds the extra load to about the ratio and marks the error budgetExhausted', async () => {
      vi.useRealTimers()
      const budget = new RetryBudget({ ratio: 0.1, minPerSecond: 0 })
      let calls = 0
      const down = async () => {
        calls++
        throw new HttpError(503)
      }
      const outcomes = await Promise.all(
        Array.from({ length: 100 }, () =>
          retry(down, { maxAttempts: 3, budget, backoff: { initialMs: 0 } }).catch(
            (e: unknown) => e as RetryError,
          ),
        ),
      )
      // 100 first attempts deposit 10 tokens; without the budget this would be 300 calls.
      expect(calls).toBe(110)
      const exhausted = outcomes.filter((e) => e.budgetExhausted)
      expect(exhausted.length).toBeGreaterThanOrEqual(90)
      expect(exhausted[0]?.reason).toBe('budget')
      expect(exhausted[0]?.cause).toBeInstanceOf(HttpError)
    })
  })
})
