import type { Anthropic } from '@anthropic-ai/sdk'
import { describe, expect, it } from 'vitest'
import { DEGRADED, isDegraded } from '../src/index.js'
import { PRIMARY, params, setup } from './helpers.js'

describe('degrade option', () => {
  describe('when the handler returns a whole Message', () => {
    it('marks it degraded and keeps it JSON-clean', async () => {
      const canned = {
        id: 'msg_canned',
        type: 'message',
        role: 'assistant',
        model: PRIMARY,
        content: [{ type: 'text', text: 'canned', citations: null }],
        stop_reason: 'end_turn',
        stop_sequence: null,
        stop_details: null,
        container: null,
        diagnostics: null,
        usage: { input_tokens: 0, output_tokens: 0 },
      } as unknown as Anthropic.Message
      const { fake, claude } = await setup(
        {},
        { retry: { maxAttempts: 1 }, degrade: async () => canned },
      )
      fake.outage(PRIMARY)
      const message = await claude.messages.create(params)
      expect(isDegraded(message)).toBe(true)
      expect((message as unknown as Record<symbol, unknown>)[DEGRADED]).toBe(true)
      expect(JSON.parse(JSON.stringify(message))).toEqual(canned)
      expect(isDegraded(canned)).toBe(false)
    })
  })

  describe('when no degrade handler is configured', () => {
    it('throws the typed error', async () => {
      const { fake, claude } = await setup({}, { retry: { maxAttempts: 1 } })
      fake.outage(PRIMARY)
      await expect(claude.messages.create(params)).rejects.toMatchObject({
        name: 'ClaudeUnavailableError',
        code: 'ERR_CLAUDE_UNAVAILABLE',
      })
    })
  })

  describe('when the failure is permanent', () => {
    it('does not degrade', async () => {
      const { claude } = await setup({ faults: [{ status: 400 }] }, { degrade: () => 'never used' })
      await expect(claude.messages.create(params)).rejects.toMatchObject({ status: 400 })
    })
  })
})
