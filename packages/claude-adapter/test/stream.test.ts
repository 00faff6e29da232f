import type { Anthropic } from '@anthropic-ai/sdk'
import { describe, expect, it } from 'vitest'
import {
  classifyError,
  isClaudeTimeoutError,
  isStreamInterruptedError,
  type ResilientStream,
  type StreamInterruptedError,
} from '../src/index.js'
import { FALLBACK, PRIMARY, params, rejection, setup } from './helpers.js'

async function collect(stream: ResilientStream) {
  const events: Anthropic.RawMessageStreamEvent[] = []
  for await (const event of stream) events.push(event)
  const text = events
    .map((e) =>
      e.type === 'content_block_delta' && e.delta.type === 'text_delta' ? e.delta.text : '',
    )
    .join('')
  return { events, text }
}

describe('messages.stream()', () => {
  describe('when nothing fails', () => {
    it('yields the SDK’s raw events in order, ending with message_stop', async () => {
      const { claude } = await setup()
      const stream = claude.messages.stream(params)
      expect(stream.meta).toBeUndefined()
      const { events, text } = await collect(stream)
      expect(text).toBe('Echo: hello there world')
      expect(events[0]?.type).toBe('message_start')
      expect(events.at(-1)?.type).toBe('message_stop')
      expect(stream.meta).toMatchObject({ model: PRIMARY, attempts: 1, source: 'api' })
    })
  })

  describe('when the stream breaks before the first content event', () => {
    it('retries a connection cut after message_start, unseen by the consumer', async () => {
      const { fake, claude } = await setup({ faults: [{ cutAfterEvents: 2 }] })
      const stream = claude.messages.stream(params)
      const { events, text } = await collect(stream)
      expect(text).toBe('Echo: hello there world')
      expect(events.filter((e) => e.type === 'message_start')).toHaveLength(1)
      expect(fake.requests.map((r) => r.outcome)).toEqual(['cut', 'ok'])
      expect(stream.meta?.attempts).toBe(2)
    })

    it('fails over on overloaded_error SSE events', async () => {
      const { fake, claude } = await setup(
        {
          faults: [{ overloadedAfterEvents: 1, model: PRIMARY, times: Number.POSITIVE_INFINITY }],
        },
        { fallbackModels: [FALLBACK] },
      )
      const stream = claude.messages.stream(params)
      const { text } = await collect(stream)
      expect(text).toBe('Echo: hello there world')
      expect(stream.meta?.model).toBe(FALLBACK)
      expect(fake.count(PRIMARY)).toBe(4)
      expect(fake.count(FALLBACK)).toBe(1)
    })

    it('retries a status error before the stream starts', async () => {
      const { fake, claude } = await setup({ faults: [{ status: 529 }] })
      await collect(claude.messages.stream(params))
      expect(fake.count()).toBe(2)
    })

    it('bounds the wait for the first content event with timeoutMs', async () => {
      const { claude } = await setup({ faults: [{ delayMs: 3_000 }] })
      const error = await rejection(collect(claude.messages.stream(params, { timeoutMs: 200 })))
      expect(isClaudeTimeoutError(error)).toBe(true)
    })
  })

  describe('when the stream breaks after the first content event', () => {
    it('throws StreamInterruptedError with the partial text and usage, without retrying', async () => {
      const { fake, claude } = await setup({ faults: [{ cutAfterEvents: 4 }] })
      const seen: string[] = []
      const error = (await rejection(
        (async () => {
          for await (const event of claude.messages.stream(params)) seen.push(event.type)
        })(),
      )) as StreamInterruptedError
      expect(isStreamInterruptedError(error)).toBe(true)
      expect(error.partialText).toBe('Echo: hello ')
      expect(error.usage?.input_tokens).toBe(5)
      expect(error.model).toBe(PRIMARY)
      expect((error.cause as Error).message).toBe('terminated')
      expect(classifyError(error)).toBe('transient')
      expect(seen).toEqual([
        'message_start',
        'content_block_start',
        'content_block_delta',
        'content_block_delta',
      ])
      expect(fake.count()).toBe(1)
    })

    it('turns an overloaded_error event mid-stream into StreamInterruptedError', async () => {
      const { claude } = await setup({ faults: [{ overloadedAfterEvents: 5 }] })
      const error = (await rejection(
        collect(claude.messages.stream(params)),
      )) as StreamInterruptedError
      expect(isStreamInterruptedError(error)).toBe(true)
      expect(error.partialText).toBe('Echo: hello there ')
      expect((error.cause as { type?: string }).type).toBe('overloaded_error')
    })
  })

  describe('when the caller aborts mid-stream', () => {
    it('rejects with the signal’s reason, not a stream break', async () => {
      const { claude } = await setup({ eventDelayMs: 30 })
      const controller = new AbortController()
      const error = await rejection(
        (async () => {
          for await (const event of claude.messages.stream(params, { signal: controller.signal })) {
            if (event.type === 'content_block_delta') controller.abort(new Error('stop'))
          }
        })(),
      )
      expect(error).toEqual(new Error('stop'))
    })
  })

  describe('when the caller aborts a stream that is a half-open probe', () => {
    it('rejects at once, not at the next event', async () => {
      const { fake, claude } = await setup(
        { eventDelayMs: 1_000 },
        { retry: { maxAttempts: 1 }, breaker: { failureThreshold: 1, openMs: 100 } },
      )
      fake.script({ status: 529 })
      await rejection(collect(claude.messages.stream(params)))
      await new Promise((resolve) => setTimeout(resolve, 150))
      const controller = new AbortController()
      let abortedAt = 0
      const error = await rejection(
        (async () => {
          for await (const event of claude.messages.stream(params, { signal: controller.signal })) {
            if (event.type === 'content_block_delta') {
              abortedAt = Date.now()
              controller.abort(new Error('stop'))
            }
          }
        })(),
      )
      expect(error).toEqual(new Error('stop'))
      // Before: the probe's signal had stopped following ours, so the wait lasted until the next event.
      expect(Date.now() - abortedAt).toBeLessThan(600)
    })
  })

  describe('when the consumer stops early', () => {
    it('closes the upstream response', async () => {
      const { fake, claude } = await setup({ eventDelayMs: 20 })
      const stream = claude.messages.stream(params)
      for await (const event of stream) {
        if (event.type === 'content_block_delta') break
      }
      expect(stream.meta?.attempts).toBe(1)
      for (let i = 0; i < 100 && fake.requests[0]?.outcome === 'ok'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
      expect(fake.requests[0]?.outcome).toBe('client-closed')
      await expect(
        (async () => {
          for await (const _ of stream) break
        })(),
      ).rejects.toThrow('only once')
    })
  })
})
