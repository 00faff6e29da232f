import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import {
  type IdempotencyEvent,
  type IdempotencyStore,
  type IdempotentOptions,
  idempotent,
  isIdempotencyConfigError,
  isIdempotencyConflictError,
  isIdempotencyKeyInvalidError,
  isIdempotencyKeyMismatchError,
  isIdempotencyRecordUnreadableError,
  isIdempotencyStoreError,
  MemoryStore,
  type StoredResponse,
} from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import { SpyStore, sleep } from './support.js'

const clients: Redis[] = []
afterAll(async () => {
  await Promise.all(clients.map((c) => c.quit()))
})

const stores: [string, () => IdempotencyStore][] = [['MemoryStore', () => new MemoryStore()]]
if (!noRedis) {
  stores.push([
    'RedisStore',
    () => {
      const client = new Redis(redisUrl)
      clients.push(client)
      return new RedisStore({ client, prefix: `worker:${randomUUID()}:` })
    },
  ])
}

describe.each(stores)('idempotent() with %s', (_name, makeStore) => {
  it('runs fn once per key and returns the stored JSON result afterwards', async () => {
    const store = makeStore()
    const fn = vi.fn(async () => ({ charged: 42, at: 'now' }))
    expect(await idempotent(store, 'job-1', fn)).toEqual({ charged: 42, at: 'now' })
    expect(await idempotent(store, 'job-1', fn)).toEqual({ charged: 42, at: 'now' })
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('stores undefined and primitives', async () => {
    const store = makeStore()
    expect(await idempotent(store, 'u', () => undefined)).toBeUndefined()
    expect(await idempotent(store, 'u', () => 'other')).toBeNull()
    await idempotent(store, 'n', () => 7)
    expect(await idempotent(store, 'n', () => 8)).toBe(7)
  })

  it('throws IdempotencyConflictError for a running duplicate', async () => {
    const store = makeStore()
    const first = idempotent(store, 'job', async () => {
      await sleep(150)
      return 1
    })
    await sleep(20)
    const error = await idempotent(store, 'job', async () => 2).catch((e: unknown) => e)
    expect(isIdempotencyConflictError(error)).toBe(true)
    expect(await first).toBe(1)
  })

  it('lets a duplicate wait for the result with onConcurrent.waitMs', async () => {
    const store = makeStore()
    const fn = vi.fn(async () => {
      await sleep(100)
      return 'done'
    })
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        idempotent(store, 'job', fn, { onConcurrent: { waitMs: 5_000 } }),
      ),
    )
    expect(results).toEqual(Array(10).fill('done'))
    expect(fn).toHaveBeenCalledTimes(1)
  })

  describe('when its signal aborts', () => {
    const shutdown = () => new Error('worker closing')

    it('throws the reason at once for an aborted signal, without asking the store', async () => {
      const store = new SpyStore(makeStore())
      const reason = shutdown()
      const fn = vi.fn(async () => 1)
      const signal = AbortSignal.abort(reason)
      await expect(idempotent(store, 'job', fn, { signal })).rejects.toBe(reason)
      expect(store.calls).toEqual([])
      expect(fn).not.toHaveBeenCalled()
    })

    it('stops waiting for a running duplicate and throws the reason', async () => {
      const store = makeStore()
      let finish = () => {}
      const first = idempotent(
        store,
        'job',
        () =>
          new Promise<string>((resolve) => {
            finish = () => resolve('done')
          }),
      )
      await sleep(20)
      const controller = new AbortController()
      const reason = shutdown()
      const again = vi.fn(async () => 'again')
      const waiter = idempotent(store, 'job', again, {
        onConcurrent: { waitMs: 60_000 },
        signal: controller.signal,
      }).catch((error: unknown) => error)
      await sleep(50)
      controller.abort(reason)
      // Settled by the abort, not by the first call, which is still running.
      const outcome = await Promise.race([waiter, sleep(3_000).then(() => 'still waiting')])
      expect(outcome).toBe(reason)
      finish()
      expect(await first).toBe('done')
      expect(again).not.toHaveBeenCalled()
    })

    it('stops a pending claim, and releases it when it lands', async () => {
      const store = new SpyStore(makeStore())
      store.delay.claim = 200
      const controller = new AbortController()
      const reason = shutdown()
      const fn = vi.fn(async () => 1)
      const call = idempotent(store, 'job', fn, { signal: controller.signal })
      await sleep(20)
      controller.abort(reason)
      await expect(call).rejects.toBe(reason)
      expect(fn).not.toHaveBeenCalled()
      // The claim landed after the abort and was released: the key runs again.
      await vi.waitUntil(() => store.calls.includes('release'), { timeout: 2_000 })
      store.delay.claim = 0
      expect(await idempotent(store, 'job', async () => 2)).toBe(2)
    })

    it('does not start fn when it aborts as the claim lands, and releases the key', async () => {
      const store = makeStore()
      const controller = new AbortController()
      const reason = shutdown()
      const fn = vi.fn(async () => 1)
      const onEvent = (event: IdempotencyEvent) => {
        if (event.type === 'claimed') controller.abort(reason)
      }
      await expect(
        idempotent(store, 'job', fn, { signal: controller.signal, onEvent }),
      ).rejects.toBe(reason)
      expect(fn).not.toHaveBeenCalled()
      expect(await idempotent(store, 'job', async () => 2)).toBe(2)
    })

    it('lets a running fn finish and stores its result; the signal stops only later calls', async () => {
      const store = makeStore()
      const controller = new AbortController()
      const reason = shutdown()
      const result = await idempotent(
        store,
        'job',
        async () => {
          controller.abort(reason)
          await sleep(20)
          return 'charged'
        },
        { signal: controller.signal },
      )
      expect(result).toBe('charged')
      expect(await idempotent(store, 'job', async () => 'again')).toBe('charged')
      await expect(
        idempotent(store, 'other', async () => 1, { signal: controller.signal }),
      ).rejects.toBe(reason)
    })
  })

  it('releases the key when fn throws, so a retry runs', async () => {
    const store = makeStore()
    await expect(
      idempotent(store, 'job', () => Promise.reject(new Error('flaky'))),
    ).rejects.toThrow('flaky')
    expect(await idempotent(store, 'job', async () => 'second try')).toBe('second try')
  })

  it('throws IdempotencyKeyMismatchError for the same key with another fingerprint', async () => {
    const store = makeStore()
    await idempotent(store, 'job', async () => 1, { fingerprint: 'a' })
    const error = await idempotent(store, 'job', async () => 1, { fingerprint: 'b' }).catch(
      (e: unknown) => e,
    )
    expect(isIdempotencyKeyMismatchError(error)).toBe(true)
  })

  it('keeps a fingerprint out of the store: only its SHA-256 is claimed with', async () => {
    const store = new SpyStore(makeStore())
    const fingerprint = JSON.stringify({ card: '4242424242424242', amount: 100 })
    await idempotent(store, 'job', async () => 1, { fingerprint })
    expect(await idempotent(store, 'job', async () => 2, { fingerprint })).toBe(1)
    expect(store.fingerprints).toHaveLength(2)
    for (const stored of store.fingerprints) expect(stored).toMatch(/^[\w-]{43}$/)
  })

  it.each([undefined, null, '', 42])(
    'refuses the key %j, which would merge unrelated jobs',
    async (key) => {
      const store = makeStore()
      const fn = vi.fn(async () => 1)
      const error = await idempotent(store, key as string, fn).catch((e: unknown) => e)
      expect(isIdempotencyKeyInvalidError(error)).toBe(true)
      expect(fn).not.toHaveBeenCalled()
    },
  )

  it.each([
    { leaseMs: 0 },
    { leaseMs: Number.NaN },
    { ttlMs: 0 },
    { ttlMs: Number.POSITIVE_INFINITY },
    { storeTimeoutMs: -1 },
    { maxLeaseHoldMs: Number.NaN },
    { maxStoredBodyBytes: -1 },
    { onConcurrent: 'wait' },
    { onConcurrent: { waitMs: Number.NaN } },
    { onStoreError: 'open' },
  ])('refuses %j before running fn', async (options) => {
    const fn = vi.fn(async () => 1)
    const error = await idempotent(
      makeStore(),
      'job',
      fn,
      options as IdempotentOptions<number>,
    ).catch((e: unknown) => e)
    expect(isIdempotencyConfigError(error)).toBe(true)
    expect(fn).not.toHaveBeenCalled()
  })

  it('keeps scopes apart', async () => {
    const store = makeStore()
    await idempotent(store, 'job', async () => 'a', { scope: 'tenant-a' })
    expect(await idempotent(store, 'job', async () => 'b', { scope: 'tenant-b' })).toBe('b')
  })

  it('uses a custom codec', async () => {
    const store = makeStore()
    const codec = {
      encode: (d: Date) => Buffer.from(d.toISOString()),
      decode: (b: Uint8Array) => new Date(Buffer.from(b).toString()),
    }
    const date = new Date('2026-11-27T10:00:00Z')
    await idempotent(store, 'job', async () => date, { codec })
    expect(await idempotent(store, 'job', async () => new Date(0), { codec })).toEqual(date)
  })

  it('throws IdempotencyRecordUnreadableError rather than running again when the result was too large', async () => {
    const store = makeStore()
    const fn = vi.fn(async () => 'x'.repeat(100))
    await idempotent(store, 'job', fn, { maxStoredBodyBytes: 10 })
    const error = await idempotent(store, 'job', fn, { maxStoredBodyBytes: 10 }).catch(
      (e: unknown) => e,
    )
    expect(isIdempotencyRecordUnreadableError(error)).toBe(true)
    expect(fn).toHaveBeenCalledTimes(1)
  })

  it('returns a result that cannot be encoded, stores the key as run, and never runs it again', async () => {
    const store = makeStore()
    const fn = vi.fn(async () => ({ amount: 10n }))
    const events: IdempotencyEvent[] = []
    const options = { leaseMs: 300, onEvent: (event: IdempotencyEvent) => events.push(event) }
    expect(await idempotent(store, 'job', fn, options)).toEqual({ amount: 10n })
    const failure = events.find((event) => event.type === 'store-error')?.error
    expect(isIdempotencyRecordUnreadableError(failure)).toBe(true)
    expect((failure as Error).cause).toBeInstanceOf(TypeError)
    // Past the lease: a claim left behind would now be taken over and run fn again.
    await sleep(400)
    const retry = await idempotent(store, 'job', fn, options).catch((e: unknown) => e)
    expect(isIdempotencyRecordUnreadableError(retry)).toBe(true)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(events.map((event) => event.type)).toEqual(['claimed', 'store-error', 'replayed'])
  })

  it('returns a result that cannot be sealed, stores the key as run, and never runs it again', async () => {
    const store = makeStore()
    const fn = vi.fn(async () => 'charged')
    const kmsDown = {
      seal(): never {
        throw new Error('KMS unavailable')
      },
      open: (stored: StoredResponse) => stored,
    }
    const events: string[] = []
    const options = {
      leaseMs: 300,
      encryption: kmsDown,
      onEvent: (event: { type: string }) => events.push(event.type),
    }
    expect(await idempotent(store, 'job', fn, options)).toBe('charged')
    await sleep(400)
    const retry = await idempotent(store, 'job', fn, options).catch((e: unknown) => e)
    expect(isIdempotencyRecordUnreadableError(retry)).toBe(true)
    expect(fn).toHaveBeenCalledTimes(1)
    expect(events).toEqual(['claimed', 'store-error', 'replayed'])
  })
})

describe('idempotent() with a store that wakes waiters without a change', () => {
  it('backs off instead of spinning on claims, and still replays', async () => {
    const inner = new MemoryStore()
    let claims = 0
    const store: IdempotencyStore = {
      name: 'restless',
      claim: (...args) => {
        claims++
        return inner.claim(...args)
      },
      complete: (...args) => inner.complete(...args),
      release: (...args) => inner.release(...args),
      renew: (...args) => inner.renew(...args),
      waitForChange: async () => {},
    }
    const first = idempotent(store, 'job', async () => {
      await sleep(300)
      return 'done'
    })
    await sleep(5)
    const waiter = idempotent(store, 'job', async () => 'again', {
      onConcurrent: { waitMs: 2_000 },
    })
    expect(await waiter).toBe('done')
    expect(await first).toBe('done')
    // 300 ms of backing off from 10 ms to 250 ms: a handful of claims, not millions.
    expect(claims).toBeLessThan(20)
    await inner.close()
  })
})

describe('idempotent() when the store fails', () => {
  it('throws IdempotencyStoreError (fail-closed) without running fn', async () => {
    const store = new SpyStore()
    store.fail.claim = 'hang'
    const fn = vi.fn(async () => 1)
    const error = await idempotent(store, 'job', fn, { storeTimeoutMs: 30 }).catch(
      (e: unknown) => e,
    )
    expect(isIdempotencyStoreError(error)).toBe(true)
    expect(fn).not.toHaveBeenCalled()
  })

  it('runs fn unguarded with fail-open', async () => {
    const store = new SpyStore()
    store.fail.claim = new Error('down')
    const onEvent = vi.fn()
    expect(
      await idempotent(store, 'job', async () => 1, { onStoreError: 'fail-open', onEvent }),
    ).toBe(1)
    expect(onEvent).toHaveBeenCalledWith(expect.objectContaining({ type: 'store-error' }))
  })
})

describe('idempotent() with MemoryStore in a process with nothing else to do', () => {
  it('keeps the process alive while a duplicate waits on a lapsed claim, then lets it exit', async () => {
    const fixture = fileURLToPath(new URL('./fixtures/wait-on-lapsed-claim.ts', import.meta.url))
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--conditions=@steadfast/source', fixture],
      { timeout: 10_000 },
    )
    expect(stdout).toBe('RESULT ran\n')
  })
})
