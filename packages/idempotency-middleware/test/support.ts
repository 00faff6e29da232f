import { request as httpRequest, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import request from 'supertest'
import { vi } from 'vitest'
import type { IdempotencyEvent, IdempotencyStore, StoredResponse } from '../src/index.js'
import { MemoryStore } from '../src/index.js'

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** Counts the commands each client sends (the round trips), by wrapping `sendCommand`. */
export function counted<T extends { sendCommand: (...args: never[]) => unknown }>(client: T) {
  const names: string[] = []
  const send = client.sendCommand.bind(client) as (...args: unknown[]) => unknown
  ;(client as unknown as { sendCommand: (...args: unknown[]) => unknown }).sendCommand = (
    ...args
  ) => {
    names.push(String((args[0] as { name: string }).name))
    return send(...args)
  }
  return names
}

/** A store wrapper that records calls and can delay or fail each operation. */
export class SpyStore implements IdempotencyStore {
  readonly name = 'spy'
  readonly inner: IdempotencyStore
  readonly keys: string[] = []
  readonly calls: string[] = []
  /** The fingerprints claims were made with, as the store sees them. */
  readonly fingerprints: string[] = []
  completed: StoredResponse[] = []
  delay: Partial<Record<'claim' | 'complete' | 'release' | 'renew', number>> = {}
  fail: Partial<Record<'claim' | 'complete' | 'release' | 'renew', Error | 'hang'>> = {}
  /** Thrown by the call itself instead of a rejected promise (a store breaking the contract). */
  throwNow: Partial<Record<'claim' | 'complete' | 'release' | 'renew', Error>> = {}

  constructor(inner: IdempotencyStore = new MemoryStore()) {
    this.inner = inner
  }

  async #step<T>(
    op: 'claim' | 'complete' | 'release' | 'renew',
    key: string,
    run: () => Promise<T>,
  ): Promise<T> {
    this.calls.push(op)
    this.keys.push(key)
    const delay = this.delay[op]
    if (delay) await sleep(delay)
    const failure = this.fail[op]
    if (failure === 'hang') return new Promise<T>(() => {})
    if (failure) throw failure
    return run()
  }

  claim(key: string, fingerprint: string, leaseMs: number) {
    if (this.throwNow.claim) throw this.throwNow.claim
    this.fingerprints.push(fingerprint)
    return this.#step('claim', key, () => this.inner.claim(key, fingerprint, leaseMs))
  }
  complete(key: string, token: string, response: StoredResponse, ttlMs: number) {
    this.completed.push(response)
    return this.#step('complete', key, () => this.inner.complete(key, token, response, ttlMs))
  }
  release(key: string, token: string) {
    return this.#step('release', key, () => this.inner.release(key, token))
  }
  renew(key: string, token: string, leaseMs: number) {
    return this.#step('renew', key, () => this.inner.renew(key, token, leaseMs))
  }
  async close() {
    await this.inner.close?.()
  }
}

/** Collects events for assertions. */
export function eventLog(): {
  events: IdempotencyEvent[]
  types: () => string[]
  count: (type: IdempotencyEvent['type']) => number
  onEvent: (e: IdempotencyEvent) => void
} {
  const events: IdempotencyEvent[] = []
  return {
    events,
    types: () => events.map((e) => e.type),
    count: (type) => events.filter((e) => e.type === type).length,
    onEvent: (e) => events.push(e),
  }
}

/**
 * Sends a JSON POST with `Idempotency-Key: k` to a route that tears its response down: resolves
 * to the status, or 'torn' when the response never completed (a Koa 2 one stays open: 500 ms).
 */
export function postTorn(server: Server, path: string): Promise<number | 'torn'> {
  return request(server)
    .post(path)
    .set('Idempotency-Key', 'k')
    .send({})
    .timeout(500)
    .then((res) => res.status)
    .catch(() => 'torn' as const)
}

/** Sends a JSON POST with `Idempotency-Key: k` and hangs up once `started()` (the handler runs). */
export async function abandonPost(port: number, path: string, started: () => boolean) {
  const req = httpRequest({
    port,
    method: 'POST',
    path,
    headers: { 'Idempotency-Key': 'k', 'Content-Type': 'application/json' },
  })
  req.on('error', () => {})
  req.end('{}')
  await vi.waitUntil(started)
  req.destroy()
}

/**
 * Sends a duplicate POST to `path` (`Idempotency-Key: k`) and hangs up once it waits for the
 * key held by a first request, that is once `store` saw its second claim.
 */
export async function abandonWhileWaiting(server: Server, store: SpyStore, path: string) {
  const { port } = server.address() as AddressInfo
  await abandonPost(port, path, () => store.calls.filter((call) => call === 'claim').length >= 2)
}
