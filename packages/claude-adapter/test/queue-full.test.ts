import type { Anthropic } from '@anthropic-ai/sdk'
import { describe, expect, it } from 'vitest'
import { classifyError, isDegraded, isRateLimitQueueFullError } from '../src/index.js'
import { FALLBACK, params, rejection, setup } from './helpers.js'

// One request per 500 ms and one caller allowed to wait: a third concurrent call overflows.
const limited = {
  fallbackModels: [FALLBACK],
  rateLimit: { requestsPerMinute: 120, maxQueue: 1, adaptive: false },
}

const drain = async (stream: AsyncIterable<Anthropic.RawMessageStreamEvent>) => {
  for await (const _ of stream);
}

// Outcomes of calls running in the background, observed at once so a failure is never unhandled.
const settled = (calls: Promise<unknown>[]) =>
  Promise.allSettled(calls).then((results) => results.map((r) => r.status))

describe('when the rate limiter queue is full', () => {
  it('create rejects with RateLimitQueueFullError itself, with no fallback', async () => {
    const { fake, claude, events } = await setup({}, limited)
    const others = settled([claude.messages.create(params), claude.messages.create(params)])
    const error = await rejection(claude.messages.create(params))
    expect((error as Error).name).toBe('RateLimitQueueFullError')
    expect(isRateLimitQueueFullError(error)).toBe(true)
    expect(classifyError(error)).toBe('infrastructure')
    expect(events.filter((e) => e.type === 'fallback')).toEqual([])
    expect(await others).toEqual(['fulfilled', 'fulfilled'])
    expect(fake.count(FALLBACK)).toBe(0)
  })

  it('stream rejects with RateLimitQueueFullError itself, with no fallback', async () => {
    const { fake, claude, events } = await setup({}, limited)
    const others = settled([
      drain(claude.messages.stream(params)),
      drain(claude.messages.stream(params)),
    ])
    const error = await rejection(drain(claude.messages.stream(params)))
    expect((error as Error).name).toBe('RateLimitQueueFullError')
    expect(isRateLimitQueueFullError(error)).toBe(true)
    expect(events.filter((e) => e.type === 'fallback')).toEqual([])
    expect(await others).toEqual(['fulfilled', 'fulfilled'])
    expect(fake.count(FALLBACK)).toBe(0)
  })

  it('still lets degrade answer it (infrastructure), passing the error itself', async () => {
    const seen: unknown[] = []
    const { claude } = await setup(
      {},
      {
        ...limited,
        degrade: (_params, error) => {
          seen.push(error)
          return 'busy'
        },
      },
    )
    const others = settled([claude.messages.create(params), claude.messages.create(params)])
    const { message, meta } = await claude.messages.createWithMeta(params)
    expect(isDegraded(message)).toBe(true)
    expect(meta).toMatchObject({ source: 'degraded', attempts: 0 })
    expect((seen[0] as Error).name).toBe('RateLimitQueueFullError')
    expect(await others).toEqual(['fulfilled', 'fulfilled'])
  })
})
