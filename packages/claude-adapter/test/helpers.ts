import { Anthropic } from '@anthropic-ai/sdk'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { afterEach } from 'vitest'
import { type ClaudeEvent, ResilientClaude, type ResilientClaudeOptions } from '../src/index.js'
import {
  type FakeAnthropic,
  type FakeAnthropicOptions,
  startFakeAnthropic,
} from '../src/testing.js'

export const PRIMARY = 'claude-sonnet-5-5'
export const FALLBACK = 'claude-haiku-5-5'

export const params = {
  model: PRIMARY,
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'hello there world' }],
}

const running: FakeAnthropic[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((fake) => fake.close()))
})

/** A fake server plus a ResilientClaude over a real SDK client (default SDK retries left ON, to prove we bypass them). */
export async function setup(
  fakeOptions: FakeAnthropicOptions = {},
  options: Partial<ResilientClaudeOptions> = {},
) {
  const fake = await startFakeAnthropic(fakeOptions)
  running.push(fake)
  const client = new Anthropic({ apiKey: 'test', baseURL: fake.url })
  const events: ClaudeEvent[] = []
  const claude = new ResilientClaude({
    client,
    registry: new BreakerRegistry(),
    retry: { maxAttempts: 4, backoff: { kind: 'constant', delayMs: 5 } },
    onEvent: (event) => events.push(event),
    ...options,
  })
  return { fake, client, claude, events }
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}
