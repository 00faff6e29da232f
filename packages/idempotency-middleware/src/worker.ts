import { IdempotencyEngine, type IdempotencyEvent } from './core.js'
import type { ResponseEncryption } from './encryption.js'
import { IdempotencyKeyInvalidError, IdempotencyRecordUnreadableError } from './errors.js'
import { storageKey } from './key.js'
import { sha256 } from './sha256.js'
import type { IdempotencyStore } from './store.js'

/** Options of {@link idempotent}. */
export interface IdempotentOptions<T> {
  /** How long the result is remembered. @default 86_400_000 (24 h) */
  ttlMs?: number
  /** Identifies the work; the same key with another fingerprint throws {@link IdempotencyKeyMismatchError}. Stored as its SHA-256 only. @default '' (not checked) */
  fingerprint?: string
  /** Namespace of the key (tenant, queue name). @default '' */
  scope?: string
  /** Lease of the claim, renewed after `leaseMs / 3` (by `leaseMs / 2`) while `fn` runs. @default 60_000 */
  leaseMs?: number
  /** Renewal stops after this long. @default 600_000 */
  maxLeaseHoldMs?: number
  /** Throw {@link IdempotencyConflictError} at once, or wait up to `waitMs` for the running duplicate. @default 'reject' */
  onConcurrent?: 'reject' | { waitMs: number }
  /** Every store call fails after this long. @default 2_000 */
  storeTimeoutMs?: number
  /** On a store failure: throw {@link IdempotencyStoreError}, or run `fn` unguarded. @default 'fail-closed' */
  onStoreError?: 'fail-closed' | 'fail-open'
  /** Encrypts stored results at rest. @default undefined */
  encryption?: ResponseEncryption
  /** Larger results are not stored; a later call then throws {@link IdempotencyRecordUnreadableError}. @default 1_048_576 */
  maxStoredBodyBytes?: number
  /** Turns the result into bytes and back. @default JSON */
  codec?: { encode(value: T): Uint8Array; decode(bytes: Uint8Array): T }
  /** Called for every decision. @default undefined */
  onEvent?: (event: IdempotencyEvent) => void
  /**
   * Stops the call before `fn` starts: already aborted, nothing is asked of the store; aborted
   * while claiming or waiting for a running duplicate, the wait ends (a claim that lands is
   * released). Either way it rejects with `signal.reason`. Once `fn` runs the signal is not
   * looked at (see README). @default undefined
   */
  signal?: AbortSignal | undefined
}

const jsonCodec = {
  encode: (value: unknown): Uint8Array => Buffer.from(JSON.stringify(value) ?? 'null'),
  decode: (bytes: Uint8Array): unknown => JSON.parse(Buffer.from(bytes).toString()),
}

/**
 * Runs `fn` once per `key` across every process sharing `store`: a completed key returns the
 * stored result (JSON by default, so a Date comes back as a string), a running duplicate waits or
 * throws {@link IdempotencyConflictError}, and a throwing `fn` releases the key for a retry.
 * `signal` stops a call that has not started `fn` yet; `fn` itself is never abandoned.
 * @example
 * await idempotent(store, job.id, () => chargeCard(job.data), { ttlMs: 86_400_000, signal })
 */
export async function idempotent<T>(
  store: IdempotencyStore,
  key: string,
  fn: () => Promise<T> | T,
  options: IdempotentOptions<T> = {},
): Promise<T> {
  // `job.id` is `string | undefined` in BullMQ: `${undefined}` would make unrelated jobs one key.
  if (typeof key !== 'string' || key.length === 0) {
    throw new IdempotencyKeyInvalidError(`idempotent() needs a non-empty string key (got ${key})`)
  }
  const scope = options.scope ?? ''
  if (typeof scope !== 'string') {
    throw new IdempotencyKeyInvalidError(`idempotent() needs a string scope (got ${scope})`)
  }
  const signal = options.signal
  signal?.throwIfAborted()
  const engine = new IdempotencyEngine({
    store,
    ttlMs: options.ttlMs ?? 86_400_000,
    leaseMs: options.leaseMs ?? 60_000,
    maxLeaseHoldMs: options.maxLeaseHoldMs ?? 600_000,
    onConcurrent: options.onConcurrent ?? 'reject',
    storeTimeoutMs: options.storeTimeoutMs ?? 2_000,
    onStoreError: options.onStoreError ?? 'fail-closed',
    maxStoredBodyBytes: options.maxStoredBodyBytes ?? 1_048_576,
    storeResponse: () => true,
    ...(options.encryption ? { encryption: options.encryption } : {}),
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
  })
  const codec = (options.codec ?? jsonCodec) as {
    encode(value: T): Uint8Array
    decode(bytes: Uint8Array): T
  }
  // Hashed as the HTTP path's is: the natural fingerprint is the job's data, which must not sit
  // in the store in clear (nor grow every record by its size), encryption or not.
  const fingerprint = options.fingerprint ? sha256(options.fingerprint) : ''
  const decision = await engine.begin(storageKey(scope, key), fingerprint, signal)
  // The last moment to stop: fn has not started. After this, fn is awaited however long it
  // runs, as work abandoned half done (a card charged, the result never stored) could neither
  // release the key (a retry would redo it) nor keep it (the caller would not know its result).
  if (signal?.aborted) {
    if (decision.kind === 'run') await decision.claim.release()
    throw signal.reason
  }
  switch (decision.kind) {
    case 'error':
      throw decision.error
    case 'bypass':
      return fn()
    case 'replay': {
      if (decision.response.headers['idempotent-body-omitted'] !== undefined) {
        throw new IdempotencyRecordUnreadableError(
          'This key ran once, but its result was not stored (too large, not encodable, or not sealable)',
        )
      }
      try {
        return codec.decode(decision.response.body)
      } catch (error) {
        throw new IdempotencyRecordUnreadableError('The stored result cannot be decoded', {
          cause: error,
        })
      }
    }
    case 'run': {
      let value: T
      try {
        value = await fn()
      } catch (error) {
        await decision.claim.release()
        throw error
      }
      let body: Uint8Array
      try {
        body = codec.encode(value)
      } catch (error) {
        // fn ran and succeeded: its caller gets the value (a queue would otherwise fail the job
        // and retry work that was done). The key is stored as run, without its result.
        engine.emit('store-error', decision.claim.keyHash, {
          error: new IdempotencyRecordUnreadableError(
            'fn ran, but its result cannot be encoded: the key is stored without it',
            { cause: error },
          ),
        })
        await decision.claim.finish(200, {}, new Uint8Array(0), true)
        return value
      }
      const omitted = body.byteLength > engine.maxStoredBodyBytes
      await decision.claim.finish(200, {}, omitted ? new Uint8Array(0) : body, omitted)
      return value
    }
  }
}
