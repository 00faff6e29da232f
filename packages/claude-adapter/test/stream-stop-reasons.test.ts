import type { Anthropic } from '@anthropic-ai/sdk'
import { describe, expect, it } from 'vitest'
import {
  isRefusalError,
  isTruncatedResponseError,
  type RefusalError,
  type ResilientStream,
  type TruncatedResponseError,
} from '../src/index.js'
import { FALLBACK, params, rejection, setup } from './helpers.js'

async function collect(stream: ResilientStream, seen: Anthropic.RawMessageStreamEvent[] = []) {
  for await (const event of stream) seen.push(event)
  return seen
}

// `create()` throws on these stop reasons (see the README's failure table); so must a stream.
describe('messages.stream() stop reasons', () => {
  describe('when the model refuses', () => {
    it('throws RefusalError like create, without retrying or falling back', async () => {
      const { fake, claude } = await setup(
        { faults: [{ stopReason: 'refusal' }] },
        { fallbackModels: [FALLBACK] },
      )
      const seen: Anthropic.RawMessageStreamEvent[] = []
      const error = (await rejection(collect(claude.messages.stream(params), seen))) as RefusalError
      expect(isRefusalError(error)).toBe(true)
      expect(error.response).toMatchObject({
        type: 'message',
        stop_reason: 'refusal',
        stop_details: { type: 'refusal', explanation: 'Declined by the fake server.' },
        content: [],
      })
      expect(seen.some((e) => e.type === 'message_delta')).toBe(false)
      expect(fake.count()).toBe(1)
    })
  })

  describe('when the answer hits max_tokens', () => {
    const short = { ...params, max_tokens: 2 }

    it('ends normally by default', async () => {
      const { claude } = await setup()
      const events = await collect(claude.messages.stream(short))
      const delta = events.find((e) => e.type === 'message_delta')
      expect(delta?.type === 'message_delta' && delta.delta.stop_reason).toBe('max_tokens')
      expect(events.at(-1)?.type).toBe('message_stop')
    })

    it('throws TruncatedResponseError with onTruncated: error, carrying the text so far', async () => {
      const { fake, claude } = await setup({}, { onTruncated: 'error' })
      const error = (await rejection(
        collect(claude.messages.stream(short)),
      )) as TruncatedResponseError
      expect(isTruncatedResponseError(error)).toBe(true)
      expect(error.response.stop_reason).toBe('max_tokens')
      expect(error.response.content).toEqual([{ type: 'text', text: 'Echo: he', citations: null }])
      expect(error.response.usage.output_tokens).toBe(2)
      expect(fake.count()).toBe(1)
    })
  })
})
