import {
  type IdempotencyStore,
  isIdempotencyStoreError,
  MemoryStore,
} from '@steadfast/idempotency-middleware'
import { describe, expect, it } from 'vitest'
import { classifyError, isDegraded, ResilientClaude } from '../src/index.js'
import { PRIMARY, params, rejection, setup } from './helpers.js'

/** A store whose every call fails, like Redis while it is down. */
const downStore = (): IdempotencyStore => {
  const down = async (): Promise<never> => {
    throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6379'), { code: 'ECONNREFUSED' })
  }
  return { name: 'down', claim: down, complete: down, release: down, renew: down }
}

const until = async (condition: () => boolean) => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 10))
}

describe('idempotencyKey', () => {
  describe('when one of the callers sharing a request aborts', () => {
    it('rejects that caller only; the others get the answer of the one request', async () => {
      const { fake, claude } = await setup({ latencyMs: 300 })
      const controller = new AbortController()
      const leaving = claude.messages.create(params, {
        idempotencyKey: 'shared-abort',
        signal: controller.signal,
      })
      const staying = claude.messages.createWithMeta(params, { idempotencyKey: 'shared-abort' })
      setTimeout(() => controller.abort(new Error('first caller gave up')), 50)
      expect(await rejection(leaving)).toEqual(new Error('first caller gave up'))
      const { message, meta } = await staying
      expect(meta.source).toBe('api')
      expect(message.content[0]).toMatchObject({ text: 'Echo: hello there world' })
      expect(fake.count()).toBe(1)
      expect(fake.requests[0]?.outcome).toBe('ok')
    })

    it('cancels the request once every caller aborted', async () => {
      const { fake, claude } = await setup({ latencyMs: 1_000 })
      const one = new AbortController()
      const two = new AbortController()
      const calls = [one, two].map((c) =>
        rejection(claude.messages.create(params, { idempotencyKey: 'all-gone', signal: c.signal })),
      )
      await until(() => fake.count() === 1)
      one.abort(new Error('one'))
      two.abort(new Error('two'))
      expect(await Promise.all(calls)).toEqual([new Error('one'), new Error('two')])
      await until(() => fake.requests[0]?.outcome === 'client-closed')
      expect(fake.requests[0]?.outcome).toBe('client-closed')
      // A later caller with the key is not handed the cancelled run's abort.
      const { meta } = await claude.messages.createWithMeta(params, { idempotencyKey: 'all-gone' })
      expect(meta.source).toBe('api')
    })
  })

  describe('when callers share a request', () => {
    const extra = { type: 'text', text: 'added by one caller', citations: null } as const

    it('gives each its own message and meta: one caller editing its answer changes no other', async () => {
      const { fake, claude } = await setup({ latencyMs: 100 })
      const [a, b, c] = await Promise.all(
        [1, 2, 3].map(() => claude.messages.createWithMeta(params, { idempotencyKey: 'mine' })),
      )
      if (a === undefined || b === undefined || c === undefined) throw new Error('three answers')
      expect(fake.count()).toBe(1)
      const pristine = structuredClone(b.message)
      a.message.content.push(extra)
      a.meta.models.push('edited')
      Reflect.deleteProperty(c.message, 'usage')
      expect(b.message).toEqual(pristine)
      expect(b.meta.models).toEqual([])
      // The SDK's non-enumerable request id survives the copy.
      const ids = [a, b, c].map((r) => (r.message as { _request_id?: string })._request_id)
      expect(ids).toEqual([ids[0], ids[0], ids[0]])
      expect(ids[0]).toMatch(/^req_/)
      const replay = await claude.messages.create(params, { idempotencyKey: 'mine' })
      expect(replay).toEqual(pristine)
    })

    it('gives each its own copy of a degraded answer, still marked degraded', async () => {
      const { fake, claude } = await setup(
        { latencyMs: 50 },
        { retry: { maxAttempts: 1 }, degrade: () => 'busy, try later' },
      )
      fake.outage(PRIMARY)
      const [a, b] = await Promise.all(
        [1, 2].map(() => claude.messages.create(params, { idempotencyKey: 'degraded' })),
      )
      if (a === undefined || b === undefined) throw new Error('two answers')
      a.content.length = 0
      expect(b.content).toEqual([{ type: 'text', text: 'busy, try later', citations: null }])
      expect([isDegraded(a), isDegraded(b)]).toEqual([true, true])
    })

    it('gives each its own copy of a shared cache hit', async () => {
      const { fake, claude } = await setup(
        { latencyMs: 20 },
        { cache: { ttlMs: 60_000, mode: 'first' } },
      )
      const cached = await claude.messages.create(params)
      const [a, b] = await Promise.all(
        [1, 2].map(() => claude.messages.createWithMeta(params, { idempotencyKey: 'hit' })),
      )
      if (a === undefined || b === undefined) throw new Error('two answers')
      expect([a.meta.source, b.meta.source]).toEqual(['cache', 'cache'])
      a.message.content.push(extra)
      expect(b.message).toEqual(cached)
      expect(await claude.messages.create(params)).toEqual(cached)
      expect(fake.count()).toBe(1)
    })
  })

  describe('when idempotency.scope is set', () => {
    it('keeps the same key apart across scopes sharing a store', async () => {
      const store = new MemoryStore()
      const { fake, client } = await setup()
      const tenantA = new ResilientClaude({ client, idempotency: { store, scope: 'tenant-a' } })
      const tenantB = new ResilientClaude({ client, idempotency: { store, scope: 'tenant-b' } })
      await tenantA.messages.create(params, { idempotencyKey: 'order-1' })
      const b = await tenantB.messages.createWithMeta(params, { idempotencyKey: 'order-1' })
      expect(b.meta.idempotency?.replayed).toBe(false)
      expect(fake.count()).toBe(2)
    })

    it('derives the scope from the params when given a function', async () => {
      const { fake, client } = await setup()
      const claude = new ResilientClaude({
        client,
        idempotency: { scope: (p) => p.metadata?.user_id ?? 'anonymous' },
      })
      const forUser = (user_id: string) => ({ ...params, metadata: { user_id } })
      // Other params under the same key would be a reuse error within one scope.
      await claude.messages.create(forUser('alice'), { idempotencyKey: 'k' })
      await claude.messages.create(forUser('bob'), { idempotencyKey: 'k' })
      const replay = await claude.messages.createWithMeta(forUser('alice'), { idempotencyKey: 'k' })
      expect(replay.meta.idempotency?.replayed).toBe(true)
      expect(fake.count()).toBe(2)
    })
  })

  describe('when the idempotency store is down', () => {
    it('fails closed by default with IdempotencyStoreError (infrastructure), sending nothing', async () => {
      const { fake, claude } = await setup({}, { idempotency: { store: downStore() } })
      const error = await rejection(claude.messages.create(params, { idempotencyKey: 'k' }))
      expect(isIdempotencyStoreError(error)).toBe(true)
      expect(classifyError(error)).toBe('infrastructure')
      expect(fake.count()).toBe(0)
    })

    it('lets degrade answer a fail-closed store outage', async () => {
      const { claude } = await setup(
        {},
        { idempotency: { store: downStore() }, degrade: () => 'busy' },
      )
      const { meta } = await claude.messages.createWithMeta(params, { idempotencyKey: 'k' })
      expect(meta).toMatchObject({ source: 'degraded', attempts: 0 })
    })

    it('calls the API unguarded with onStoreError: fail-open', async () => {
      const { fake, claude } = await setup(
        {},
        { idempotency: { store: downStore(), onStoreError: 'fail-open' } },
      )
      const { meta } = await claude.messages.createWithMeta(params, { idempotencyKey: 'k' })
      expect(meta).toMatchObject({ source: 'api', attempts: 1 })
      expect(fake.count()).toBe(1)
    })
  })
})
