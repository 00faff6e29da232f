import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { describe, expect, it } from 'vitest'
import type { ResilientClaude, ResilientClaudeOptions } from '../src/index.js'
import { FALLBACK, PRIMARY, params, setup } from './helpers.js'

/** Makes `calls` calls, each answered by the fallback while the primary is down. */
async function callsDuringOutage(claude: ResilientClaude, calls: number): Promise<void> {
  for (let i = 0; i < calls; i++) {
    expect((await claude.messages.create(params)).model).toBe(FALLBACK)
  }
}

/** A client with a fallback and no retries whose breakers take `breaker`, in their own registry. */
async function withBreakerOptions(breaker: ResilientClaudeOptions['breaker']) {
  const registry = new BreakerRegistry()
  const { fake, claude } = await setup(
    {},
    { registry, fallbackModels: [FALLBACK], retry: { maxAttempts: 1 }, breaker },
  )
  return { fake, claude, breaker: () => registry.get(`claude:${PRIMARY}`) }
}

describe('ResilientClaude breaker options', () => {
  describe('when only openMs is set', () => {
    it('keeps the default failure rate and honours openMs', async () => {
      const { fake, claude, breaker } = await withBreakerOptions({ openMs: 200 })
      fake.outage(PRIMARY)
      // Far past five failures in a row, but short of the default rate's 20 minimum calls.
      await callsDuringOutage(claude, 19)
      expect(breaker().state).toBe('closed')
      await callsDuringOutage(claude, 1)
      expect(breaker().state).toBe('open')
      await callsDuringOutage(claude, 1)
      expect(fake.count(PRIMARY)).toBe(20)

      fake.restore(PRIMARY)
      await new Promise((resolve) => setTimeout(resolve, 300))
      expect((await claude.messages.create(params)).model).toBe(PRIMARY)
      expect(breaker().state).toBe('closed')
    })
  })

  describe('when only failureRate.threshold is set', () => {
    it('keeps the default minimumCalls and window', async () => {
      const { fake, claude, breaker } = await withBreakerOptions({
        failureRate: { threshold: 0.5 },
      })
      fake.outage(PRIMARY)
      // The breaker's own minimumCalls (10) would have opened it by now.
      await callsDuringOutage(claude, 19)
      expect(breaker().state).toBe('closed')
      await callsDuringOutage(claude, 1)
      expect(breaker().state).toBe('open')
      expect(breaker().options).toMatchObject({
        rateThreshold: 0.5,
        minimumCalls: 20,
        window: { kind: 'count', size: 50 },
      })
    })
  })
})
