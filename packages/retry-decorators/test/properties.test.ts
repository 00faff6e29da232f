import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { backoffDelay, type Jitter, RetryError, retry } from '../src/index.js'
import { HttpError } from './helpers.js'

const jitters: Jitter[] = ['none', 'full', 'equal', 'decorrelated']

describe('properties', () => {
  it('keeps every exponential delay within [0, maxMs]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10_000 }),
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.constantFrom(...jitters),
        fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), {
          minLength: 1,
          maxLength: 30,
        }),
        (initialMs, multiplier, maxMs, jitter, randoms) => {
          let previous: number | undefined
          for (const [index, value] of randoms.entries()) {
            const delay = backoffDelay(
              { initialMs, multiplier, maxMs, jitter },
              index + 1,
              null,
              previous,
              () => value,
            )
            // Decorrelated jitter starts at initialMs, which may exceed a smaller cap.
            expect(delay).toBeGreaterThanOrEqual(0)
            expect(delay).toBeLessThanOrEqual(maxMs)
            previous = delay
          }
        },
      ),
    )
  })

  it('keeps linear delays within [0, maxMs]', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 20_000 }),
        fc.constantFrom('none', 'full', 'equal' as const),
        fc.integer({ min: 1, max: 1_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (initialMs, incrementMs, maxMs, jitter, attempt, r) => {
          const backoff = { kind: 'linear', initialMs, incrementMs, maxMs, jitter } as const
          const delay = backoffDelay(backoff, attempt, null, undefined, () => r)
          expect(delay).toBeGreaterThanOrEqual(0)
          expect(delay).toBeLessThanOrEqual(maxMs)
        },
      ),
    )
  })

  it('never makes more than maxAttempts calls', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.constantFrom(400, 429, 500, 503, 0), { maxLength: 12 }),
        async (maxAttempts, script) => {
          let calls = 0
          const outcome = await retry(
            async () => {
              const status = script[calls++] ?? 503
              if (status !== 0) throw new HttpError(status)
              return 'ok'
            },
            { maxAttempts, backoff: { initialMs: 0 } },
          ).catch((e: unknown) => e)
          expect(calls).toBeLessThanOrEqual(maxAttempts)
          if (outcome instanceof RetryError) expect(outcome.attempts).toBe(calls)
        },
      ),
    )
  })
})
