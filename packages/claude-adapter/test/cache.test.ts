import type { Anthropic } from '@anthropic-ai/sdk'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { type CacheStore, MemoryCacheStore, paramsHash } from '../src/index.js'
import { PRIMARY, params, setup } from './helpers.js'

const message = (id: string) => ({ id }) as Anthropic.Message

describe('paramsHash()', () => {
  it('ignores key order, undefined fields and stream', () => {
    const a = paramsHash({ model: 'm', max_tokens: 1, messages: [], temperature: undefined })
    const b = paramsHash({ messages: [], stream: true, max_tokens: 1, model: 'm' })
    expect(a).toBe(b)
  })

  it('differs for any canonical param', () => {
    const base = paramsHash(params)
    expect(paramsHash({ ...params, temperature: 0 })).not.toBe(base)
    expect(paramsHash({ ...params, system: 'x' })).not.toBe(base)
    expect(paramsHash({ ...params, model: 'claude-haiku-5-5' })).not.toBe(base)
  })
})

describe('MemoryCacheStore', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('expires entries after their ttl', () => {
    const store = new MemoryCacheStore()
    store.set('k', message('a'), 1_000)
    vi.advanceTimersByTime(999)
    expect(store.get('k')?.id).toBe('a')
    vi.advanceTimersByTime(1)
    expect(store.get('k')).toBeUndefined()
  })

  it('evicts the least recently used entry beyond maxEntries', () => {
    const store = new MemoryCacheStore({ maxEntries: 2 })
    store.set('a', message('a'), 60_000)
    store.set('b', message('b'), 60_000)
    store.get('a')
    store.set('c', message('c'), 60_000)
    expect(store.get('b')).toBeUndefined()
    expect(store.get('a')?.id).toBe('a')
    expect(store.size).toBe(2)
  })

  it('keeps copies: editing a stored or returned answer does not change the entry', () => {
    const store = new MemoryCacheStore()
    const stored = { id: 'a', content: [{ type: 'text', text: 'original' }] } as Anthropic.Message
    store.set('k', stored, 60_000)
    stored.id = 'edited before get'
    const got = store.get('k') as Anthropic.Message
    got.content.length = 0
    expect(store.get('k')).toEqual({ id: 'a', content: [{ type: 'text', text: 'original' }] })
  })
})

describe('cache option', () => {
  describe('when given a custom async store', () => {
    it('reads and writes through it with the configured ttl', async () => {
      const data = new Map<string, Anthropic.Message>()
      const ttls: number[] = []
      const store: CacheStore = {
        get: async (key) => data.get(key),
        set: async (key, value, ttlMs) => {
          data.set(key, value)
          ttls.push(ttlMs)
        },
      }
      const { fake, claude } = await setup({}, { cache: { store, ttlMs: 5_000, mode: 'first' } })
      const first = await claude.messages.create(params)
      const second = await claude.messages.create(params)
      expect(second).toEqual(first)
      expect([...data.keys()]).toEqual([`claude:${paramsHash(params)}`])
      expect(ttls).toEqual([5_000])
      expect(fake.count()).toBe(1)
    })
  })

  describe('when the caller edits an answer', () => {
    it('serves later callers the answer as the API gave it', async () => {
      const { fake, claude } = await setup({}, { cache: { mode: 'first' } })
      const first = await claude.messages.create(params)
      first.content[0] = { type: 'text', text: 'MUTATED BY CALLER', citations: null }
      const { message, meta } = await claude.messages.createWithMeta(params)
      expect(meta.source).toBe('cache')
      expect(message.content[0]).toMatchObject({ text: 'Echo: hello there world' })
      expect(fake.count()).toBe(1)
    })
  })

  describe('when the answer is not a finished turn', () => {
    it('does not cache it', async () => {
      const { fake, claude } = await setup(
        { faults: [{ stopReason: 'max_tokens' }] },
        { cache: { mode: 'first' } },
      )
      await claude.messages.create(params)
      await claude.messages.create(params)
      expect(fake.count()).toBe(2)
    })
  })
})

describe('cache option', () => {
  describe('when the store throws (e.g. Redis down)', () => {
    const down = () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), {
        code: 'ECONNREFUSED',
      })
    }
    const store: CacheStore = { get: async () => down(), set: async () => down() }

    it.each(['fallback', 'first'] as const)(
      'keeps the API answer and reports cache-error events in mode %s',
      async (mode) => {
        const { fake, claude, events } = await setup({}, { cache: { store, mode } })
        const { message, meta } = await claude.messages.createWithMeta(params)
        expect(message.content[0]).toMatchObject({ text: 'Echo: hello there world' })
        expect(meta).toMatchObject({ source: 'api', attempts: 1 })
        expect(fake.count()).toBe(1)
        const errors = events.filter((e) => e.type === 'cache-error')
        expect(errors.map((e) => e.type === 'cache-error' && e.operation)).toEqual(
          mode === 'first' ? ['get', 'set'] : ['set'],
        )
      },
    )

    it('treats a failed read as a miss when every model fails, so degrade still answers', async () => {
      const { fake, claude, events } = await setup(
        {},
        { cache: { store }, retry: { maxAttempts: 1 }, degrade: () => 'busy' },
      )
      fake.outage(PRIMARY)
      const { meta } = await claude.messages.createWithMeta(params)
      expect(meta.source).toBe('degraded')
      expect(events).toContainEqual(
        expect.objectContaining({ type: 'cache-error', operation: 'get' }),
      )
    })
  })
})
