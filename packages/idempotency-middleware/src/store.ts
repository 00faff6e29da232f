/** A response as persisted by a store and replayed to later requests with the same key. */
export interface StoredResponse {
  /** The HTTP status sent. */
  status: number
  /** The replayable headers (lower-case names), as picked by the allowlist. */
  headers: Record<string, string | string[]>
  /** The body bytes as sent (empty when `bodyOmitted`). */
  body: Uint8Array
  /**
   * True when the body exceeded `maxStoredBodyBytes` and was not kept: a replay then sends the
   * status and headers without a body. Stores must persist this flag.
   */
  bodyOmitted?: boolean
}

/** What {@link IdempotencyStore.claim} found for a key. */
export type ClaimResult =
  /** Ours now; `token` fences every later write. */
  | { state: 'claimed'; token: string }
  /** Another owner holds a live lease; `retryAfterMs` is what is left of it. */
  | { state: 'in-progress'; fingerprint: string; retryAfterMs: number }
  /** The response is stored. */
  | { state: 'completed'; fingerprint: string; response: StoredResponse }

/**
 * The four store operations answered synchronously, for a store that lives in the process: the
 * guard then decides, stores and replays without promises or store timeouts (it cannot hang).
 */
export interface SyncIdempotencyStore {
  /** As {@link IdempotencyStore.claim}. */
  claim(key: string, fingerprint: string, leaseMs: number): ClaimResult
  /** As {@link IdempotencyStore.complete}. */
  complete(key: string, token: string, response: StoredResponse, ttlMs: number): boolean
  /** As {@link IdempotencyStore.release}. */
  release(key: string, token: string): void
  /** As {@link IdempotencyStore.renew}. */
  renew(key: string, token: string, leaseMs: number): boolean
}

/** Persistence for idempotency records. Each method is atomic and, on Redis, one round trip. */
export interface IdempotencyStore {
  /** A short name for logs and warnings, such as `'memory'` or `'redis'`. */
  readonly name: string
  /** Claims `key` for `leaseMs`, takes over an expired lease, or reports what is stored. */
  claim(key: string, fingerprint: string, leaseMs: number): Promise<ClaimResult>
  /** Stores the response for `ttlMs` if `token` still owns the key; false if the lease was lost. */
  complete(key: string, token: string, response: StoredResponse, ttlMs: number): Promise<boolean>
  /** Drops our claim (handler failed, or a 5xx) so the client may retry. */
  release(key: string, token: string): Promise<void>
  /** Extends our lease while the handler still runs; false if it was lost. */
  renew(key: string, token: string, leaseMs: number): Promise<boolean>
  /**
   * Optional: resolves when the record for `key` changes (completed or released), after
   * `timeoutMs`, or when `signal` aborts, whichever comes first. Waking early is allowed: the
   * caller reads the record again either way. Without it, waiting duplicates poll `claim()`.
   */
  waitForChange?(key: string, timeoutMs: number, signal?: AbortSignal): Promise<void>
  /** Optional: the same operations without promises, for in-process stores such as `MemoryStore`. */
  readonly sync?: SyncIdempotencyStore
  /** Optional: stops timers, wakes waiters and frees resources. Never closes an injected client. */
  close?(): Promise<void>
}
