import { describe, expect, it, vi } from 'vitest'
import { RetryError, retry, retryContext } from '../src/index.js'
import { HttpError } from './helpers.js'

const fast = { initialMs: 0, jitter: 'none' } as const

describe('nested retry()', () => {
  describe("when nested is 'single' (the default)", () => {
    it('makes 3 calls, not 27, for 3 layers of 3 attempts over a dead service', async () => {
      let calls = 0
      const service = async () => {
        calls++
        throw new HttpError(503)
      }
      const layer = (fn: () => Promise<unknown>) => () =>
        retry(fn, { maxAttempts: 3, backoff: fast })
      const error = await layer(layer(layer(service)))().catch((e: unknown) => e)
      expect(calls).toBe(3)
      expect(error).toBeInstanceOf(RetryError)
      // Inner layers pass the original error through, so the outer predicate sees the 503.
      expect((error as RetryError).errors.every((e) => e instanceof HttpError)).toBe(true)
    })

    it('gives the inner call its own attempt 1 with the outer signal and deadline', async () => {
      const controller = new AbortController()
      const inner: unknown[] = []
      await retry(
        async (outerAttempt) => {
          await retry(async () => {
            const context = retryContext()
            inner.push([outerAttempt, context?.attempt, context?.signal, context?.deadline])
          })
          if (outerAttempt === 1) throw new HttpError(503)
        },
        { signal: controller.signal, maxElapsedMs: 60_000, backoff: fast },
      )
      expect(inner).toHaveLength(2)
      expect(inner[0]).toEqual([1, 1, controller.signal, expect.any(Number)])
      expect(inner[1]).toEqual([2, 1, controller.signal, expect.any(Number)])
    })
  })

  describe("when nested is 'independent'", () => {
    it('retries on its own inside the outer retry', async () => {
      let calls = 0
      const service = async () => {
        calls++
        throw new HttpError(503)
      }
      const inner = () => retry(service, { maxAttempts: 3, backoff: fast, nested: 'independent' })
      await retry(inner, { maxAttempts: 2, backoff: fast }).catch(() => {})
      expect(calls).toBe(6)
    })

    it('stops retrying at the outer deadline', async () => {
      vi.useFakeTimers()
      try {
        let calls = 0
        const inner = () =>
          retry(
            async () => {
              calls++
              throw new HttpError(503)
            },
            {
              maxAttempts: 100,
              nested: 'independent',
              backoff: { kind: 'constant', delayMs: 100 },
            },
          )
        const outcome = retry(inner, { maxAttempts: 1, maxElapsedMs: 350 }).catch((e: unknown) => e)
        await vi.runAllTimersAsync()
        const error = (await outcome) as RetryError
        // Inner attempts at 0, 100, 200, 300 ms; the next would start at the 350 ms deadline or later.
        expect(calls).toBe(4)
        expect((error.cause as RetryError).reason).toBe('deadline')
      } finally {
        vi.useRealTimers()
      }
    })
  })

  describe('when the outer call is aborted', () => {
    it('cancels the inner sleep with the outer reason', async () => {
      const controller = new AbortController()
      const reason = new Error('stop')
      const inner = () =>
        retry(
          async () => {
            setTimeout(() => controller.abort(reason), 5)
            throw new HttpError(503)
          },
          { nested: 'independent', backoff: { kind: 'constant', delayMs: 60_000 } },
        )
      await expect(retry(inner, { signal: controller.signal })).rejects.toBe(reason)
    })
  })
})
