import { describe, expect, it } from 'vitest'
import { FALLBACK, PRIMARY, params, setup } from './helpers.js'

// Summing `meta.usage` (or `meta.attempts`) over calls must give what was billed: one request.
describe('usage of an idempotent answer', () => {
  it('is reported once: a replay of a stored result has no usage and no attempts', async () => {
    const { fake, claude, events } = await setup()
    const first = await claude.messages.createWithMeta(params, { idempotencyKey: 'u' })
    const replay = await claude.messages.createWithMeta(params, { idempotencyKey: 'u' })
    expect(first.meta.usage?.output_tokens).toBe(6)
    expect(replay.meta).toMatchObject({ attempts: 0, idempotency: { replayed: true } })
    expect(replay.meta.usage).toBeUndefined()
    // The answer itself is unchanged: its own usage still says what generating it cost.
    expect(replay.message.usage.output_tokens).toBe(6)
    expect(events.filter((e) => e.type === 'attempt')).toHaveLength(1)
    expect(fake.count()).toBe(1)
  })

  it('is reported once among concurrent callers sharing one request', async () => {
    const { fake, claude } = await setup({ latencyMs: 100 })
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        claude.messages.createWithMeta(params, { idempotencyKey: 'c' }),
      ),
    )
    expect(fake.count()).toBe(1)
    const metas = results.map((r) => r.meta)
    expect(metas.reduce((sum, m) => sum + (m.usage?.output_tokens ?? 0), 0)).toBe(6)
    expect(metas.reduce((sum, m) => sum + m.attempts, 0)).toBe(1)
    expect(metas.map((m) => m.idempotency?.replayed)).toEqual([false, true, true])
  })

  it('is reported by a remaining sharer when the caller who started the request left', async () => {
    const { fake, claude } = await setup({ latencyMs: 200 })
    const controller = new AbortController()
    const leaving = claude.messages
      .createWithMeta(params, { idempotencyKey: 'l', signal: controller.signal })
      .catch(() => undefined)
    const staying = [1, 2].map(() =>
      claude.messages.createWithMeta(params, { idempotencyKey: 'l' }),
    )
    setTimeout(() => controller.abort(new Error('gone')), 50)
    await leaving
    const metas = (await Promise.all(staying)).map((r) => r.meta)
    expect(fake.count()).toBe(1)
    expect(metas.map((m) => m.usage?.output_tokens)).toEqual([6, undefined])
    expect(metas.map((m) => m.attempts)).toEqual([1, 0])
  })
})

// `meta.models` is what this call tried: a fallback counted from it must be counted once.
describe('models of an idempotent answer', () => {
  it('are not listed by a replay: it tried none, though `model` still names the answer’s', async () => {
    const { fake, claude } = await setup({}, { fallbackModels: [FALLBACK] })
    fake.outage(PRIMARY)
    const first = await claude.messages.createWithMeta(params, { idempotencyKey: 'm' })
    const replay = await claude.messages.createWithMeta(params, { idempotencyKey: 'm' })
    expect(first.meta).toMatchObject({ model: FALLBACK, models: [PRIMARY, FALLBACK] })
    expect(replay.meta).toMatchObject({ model: FALLBACK, models: [], attempts: 0 })
  })

  it('are listed once among concurrent callers sharing one request', async () => {
    const { fake, claude } = await setup({ latencyMs: 100 })
    const results = await Promise.all(
      Array.from({ length: 3 }, () =>
        claude.messages.createWithMeta(params, { idempotencyKey: 'cm' }),
      ),
    )
    expect(fake.count()).toBe(1)
    expect(results.map((r) => r.meta.models)).toEqual([[PRIMARY], [], []])
  })
})
