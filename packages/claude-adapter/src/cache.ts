import type { Anthropic } from '@anthropic-ai/sdk'

/**
 * Where cached answers live: memory by default, any `{ get, set }` (e.g. over Redis) pluggable.
 * The caller may edit what it gets, as it may edit an SDK answer: `get` returns a copy (or a
 * freshly decoded value), and `set` keeps none of `value` by reference.
 */
export interface CacheStore {
  /** The cached answer for `key`, or undefined: an object no other caller holds. */
  get(key: string): Promise<Anthropic.Message | undefined> | Anthropic.Message | undefined
  /** Stores a copy (or an encoding) of `value` under `key` for `ttlMs`. */
  set(key: string, value: Anthropic.Message, ttlMs: number): Promise<void> | void
}

/** Options of the answer cache. */
export interface CacheOptions {
  /** How long an answer stays cached. @default 3_600_000 (one hour) */
  ttlMs?: number | undefined
  /** `'first'`: serve from the cache before calling the API; `'fallback'`: only when every model failed. @default 'fallback' */
  mode?: 'first' | 'fallback' | undefined
  /** The store; when it throws, a read counts as a miss and a write is skipped (`cache-error` event). @default a {@link MemoryCacheStore} of 1000 entries */
  store?: CacheStore | undefined
}

/**
 * A bounded in-process {@link CacheStore} with expiry; the least recently used entry goes first.
 * It keeps and hands out copies, so a caller editing its answer cannot change what others get.
 */
export class MemoryCacheStore implements CacheStore {
  readonly #entries = new Map<string, { value: Anthropic.Message; expiresAt: number }>()
  readonly #maxEntries: number

  constructor(options: { /** Entries kept. @default 1000 */ maxEntries?: number } = {}) {
    this.#maxEntries = options.maxEntries ?? 1000
  }

  /** Entries held, including expired ones not yet evicted. */
  get size(): number {
    return this.#entries.size
  }

  /** A copy of the live entry for `key`, marked most recently used. */
  get(key: string): Anthropic.Message | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(key)
      return undefined
    }
    // Re-insert so Map order tracks recency.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return structuredClone(entry.value)
  }

  /** Stores a copy of `value` for `ttlMs`, evicting the least recently used entries beyond `maxEntries`. */
  set(key: string, value: Anthropic.Message, ttlMs: number): void {
    this.#entries.delete(key)
    this.#entries.set(key, { value: structuredClone(value), expiresAt: Date.now() + ttlMs })
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }
}
