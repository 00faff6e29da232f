import {
  type IdempotencyStore,
  idempotent,
  isIdempotencyKeyMismatchError,
  MemoryStore,
} from '@steadfast/idempotency-middleware'
import { paramsHash } from './canonical.js'
import { copyMessage } from './copy-message.js'
import { ClaudeTimeoutError, IdempotencyKeyReuseError } from './errors.js'
import type {
  CallOptions,
  ClaudeIdempotencyOptions,
  CreateParams,
  MessageWithMeta,
} from './options.js'

const KEY_ATTEMPTS_KEPT = 10_000

/** A caller's `idempotencyKey` and the record id it maps to (the key within its scope). */
export interface KeyRef {
  readonly key: string
  readonly scope: string
  readonly id: string
}

/** One upstream run shared by concurrent callers with the same key and params. */
interface Shared {
  readonly fingerprint: string
  readonly promise: Promise<MessageWithMeta>
  readonly controller: AbortController
  readonly deadline: number | undefined
  waiting: number
  /** True once a caller took the result as its own; every later taker gets {@link replayOf} it. */
  claimed: boolean
}

/**
 * Calls with an `idempotencyKey`: concurrent duplicates in this process share one run, and the
 * idempotency engine's store (shared across processes if it is) replays completed results.
 */
export class IdempotentCalls {
  readonly #inflight = new Map<string, Shared>()
  readonly #attempts = new Map<string, number>()
  readonly #options: ClaudeIdempotencyOptions
  #store: IdempotencyStore | undefined

  constructor(options: ClaudeIdempotencyOptions = {}) {
    this.#options = options
  }

  /** The record of `key` for `params`, within the configured scope. */
  ref(key: string, params: CreateParams): KeyRef {
    const option = this.#options.scope ?? 'claude'
    const scope = typeof option === 'function' ? option(params) : option
    return { key, scope, id: `${scope}\u0000${key}` }
  }

  /** Upstream requests recorded under `ref` in this process. */
  attempts(ref: KeyRef): number {
    return this.#attempts.get(ref.id) ?? 0
  }

  /** Records `count` more upstream requests under `ref` (bounded: the oldest keys are forgotten). */
  record(ref: KeyRef, count: number): void {
    const total = this.attempts(ref) + count
    this.#attempts.delete(ref.id)
    this.#attempts.set(ref.id, total)
    if (this.#attempts.size > KEY_ATTEMPTS_KEPT) {
      const oldest = this.#attempts.keys().next().value
      if (oldest !== undefined) this.#attempts.delete(oldest)
    }
  }

  /**
   * Runs `call` once for `ref` and `params`; concurrent callers join the running call. The run
   * gets its own signal, aborted only once every caller sharing it gave up, and the first
   * caller's `timeoutMs`; each caller's own `signal` (and an earlier deadline) ends only its
   * wait. When `call` fails, `onFailure` gets the error and the requests made, and may answer
   * outside the record (a degraded answer is never stored).
   */
  run(
    ref: KeyRef,
    params: CreateParams,
    options: CallOptions,
    call: (shared: CallOptions) => Promise<MessageWithMeta>,
    onFailure: (error: unknown, attempts: number, shared: CallOptions) => Promise<MessageWithMeta>,
  ): Promise<MessageWithMeta> {
    const fingerprint = paramsHash(params)
    let shared = this.#inflight.get(ref.id)
    // A run every caller left is being cancelled: a new caller starts afresh instead of joining it.
    if (shared === undefined || shared.controller.signal.aborted) {
      const controller = new AbortController()
      const sharedOptions: CallOptions = { signal: controller.signal, timeoutMs: options.timeoutMs }
      const promise = this.#run(ref, fingerprint, sharedOptions, call, onFailure)
      const entry: Shared = {
        fingerprint,
        promise,
        controller,
        deadline: options.timeoutMs === undefined ? undefined : Date.now() + options.timeoutMs,
        waiting: 0,
        claimed: false,
      }
      // Once every caller gave up nobody awaits the run: its rejection is expected, not unhandled.
      promise
        .finally(() => {
          if (this.#inflight.get(ref.id) === entry) this.#inflight.delete(ref.id)
        })
        .catch(() => {})
      shared = entry
      this.#inflight.set(ref.id, shared)
    } else if (shared.fingerprint !== fingerprint) {
      return Promise.reject(new IdempotencyKeyReuseError(ref.key))
    }
    return join(shared, options)
  }

  async #run(
    ref: KeyRef,
    fingerprint: string,
    options: CallOptions,
    call: (shared: CallOptions) => Promise<MessageWithMeta>,
    onFailure: (error: unknown, attempts: number, shared: CallOptions) => Promise<MessageWithMeta>,
  ): Promise<MessageWithMeta> {
    const startedAt = Date.now()
    const before = this.attempts(ref)
    this.#store ??= this.#options.store ?? new MemoryStore()
    let ran = false
    let result: MessageWithMeta
    try {
      result = await idempotent(
        this.#store,
        ref.key,
        () => {
          ran = true
          return call(options)
        },
        {
          fingerprint,
          scope: ref.scope,
          ttlMs: this.#options.ttlMs ?? 86_400_000,
          onStoreError: this.#options.onStoreError ?? 'fail-closed',
          // A duplicate in another process waits for the running call rather than failing.
          onConcurrent: { waitMs: options.timeoutMs ?? 600_000 },
        },
      )
    } catch (error) {
      if (isIdempotencyKeyMismatchError(error)) throw new IdempotencyKeyReuseError(ref.key)
      // Also for a store outage before any request: `degrade` may answer it (infrastructure).
      return onFailure(error, this.attempts(ref) - before, options)
    }
    if (ran) return result
    return {
      message: result.message,
      meta: {
        ...replayOf(result).meta,
        latencyMs: Date.now() - startedAt,
        idempotency: { key: ref.key, replayed: true, keyAttempts: this.attempts(ref) },
      },
    }
  }
}

/**
 * `result` for a caller that did not make its requests (a replay from the record, or a sharer
 * of another caller's run): no attempts, no usage and no models tried, so summing `meta` over
 * calls counts the tokens, requests and fallbacks once.
 */
function replayOf(result: MessageWithMeta): MessageWithMeta {
  const { idempotency } = result.meta
  return {
    message: result.message,
    meta: {
      ...result.meta,
      attempts: 0,
      usage: undefined,
      models: [],
      ...(idempotency === undefined ? {} : { idempotency: { ...idempotency, replayed: true } }),
    },
  }
}

/**
 * Waits for `shared` on behalf of one caller, who may leave early by its signal or deadline.
 * The first caller still waiting when the run ends gets its result (its attempts and usage);
 * the others get a replay of it, so the one request is not counted once per sharer. Each gets
 * its own copy, so one caller editing its message or meta cannot change another's.
 */
function join(shared: Shared, options: CallOptions): Promise<MessageWithMeta> {
  const { signal, timeoutMs } = options
  if (signal?.aborted) return Promise.reject(signal.reason)
  shared.waiting += 1
  const take = (result: MessageWithMeta): MessageWithMeta => {
    if (shared.claimed) return copyResult(replayOf(result))
    shared.claimed = true
    // A sole waiter is the run's only reader (no one joins a finished run): no copy needed.
    return shared.waiting === 1 ? result : copyResult(result)
  }
  // The run itself ends at the first caller's deadline; only an earlier one needs its own timer.
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs
  const ownDeadline =
    deadline !== undefined && (shared.deadline === undefined || deadline < shared.deadline)
  if (signal === undefined && !ownDeadline) return shared.promise.then(take)
  return new Promise<MessageWithMeta>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    let left = false
    const cleanup = () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    const leave = (reason: unknown) => {
      left = true
      cleanup()
      reject(reason)
      shared.waiting -= 1
      if (shared.waiting === 0) shared.controller.abort(reason)
    }
    const onAbort = () => leave(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    if (ownDeadline && timeoutMs !== undefined) {
      timer = setTimeout(() => leave(new ClaudeTimeoutError(timeoutMs)), timeoutMs)
    }
    shared.promise.then(
      (value) => {
        cleanup()
        // A caller who left must not claim the result: a sharer still waiting reports it.
        if (!left) resolve(take(value))
      },
      (error: unknown) => {
        cleanup()
        reject(error)
      },
    )
  })
}

function copyResult(result: MessageWithMeta): MessageWithMeta {
  return { message: copyMessage(result.message), meta: structuredClone(result.meta) }
}
