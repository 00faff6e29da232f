import { describe, expect, it } from 'vitest'
import { backoffDelay } from '../src/index.js'

const fixed = (value: number) => () => value

describe('backoffDelay()', () => {
  describe('when exponential', () => {
    it('grows by the multiplier from initialMs and stops at maxMs', () => {
      const backoff = { initialMs: 100, multiplier: 2, maxMs: 1_000, jitter: 'none' } as const
      const delays = [1, 2, 3, 4, 5, 6].map((n) =>
        backoffDelay(backoff, n, null, undefined, fixed(0)),
      )
      expect(delays).toEqual([100, 200, 400, 800, 1_000, 1_000])
    })

    it('draws full jitter from [0, base)', () => {
      const backoff = { initialMs: 100, maxMs: 10_000, jitter: 'full' } as const
      expect(backoffDelay(backoff, 3, null, undefined, fixed(0))).toBe(0)
      expect(backoffDelay(backoff, 3, null, undefined, fixed(0.5))).toBe(200)
      expect(backoffDelay(backoff, 3, null, undefined, fixed(0.999))).toBe(399)
    })

    it('draws equal jitter from [base / 2, base)', () => {
      const backoff = { initialMs: 100, maxMs: 10_000, jitter: 'equal' } as const
      expect(backoffDelay(backoff, 3, null, undefined, fixed(0))).toBe(200)
      expect(backoffDelay(backoff, 3, null, undefined, fixed(0.5))).toBe(300)
    })

    it('draws decorrelated jitter from [initialMs, previous × 3) capped at maxMs', () => {
      const backoff = { initialMs: 100, maxMs: 1_000, jitter: 'decorrelated' } as const
      expect(backoffDelay(backoff, 1, null, undefined, fixed(0.5))).toBe(200)
      expect(backoffDelay(backoff, 2, null, 200, fixed(0.5))).toBe(350)
      expect(backoffDelay(backoff, 5, null, 900, fixed(0.9))).toBe(1_000)
    })

    it('keeps a zero base at zero however many attempts', () => {
      const backoff = { initialMs: 0, jitter: 'none' } as const
      expect(backoffDelay(backoff, 5_000, null, undefined, fixed(0))).toBe(0)
    })

    it('rejects a multiplier below 1', () => {
      expect(() => backoffDelay({ multiplier: 0.5 }, 1, null, undefined, fixed(0))).toThrow(
        RangeError,
      )
    })
  })

  describe('when constant or linear', () => {
    it('waits the same delay every time when constant', () => {
      const backoff = { kind: 'constant', delayMs: 250 } as const
      expect([1, 2, 9].map((n) => backoffDelay(backoff, n, null, undefined, fixed(0)))).toEqual([
        250, 250, 250,
      ])
    })

    it('adds incrementMs per retry up to maxMs when linear', () => {
      const backoff = { kind: 'linear', initialMs: 100, incrementMs: 50, maxMs: 220 } as const
      expect([1, 2, 3, 4].map((n) => backoffDelay(backoff, n, null, undefined, fixed(0)))).toEqual([
        100, 150, 200, 220,
      ])
    })
  })

  describe('when custom', () => {
    it('passes the attempt and error and floors negatives at zero', () => {
      const seen: unknown[] = []
      const custom = (attempt: number, error: unknown) => {
        seen.push([attempt, error])
        return attempt === 1 ? -5 : 42
      }
      expect(backoffDelay(custom, 1, 'e1', undefined, fixed(0))).toBe(0)
      expect(backoffDelay(custom, 2, 'e2', undefined, fixed(0))).toBe(42)
      expect(seen).toEqual([
        [1, 'e1'],
        [2, 'e2'],
      ])
    })
  })
})
