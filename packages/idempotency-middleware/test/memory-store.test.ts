import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import fc from 'fast-check'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { IdempotencyConfigError, idempotency, MemoryStore } from '../src/index.js'
import { describeStore } from '../src/testing.js'

describeStore('memory', () => new MemoryStore())

const RESPONSE = { status: 201, headers: {}, body: new Uint8Array([1, 2]) }

describe('MemoryStore', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllEnvs()
  })

  async function complete(store: MemoryStore, key: string) {
    const claim = await store.claim(key, 'fp', 10_000)
    if (claim.state !== 'claimed') throw new Error('not claimed')
    await store.complete(
      key,
      claim.token,
      { status: 200, headers: {}, body: new Uint8Array(0) },
      60_000,
    )
  }

  it.each([
    { maxEntries: 0 },
    { maxEntries: 1.5 },
    { sweepIntervalMs: 0 },
    { sweepIntervalMs: Number.POSITIVE_INFINITY },
  ])('refuses %j, which would keep nothing or sweep every millisecond', (options) => {
    expect(() => new MemoryStore(options)).toThrow(IdempotencyConfigError)
  })

  describe('when used synchronously', () => {
    it('answers through `sync` on the same records as the async methods', async () => {
      const store = new MemoryStore()
      const claim = store.sync.claim('k', 'fp', 10_000)
      if (claim.state !== 'claimed') throw new Error('not claimed')
      expect((await store.claim('k', 'fp', 10_000)).state).toBe('in-progress')
      expect(store.sync.renew('k', 'not-the-owner', 10_000)).toBe(false)
      expect(store.sync.complete('k', 'not-the-owner', RESPONSE, 60_000)).toBe(false)
      expect(store.sync.complete('k', claim.token, RESPONSE, 60_000)).toBe(true)
      const done = await store.claim('k', 'fp', 10_000)
      expect(done.state === 'completed' && done.response.status).toBe(201)
      await store.close()
    })

    it('hands every claim its own token, so a released owner stays fenced out', () => {
      const store = new MemoryStore()
      const first = store.sync.claim('k', 'fp', 10_000)
      if (first.state !== 'claimed') throw new Error('not claimed')
      store.sync.release('k', first.token)
      const second = store.sync.claim('k', 'fp', 10_000)
      if (second.state !== 'claimed') throw new Error('not claimed')
      expect(second.token).not.toBe(first.token)
      expect(store.sync.complete('k', first.token, RESPONSE, 60_000)).toBe(false)
      void store.close()
    })
  })

  describe('when records carry headers', () => {
    it('replays each record with its own headers, equal ones shared or not', async () => {
      const store = new MemoryStore()
      const headersOf = [
        { 'content-type': 'application/json' },
        { 'content-type': 'application/json' },
        { 'content-type': 'text/plain', etag: '"v2"' },
        { 'content-type': 'application/json', link: ['<a>; rel=a', '<b>; rel=b'] },
        {},
      ]
      for (const [i, headers] of headersOf.entries()) {
        const claim = store.sync.claim(`k${i}`, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        store.sync.complete(`k${i}`, claim.token, { ...RESPONSE, headers: { ...headers } }, 60_000)
      }
      for (const [i, headers] of headersOf.entries()) {
        const done = store.sync.claim(`k${i}`, 'fp', 10_000)
        expect(done.state === 'completed' && done.response.headers).toEqual(headers)
      }
      await store.close()
    })

    it('hands out headers that a caller may change without touching other records', () => {
      const store = new MemoryStore()
      for (const key of ['a', 'b']) {
        const claim = store.sync.claim(key, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const headers = { 'content-type': 'application/json' }
        store.sync.complete(key, claim.token, { ...RESPONSE, headers }, 60_000)
      }
      const a = store.sync.claim('a', 'fp', 10_000)
      if (a.state !== 'completed') throw new Error('not completed')
      a.response.headers['content-type'] = 'text/html'
      const b = store.sync.claim('b', 'fp', 10_000)
      expect(b.state === 'completed' && b.response.headers['content-type']).toBe('application/json')
      void store.close()
    })
  })

  describe('when full', () => {
    it('evicts the oldest completed records first and never an in-flight one', async () => {
      const store = new MemoryStore({ maxEntries: 3 })
      await store.claim('in-flight', 'fp', 60_000)
      await complete(store, 'old')
      await complete(store, 'newer')
      await complete(store, 'newest')
      expect(store.size).toBe(3)
      expect((await store.claim('old', 'fp', 60_000)).state).toBe('claimed')
      expect((await store.claim('in-flight', 'fp', 60_000)).state).toBe('in-progress')
      expect((await store.claim('newest', 'fp', 60_000)).state).toBe('completed')
      await store.close()
    })

    it('evicts a record that completed after eviction stepped over it before newer ones', () => {
      const store = new MemoryStore({ maxEntries: 2 })
      const claim = (key: string) => {
        const result = store.sync.claim(key, 'fp', 60_000)
        if (result.state !== 'claimed') throw new Error(`${key} not claimed`)
        return result.token
      }
      const done = (key: string, token: string) => store.sync.complete(key, token, RESPONSE, 60_000)
      const a = claim('a')
      done('b', claim('b'))
      // Over the bound: 'b' goes, 'a' (in flight) is stepped over.
      const c = claim('c')
      done('a', a)
      done('c', c)
      // Over the bound again: 'a' is the oldest completed record, older than 'c' by both counts.
      claim('d')
      expect(store.sync.claim('c', 'fp', 60_000).state).toBe('completed')
      expect(store.sync.claim('a', 'fp', 60_000).state).toBe('claimed')
      void store.close()
    })

    it('always evicts the oldest completed records, whatever the order of claims, completions and releases (property)', () => {
      type Op = { kind: 'claim' } | { kind: 'complete' | 'release'; pick: number }
      const op: fc.Arbitrary<Op> = fc.oneof(
        { arbitrary: fc.constant({ kind: 'claim' as const }), weight: 3 },
        {
          arbitrary: fc.record({ kind: fc.constant('complete' as const), pick: fc.nat() }),
          weight: 3,
        },
        {
          arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
          weight: 1,
        },
      )
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 4 }),
          fc.array(op, { minLength: 4, maxLength: 60 }),
          (max, ops) => {
            const store = new MemoryStore({ maxEntries: max })
            // The model: records in claim order; over the bound, the first completed ones go.
            const model: { key: string; token: string; done: boolean }[] = []
            const evict = () => {
              while (model.length > max) {
                const oldest = model.findIndex((record) => record.done)
                if (oldest < 0) return
                model.splice(oldest, 1)
              }
            }
            let next = 0
            for (const step of ops) {
              if (step.kind === 'claim') {
                const key = `k${next++}`
                const result = store.sync.claim(key, 'fp', 60_000)
                if (result.state !== 'claimed') return false
                model.push({ key, token: result.token, done: false })
                evict()
                continue
              }
              const running = model.filter((record) => !record.done)
              const record = running[step.pick % Math.max(1, running.length)]
              if (record === undefined) continue
              if (step.kind === 'complete') {
                store.sync.complete(record.key, record.token, RESPONSE, 60_000)
                record.done = true
                evict()
              } else {
                store.sync.release(record.key, record.token)
                model.splice(model.indexOf(record), 1)
              }
            }
            expect(store.size).toBe(model.length)
            // Same size and every modelled record held: the same records.
            for (const record of model) {
              const state = store.sync.claim(record.key, 'fp', 60_000).state
              expect(state).toBe(record.done ? 'completed' : 'in-progress')
            }
            void store.close()
            return true
          },
        ),
        { numRuns: 500 },
      )
    })

    it('keeps evicting oldest first over many evictions, a re-run key counting as new', async () => {
      const store = new MemoryStore({ maxEntries: 3 })
      const state = async (key: string) => (await store.claim(key, 'fp', 60_000)).state
      for (const key of ['a', 'b', 'c', 'd', 'e', 'f']) await complete(store, key)
      expect([await state('d'), await state('e'), await state('f')]).toEqual(
        Array(3).fill('completed'),
      )
      // 'c' was evicted: it runs again (its claim pushes out 'd') and completes as the newest.
      await complete(store, 'c')
      await complete(store, 'g')
      expect([await state('f'), await state('c'), await state('g')]).toEqual(
        Array(3).fill('completed'),
      )
      expect(store.size).toBe(3)
      expect(await state('e')).toBe('claimed')
      await store.close()
    })

    it('evicts a batch of the oldest, 1/128 of the bound, once full', async () => {
      const store = new MemoryStore({ maxEntries: 256 })
      for (let i = 0; i < 256; i++) await complete(store, `k${i}`)
      expect(store.size).toBe(256)
      await complete(store, 'k256')
      expect(store.size).toBe(255)
      // Looked at before the claims below, which refill the store and evict again.
      expect(store.sync.claim('k2', 'fp', 60_000).state).toBe('completed')
      expect(store.sync.claim('k0', 'fp', 60_000).state).toBe('claimed')
      expect(store.sync.claim('k1', 'fp', 60_000).state).toBe('claimed')
      await store.close()
    })

    it('holds more than maxEntries rather than dropping in-flight claims', async () => {
      const store = new MemoryStore({ maxEntries: 2 })
      for (const key of ['a', 'b', 'c']) await store.claim(key, 'fp', 60_000)
      expect(store.size).toBe(3)
      expect((await store.claim('a', 'fp', 60_000)).state).toBe('in-progress')
      await store.close()
    })

    it('comes back within the bound as soon as an in-flight claim completes', () => {
      const store = new MemoryStore({ maxEntries: 2 })
      const tokens = ['a', 'b', 'c'].map((key) => {
        const claim = store.sync.claim(key, 'fp', 60_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        return claim.token
      })
      store.sync.complete('a', tokens[0] as string, RESPONSE, 60_000)
      expect(store.size).toBe(2)
      expect(store.sync.claim('b', 'fp', 60_000).state).toBe('in-progress')
      expect(store.sync.claim('c', 'fp', 60_000).state).toBe('in-progress')
      void store.close()
    })
  })

  describe('when records expire', () => {
    it('sweeps them on its interval', async () => {
      vi.useFakeTimers()
      const store = new MemoryStore({ sweepIntervalMs: 1_000 })
      await store.claim('lease', 'fp', 500)
      const claim = await store.claim('done', 'fp', 60_000)
      if (claim.state !== 'claimed') throw new Error('not claimed')
      await store.complete(
        'done',
        claim.token,
        { status: 200, headers: {}, body: new Uint8Array(0) },
        500,
      )
      expect(store.size).toBe(2)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(store.size).toBe(0)
      await store.close()
    })

    it('unrefs its sweep timer', () => {
      const spy = vi.spyOn(globalThis, 'setInterval')
      const store = new MemoryStore()
      const timer = spy.mock.results[0]?.value as NodeJS.Timeout
      expect(timer.hasRef()).toBe(false)
      spy.mockRestore()
      void store.close()
    })

    it('can be collected without close(): its sweep timer does not keep it alive', async () => {
      setFlagsFromString('--expose-gc')
      const gc = runInNewContext('gc') as () => void
      let collected = false
      const registry = new FinalizationRegistry(() => {
        collected = true
      })
      // A store per tenant or per test, dropped without close(), with records in it.
      ;(() => {
        const store = new MemoryStore({ sweepIntervalMs: 5 })
        store.sync.claim('k', 'fp', 60_000)
        registry.register(store, 'store')
      })()
      for (let i = 0; i < 50 && !collected; i++) {
        await new Promise((resolve) => setTimeout(resolve, 10))
        gc()
      }
      expect(collected).toBe(true)
    })
  })

  describe('when waiting for a key', () => {
    it('wakes waiters when the key completes, before the timeout', async () => {
      const store = new MemoryStore()
      const claim = await store.claim('k', 'fp', 60_000)
      if (claim.state !== 'claimed') throw new Error('not claimed')
      const started = Date.now()
      const waiting = store.waitForChange('k', 5_000)
      await store.complete(
        'k',
        claim.token,
        { status: 200, headers: {}, body: new Uint8Array(0) },
        60_000,
      )
      await waiting
      expect(Date.now() - started).toBeLessThan(1_000)
      await store.close()
    })
  })

  describe('when NODE_ENV is production', () => {
    it('warns once per process that records are per process', () => {
      vi.stubEnv('NODE_ENV', 'production')
      const warn = vi.fn()
      idempotency({ logger: { warn } })
      idempotency({ store: new MemoryStore(), logger: { warn } })
      expect(warn).toHaveBeenCalledTimes(1)
      expect(warn.mock.calls[0]?.[0]).toMatch(/MemoryStore.*production/)
    })
  })
})
