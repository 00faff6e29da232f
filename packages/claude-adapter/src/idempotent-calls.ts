import {
  type IdempotencyStore,
  idempotent,
  isIdempotencyKeyMismatchError,
  MemoryStore,
} from '@steadfast/idempotency-middleware'
import { paramsHash } from './canonical.js'
import { IdempotencyKeyReuseError } from './errors.js'
import type { CallOptions, CreateParams, MessageWithMeta } from './options.js'

const KEY_ATTEMPTS_KEPT = 10_000

/**
 * Calls with an `idempotencyKey`: concurrent duplicates in this process share one promise, and the
 * idempotency engine's store (shared across processes if it is) replays completed results.
 */
export class IdempotentCalls {
  readonly #inflight = new Map<string, { fingerprint: string; promise: Promise<MessageWithMeta> }>()
  readonly #attempts = new Map<string, number>()
  readonly #configuredStore: IdempotencyStore | undefined
  readonly #ttlMs: number
  #store: IdempotencyStore | undefined

  constructor(options: { store?: IdempotencyStore; ttlMs?: number } = {}) {
    this.#configuredStore = options.store
    this.#ttlMs = options.ttlMs ?? 86_400_000
  }

  /** Upstream requests recorded under `key` in this process. */
  attempts(key: string): number {
    return this.#attempts.get(key) ?? 0
  }

  /** Records `count` more upstream requests under `key` (bounded: the oldest keys are forgotten). */
  record(key: string, count: number): void {
    const total = this.attempts(key) + count
    this.#attempts.delete(key)
    this.#attempts.set(key, total)
    if (this.#attempts.size > KEY_ATTEMPTS_KEPT) {
      const oldest = this.#attempts.keys().next().value
      if (oldest !== undefined) this.#attempts.delete(oldest)
    }
  }

  /**
   * Runs `call` once for `key` and `params`. When `call` fails, `onFailure` gets the error and
   * the requests made, and may answer outside the record (a degraded answer is never stored).
   */
  run(
    key: string,
    params: CreateParams,
    options: CallOptions,
    call: () => Promise<MessageWithMeta>,
    onFailure: (error: unknown, attempts: number) => Promise<MessageWithMeta>,
  ): Promise<MessageWithMeta> {
    const fingerprint = paramsHash(params)
    const running = this.#inflight.get(key)
    if (running !== undefined) {
      if (running.fingerprint !== fingerprint) {
        return Promise.reject(new IdempotencyKeyReuseError(key))
      }
      return running.promise
    }
    const promise = this.#run(key, fingerprint, options, call, onFailure).finally(() =>
      this.#inflight.delete(key),
    )
    this.#inflight.set(key, { fingerprint, promise })
    return promise
  }

  async #run(
    key: string,
    fingerprint: string,
    options: CallOptions,
    call: () => Promise<MessageWithMeta>,
    onFailure: (error: unknown, attempts: number) => Promise<MessageWithMeta>,
  ): Promise<MessageWithMeta> {
    const startedAt = Date.now()
    const before = this.attempts(key)
    this.#store ??= this.#configuredStore ?? new MemoryStore()
    let ran = false
    let result: MessageWithMeta
    try {
      result = await idempotent(
        this.#store,
        key,
        () => {
          ran = true
          return call()
        },
        {
          fingerprint,
          scope: 'claude',
          ttlMs: this.#ttlMs,
          // A duplicate in another process waits for the running call rather than failing.
          onConcurrent: { waitMs: options.timeoutMs ?? 600_000 },
        },
      )
    } catch (error) {
      if (isIdempotencyKeyMismatchError(error)) throw new IdempotencyKeyReuseError(key)
      if (!ran) throw error
      return onFailure(error, this.attempts(key) - before)
    }
    if (ran) return result
    return {
      message: result.message,
      meta: {
        ...result.meta,
        attempts: 0,
        latencyMs: Date.now() - startedAt,
        idempotency: { key, replayed: true, keyAttempts: this.attempts(key) },
      },
    }
  }
}
