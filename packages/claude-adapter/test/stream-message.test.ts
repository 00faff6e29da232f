import type { Anthropic } from '@anthropic-ai/sdk'
import { describe, expect, it } from 'vitest'
import { buildMessage, streamEvents } from '../src/fake-responses.js'
import { messageOf } from '../src/stream-message.js'

const body = { model: 'claude-sonnet-5-5', max_tokens: 256, messages: [] }

describe('messageOf()', () => {
  it('rebuilds the Message the fake server streamed', () => {
    const message = buildMessage('msg_1', body, 'Echo: some words here', undefined)
    expect(messageOf(streamEvents(message))).toEqual(message)
  })

  it('is undefined before message_start', () => {
    expect(messageOf([{ type: 'message_stop' }])).toBeUndefined()
  })

  it('parses a tool input once whole, keeping the start input when it is cut short', () => {
    const start = buildMessage('msg_2', body, '', undefined)
    const tool = (id: string): Anthropic.RawMessageStreamEvent => ({
      type: 'content_block_start',
      index: id === 'a' ? 0 : 1,
      content_block: {
        type: 'tool_use',
        id,
        name: 'lookup',
        input: {},
        caller: { type: 'direct' },
      },
    })
    const json = (index: number, partial_json: string): Anthropic.RawMessageStreamEvent => ({
      type: 'content_block_delta',
      index,
      delta: { type: 'input_json_delta', partial_json },
    })
    const message = messageOf([
      { type: 'message_start', message: { ...start, content: [] } },
      tool('a'),
      json(0, '{"q":'),
      json(0, '"x"}'),
      tool('b'),
      json(1, '{"q":"cu'),
    ])
    expect(message?.content).toMatchObject([{ input: { q: 'x' } }, { input: {} }])
  })
})
