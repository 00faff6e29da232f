import { randomUUID } from 'node:crypto'
import type * as Vitest from 'vitest'
import type { IdempotencyStore, StoredResponse } from './store.js'

/** Options of {@link describeStore}. */
export interface DescribeStoreOptions {
  /** Lease used by the expiry tests; raise it for slow remote stores. @default 150 */
  leaseMs?: number
}

// vitest throws when imported outside its runner; loading it like this lets the module load
// anywhere (tools listing exports) and fail only when describeStore() is called. tshy type-checks
// this file in its CommonJS pass too (then ships testing-cjs.cts), where top-level await is an error.
// biome-ignore lint/suspicious/noTsIgnore: the error exists in tshy's CommonJS pass only, so @ts-expect-error would fail the ESM pass
// @ts-ignore TS1309 in the CommonJS pass only
const vitest: typeof Vitest | undefined = await import('vitest').catch(() => undefined)

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

const response = (body: string | Uint8Array = '{"ok":true}'): StoredResponse => ({
  status: 201,
  headers: { 'content-type': 'application/json', link: ['<a>; rel="a"', '<b>; rel="b"'] },
  body: typeof body === 'string' ? Buffer.from(body) : body,
})

/**
 * The conformance suite every {@link IdempotencyStore} must pass (vitest). Run it against a real
 * backend: `describeStore('redis', () => new RedisStore({ client: new Redis(url) }))`.
 */
export function describeStore(
  name: string,
  makeStore: () => IdempotencyStore | Promise<IdempotencyStore>,
  options: DescribeStoreOptions = {},
): void {
  if (!vitest) throw new Error('describeStore() must run inside a vitest test file')
  const { afterAll, beforeAll, describe, expect, it } = vitest
  const leaseMs = options.leaseMs ?? 150
  describe(`IdempotencyStore conformance: ${name}`, () => {
    let store: IdempotencyStore
    const key = () => `conformance:${randomUUID()}`

    beforeAll(async () => {
      store = await makeStore()
    })
    afterAll(async () => {
      await store.close?.()
    })

    it('has a name', () => {
      expect(typeof store.name).toBe('string')
      expect(store.name.length).toBeGreaterThan(0)
    })

    describe('when the key is new', () => {
      it('claims it and returns a token', async () => {
        const result = await store.claim(key(), 'fp', 10_000)
        expect(result.state).toBe('claimed')
        if (result.state === 'claimed') expect(result.token.length).toBeGreaterThan(0)
      })

      it('grants exactly one of many concurrent claims', async () => {
        const k = key()
        const results = await Promise.all(
          Array.from({ length: 50 }, () => store.claim(k, 'fp', 10_000)),
        )
        expect(results.filter((r) => r.state === 'claimed')).toHaveLength(1)
        expect(results.filter((r) => r.state === 'in-progress')).toHaveLength(49)
      })
    })

    describe('when the key is in flight', () => {
      it('reports in-progress with the fingerprint and the rest of the lease', async () => {
        const k = key()
        await store.claim(k, 'fp-1', 10_000)
        const result = await store.claim(k, 'fp-2', 10_000)
        expect(result).toMatchObject({ state: 'in-progress', fingerprint: 'fp-1' })
        if (result.state === 'in-progress') {
          expect(result.retryAfterMs).toBeGreaterThan(0)
          expect(result.retryAfterMs).toBeLessThanOrEqual(10_000)
        }
      })

      it('renews for the owner only', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', leaseMs)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(await store.renew(k, 'someone-else', 10_000)).toBe(false)
        expect(await store.renew(k, claim.token, 10_000)).toBe(true)
        await sleep(leaseMs * 2)
        expect((await store.claim(k, 'fp', leaseMs)).state).toBe('in-progress')
      })

      it('releases for the owner only, after which the key runs again', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        await store.release(k, 'someone-else')
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('in-progress')
        await store.release(k, claim.token)
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('claimed')
      })
    })

    describe('when the lease expires', () => {
      it('lets a new claim take over and fences the old owner out', async () => {
        const k = key()
        const old = await store.claim(k, 'fp', leaseMs)
        if (old.state !== 'claimed') throw new Error('not claimed')
        await sleep(leaseMs * 2)
        const next = await store.claim(k, 'fp', 10_000)
        if (next.state !== 'claimed') throw new Error('no takeover')
        expect(next.token).not.toBe(old.token)
        expect(await store.complete(k, old.token, response('late'), 10_000)).toBe(false)
        expect(await store.renew(k, old.token, 10_000)).toBe(false)
        await store.release(k, old.token)
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('in-progress')
        expect(await store.complete(k, next.token, response('new'), 10_000)).toBe(true)
        const done = await store.claim(k, 'fp', 10_000)
        if (done.state !== 'completed') throw new Error('not completed')
        expect(Buffer.from(done.response.body).toString()).toBe('new')
      })

      it('refuses a complete after the lease ran out even without a takeover', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', leaseMs)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        await sleep(leaseMs * 2)
        expect(await store.complete(k, claim.token, response(), 10_000)).toBe(false)
      })
    })

    describe('when the response is stored', () => {
      it('returns status, headers and the exact bytes', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const bytes = Uint8Array.from({ length: 256 }, (_, i) => i)
        expect(await store.complete(k, claim.token, response(bytes), 10_000)).toBe(true)
        const result = await store.claim(k, 'other', 10_000)
        if (result.state !== 'completed') throw new Error('not completed')
        expect(result.fingerprint).toBe('fp')
        expect(result.response.status).toBe(201)
        expect(result.response.headers).toEqual(response().headers)
        expect(Buffer.from(result.response.body).equals(Buffer.from(bytes))).toBe(true)
        expect(result.response.bodyOmitted ?? false).toBe(false)
      })

      it('keeps any fingerprint and header text: newlines, non-ASCII, digits at the start', async () => {
        // A store that frames its records must not let these shift a field boundary.
        const fingerprint = '12\n\u00e9\u2713 fp\n'
        const headers = { 'content-type': 'text/plain', link: '</caf\u00e9>; rel="\u2713"' }
        const k = key()
        const claim = await store.claim(k, fingerprint, 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(await store.claim(k, 'other', 10_000)).toMatchObject({ fingerprint })
        const stored = { status: 200, headers, body: Buffer.from('7\n\u00e9') }
        expect(await store.complete(k, claim.token, stored, 10_000)).toBe(true)
        const result = await store.claim(k, 'other', 10_000)
        if (result.state !== 'completed') throw new Error('not completed')
        expect(result.fingerprint).toBe(fingerprint)
        expect(result.response.status).toBe(200)
        expect(result.response.headers).toEqual(headers)
        expect(Buffer.from(result.response.body).toString()).toBe('7\n\u00e9')
      })

      it('returns the exact bytes of UTF-8 bodies: multi-byte, with a BOM, from a view, large', async () => {
        const text = '\uFEFF{"name":"h\u00e9llo \u2713 \u{1F600}"}'
        const padded = Buffer.from(`--${text}--`)
        const bodies = [
          Buffer.from(text),
          // A view into a larger buffer, as a plain Uint8Array.
          new Uint8Array(padded.buffer, padded.byteOffset + 2, padded.byteLength - 4),
          Buffer.from(`[${'"\u00e9t\u00e9",'.repeat(5_000)}0]`),
        ]
        for (const body of bodies) {
          const k = key()
          const claim = await store.claim(k, 'fp', 10_000)
          if (claim.state !== 'claimed') throw new Error('not claimed')
          expect(await store.complete(k, claim.token, response(body), 10_000)).toBe(true)
          const result = await store.claim(k, 'fp', 10_000)
          if (result.state !== 'completed') throw new Error('not completed')
          expect(Buffer.from(result.response.body).equals(Buffer.from(body))).toBe(true)
        }
      })

      it('keeps the bodyOmitted flag and an empty body', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const omitted = { ...response(new Uint8Array(0)), bodyOmitted: true }
        expect(await store.complete(k, claim.token, omitted, 10_000)).toBe(true)
        const result = await store.claim(k, 'fp', 10_000)
        if (result.state !== 'completed') throw new Error('not completed')
        expect(result.response.bodyOmitted).toBe(true)
        expect(result.response.body.byteLength).toBe(0)
      })

      it('accepts one complete per claim', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(await store.complete(k, claim.token, response('a'), 10_000)).toBe(true)
        expect(await store.complete(k, claim.token, response('b'), 10_000)).toBe(false)
        await store.release(k, claim.token)
        const result = await store.claim(k, 'fp', 10_000)
        if (result.state !== 'completed') throw new Error('not completed')
        expect(Buffer.from(result.response.body).toString()).toBe('a')
      })

      it('forgets it after ttlMs', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        await store.complete(k, claim.token, response(), leaseMs)
        await sleep(leaseMs * 2)
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('claimed')
      })

      it('keeps it for ttlMs, not for the lease it was claimed with', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', leaseMs)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(await store.complete(k, claim.token, response(), 10_000)).toBe(true)
        await sleep(leaseMs * 2)
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('completed')
      })

      it('refuses to renew it, and keeps its ttlMs', async () => {
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        await store.complete(k, claim.token, response(), 10_000)
        expect(await store.renew(k, claim.token, leaseMs)).toBe(false)
        await sleep(leaseMs * 2)
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('completed')
      })
    })

    // The guards call these first when a store has them, so they must keep the same contract.
    describe('when it answers synchronously (store.sync)', () => {
      it('claims, fences, completes and replays like the async methods', (context) => {
        const sync = store.sync
        if (sync === undefined) return context.skip()
        const k = key()
        const claim = sync.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect(sync.claim(k, 'fp', 10_000).state).toBe('in-progress')
        expect(sync.renew(k, 'not-the-token', 10_000)).toBe(false)
        expect(sync.renew(k, claim.token, 10_000)).toBe(true)
        expect(sync.complete(k, 'not-the-token', response('x'), 10_000)).toBe(false)
        sync.release(k, 'not-the-token')
        expect(sync.complete(k, claim.token, response('stored'), 10_000)).toBe(true)
        expect(sync.complete(k, claim.token, response('again'), 10_000)).toBe(false)
        sync.release(k, claim.token)
        const done = sync.claim(k, 'fp', 10_000)
        if (done.state !== 'completed') throw new Error('not completed')
        expect(Buffer.from(done.response.body).toString()).toBe('stored')
      })

      it('shares its records with the async methods', async (context) => {
        const sync = store.sync
        if (sync === undefined) return context.skip()
        const k = key()
        const claim = sync.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        expect((await store.claim(k, 'fp', 10_000)).state).toBe('in-progress')
        expect(await store.complete(k, claim.token, response('shared'), 10_000)).toBe(true)
        expect(sync.claim(k, 'fp', 10_000).state).toBe('completed')
      })
    })

    describe('when a caller waits for a change (store.waitForChange)', () => {
      it('resolves once the key completes, not before', async (context) => {
        if (store.waitForChange === undefined) return context.skip()
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const started = Date.now()
        const waiting = store.waitForChange(k, 10_000).then(() => Date.now() - started)
        await sleep(leaseMs)
        await store.complete(k, claim.token, response(), 10_000)
        const waited = await waiting
        expect(waited).toBeGreaterThanOrEqual(leaseMs - 5)
        expect(waited).toBeLessThan(5_000)
      })

      it('resolves once the key is released, or after timeoutMs without a change', async (context) => {
        if (store.waitForChange === undefined) return context.skip()
        const k = key()
        const claim = await store.claim(k, 'fp', 10_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        let started = Date.now()
        await store.waitForChange(k, leaseMs)
        expect(Date.now() - started).toBeGreaterThanOrEqual(leaseMs - 5)
        started = Date.now()
        const waiting = store.waitForChange(k, 10_000)
        await store.release(k, claim.token)
        await waiting
        expect(Date.now() - started).toBeLessThan(5_000)
      })

      it('resolves once its signal aborts, and at once for an aborted one', async (context) => {
        if (store.waitForChange === undefined) return context.skip()
        const k = key()
        const claim = await store.claim(k, 'fp', 60_000)
        if (claim.state !== 'claimed') throw new Error('not claimed')
        const controller = new AbortController()
        const started = Date.now()
        const waiting = store.waitForChange(k, 60_000, controller.signal)
        await sleep(20)
        controller.abort()
        await waiting
        await store.waitForChange(k, 60_000, controller.signal)
        expect(Date.now() - started).toBeLessThan(4_000)
        await store.release(k, claim.token)
      })
    })
  })
}
