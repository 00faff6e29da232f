import { abortable, sleep } from './abort.js'
import type { ResponseEncryption } from './encryption.js'
import {
  IdempotencyConfigError,
  IdempotencyConflictError,
  type IdempotencyError,
  IdempotencyKeyMismatchError,
  IdempotencyRecordUnreadableError,
  IdempotencyStoreError,
} from './errors.js'
import { pickHeaders, replayHeaderSet } from './headers.js'
import { checkOptions } from './options-check.js'
import { type ErrorFormat, type ErrorResponse, renderError } from './problem.js'
import { Deadlines, sharedTicker, type Ticker, type TickerSlot } from './scheduler.js'
import type { ClaimResult, IdempotencyStore, StoredResponse } from './store.js'
import { MemoryStore } from './stores/memory.js'

/** Something the guard did, for metrics: hits (`replayed`), misses (`claimed`), duplicates. */
export interface IdempotencyEvent {
  /** What happened: a first run claimed, a replay, a 409, a 422, a release, a store failure, a lapsed lease. */
  type: 'claimed' | 'replayed' | 'conflict' | 'mismatch' | 'released' | 'store-error' | 'lease-lost'
  /** The hashed storage key (never the client's raw key). */
  keyHash: string
  /** The status stored or replayed, for `replayed` and `released`. */
  status?: number
  /** The failure, for `store-error`. */
  error?: unknown
}

/** What to do when the key is held by a request still running. */
export type ConcurrencyPolicy =
  | 'reject'
  | {
      /** How long a duplicate waits for the first request to finish before it gets 409. */
      waitMs: number
    }

/** Options shared by the Express and Koa middleware and by `idempotent()`. */
export interface CoreOptions {
  /** Where records live. @default new MemoryStore() */
  store?: IdempotencyStore
  /** Request header that carries the key. @default 'Idempotency-Key' */
  headerName?: string
  /** Methods guarded; others pass through untouched. @default ['POST', 'PATCH'] */
  methods?: readonly string[]
  /** Answer 400 when a guarded request has no key. @default false */
  required?: boolean
  /** Accept only the draft's quoted Structured-Field string form of the key. @default false */
  strictSyntax?: boolean
  /** How long a completed response is replayed. @default 86_400_000 (24 h) */
  ttlMs?: number
  /** Lease of an in-flight claim; renewed after `leaseMs / 3` (by `leaseMs / 2`) while the handler runs. @default 60_000 */
  leaseMs?: number
  /** Renewal stops after this long, so a stuck handler cannot hold a key forever. @default 600_000 */
  maxLeaseHoldMs?: number
  /** 409 at once, or wait up to `waitMs` for the first request and replay it. @default 'reject' */
  onConcurrent?: ConcurrencyPolicy
  /** Which statuses are stored; others release the key. @default 2xx, 3xx, and 4xx except 408 and 429 */
  storeResponse?: (status: number) => boolean
  /** Extra response headers to replay (set-cookie, date, framing, request-id and rate-limit headers are refused). @default [] */
  replayHeaders?: readonly string[]
  /** Larger response bodies are sent but not stored (see README). @default 1_048_576 */
  maxStoredBodyBytes?: number
  /** Every store call fails after this long. @default 2_000 */
  storeTimeoutMs?: number
  /** On a store failure: 503 without running the handler, or run it unguarded. @default 'fail-closed' */
  onStoreError?: 'fail-closed' | 'fail-open'
  /** Error body shape: RFC 9457 problem+json, or Stripe's `{ error }`. @default 'problem' */
  errorFormat?: ErrorFormat
  /** Encrypts stored responses at rest, e.g. {@link aesGcmEncryption}. @default undefined */
  encryption?: ResponseEncryption
  /** Called for every decision, for metrics. @default undefined */
  onEvent?: (event: IdempotencyEvent) => void
  /** Where warnings go. @default console */
  logger?: { warn(message: string): void }
}

/**
 * The default `storeResponse`: 2xx, 3xx and deterministic 4xx. A redirect is an answer: after a
 * POST it is usually Post/Redirect/Get, the work done, so a retry must not run it again.
 */
export const storeDeterministic = (status: number): boolean =>
  (status >= 200 && status < 400) ||
  (status >= 400 && status < 500 && status !== 408 && status !== 429)

/** A response to replay, ready to write. */
export interface ReplayResponse {
  /** The stored status. */
  status: number
  /** The stored headers plus `Idempotent-Replayed` (lower-case names). */
  headers: Record<string, string | string[]>
  /** The stored body bytes. */
  body: Uint8Array
  /**
   * For a HEAD request's record: the Content-Length its response declared (the length a GET
   * would have had, RFC 9110 §9.3.2). Only a HEAD replay sends it.
   */
  headLength?: number | undefined
}

/** The outcome of claiming a key. */
export type Decision =
  | {
      /** Run the handler under `claim`. */
      kind: 'run'
      /** The claim to finish with the response, or to release. */
      claim: ActiveClaim
    }
  | {
      /** Run the handler without idempotency (fail-open after a store error). */
      kind: 'bypass'
    }
  | {
      /** Answer with the stored response. */
      kind: 'replay'
      /** What to send. */
      response: ReplayResponse
    }
  | {
      /** Answer with an error (409, 422, 503, ...). */
      kind: 'error'
      /** The error to render. */
      error: IdempotencyError
    }

const EMPTY = new Uint8Array(0)
const REPLAYED = 'Idempotent-Replayed'
const BODY_OMITTED = 'Idempotent-Body-Omitted'
// Marks a sealed record, so a guard without `encryption` (a fleet half through turning it on or
// off) fails closed instead of replaying ciphertext. A pseudo-header name: no HTTP header can
// have it, and it is never replayed.
const SEALED = ':sealed'
// Marks a record whose response could not be sealed (a KMS down): kept as run, its status only.
const SEAL_FAILED = ':seal-failed'
// A HEAD response's declared Content-Length, kept apart from the replayed headers: framing
// headers are never replayed, and this one is true of a HEAD replay only.
const HEAD_LENGTH = ':head-length'

/**
 * Adds our replay headers to an `Access-Control-Expose-Headers` value (a CORS middleware's),
 * each once. Also after `*`: a credentialed request reads `*` as a header name, not a wildcard.
 */
export function exposeHeaders(existing: unknown, omitted: boolean): string {
  const value = Array.isArray(existing)
    ? existing.join(', ')
    : typeof existing === 'string'
      ? existing
      : ''
  // Most replays have no CORS middleware before them: nothing to parse.
  if (value.trim() === '') return omitted ? `${REPLAYED}, ${BODY_OMITTED}` : REPLAYED
  const listed = new Set(value.split(',').map((name) => name.trim().toLowerCase()))
  const missing = (omitted ? [REPLAYED, BODY_OMITTED] : [REPLAYED]).filter(
    (name) => !listed.has(name.toLowerCase()),
  )
  return missing.length === 0 ? value : `${value}, ${missing.join(', ')}`
}

/** `response` replayed without its body, marked `Idempotent-Body-Omitted: true`. */
export function withoutBody(response: ReplayResponse): ReplayResponse {
  const headers = { ...response.headers }
  // No body follows, so a content type or coding would describe nothing.
  delete headers['content-type']
  delete headers['content-encoding']
  headers[BODY_OMITTED.toLowerCase()] = 'true'
  return { status: response.status, headers, body: EMPTY, headLength: response.headLength }
}

// Once per process: `idempotent()` builds an engine per call.
let warnedMemoryInProduction = false

/** The framework-neutral engine: claim, replay or reject, then complete or release. */
export class IdempotencyEngine {
  /** Where records live (`store`). */
  readonly store: IdempotencyStore
  /** The key's header name as configured (`headerName`). */
  readonly headerName: string
  /** Lower-case header name, as Node's `req.headers` keys it. */
  readonly headerKey: string
  /** Upper-case methods that are guarded (`methods`); others pass through. */
  readonly methods: ReadonlySet<string>
  /** True when a guarded request without a key gets 400 (`required`). */
  readonly required: boolean
  /** True when only the Structured-Field string form of the key is accepted (`strictSyntax`). */
  readonly strictSyntax: boolean
  /** How long a completed record is kept (`ttlMs`). */
  readonly ttlMs: number
  /** An in-flight claim's lease, renewed while the handler runs (`leaseMs`). */
  readonly leaseMs: number
  /** How long renewals may hold a claim in all (`maxLeaseHoldMs`). */
  readonly maxLeaseHoldMs: number
  /** How long a duplicate waits for the first request; 0 answers 409 at once (`onConcurrent`). */
  readonly waitMs: number
  /** Which statuses are stored; others release the key (`storeResponse`). */
  readonly storeResponse: (status: number) => boolean
  /** Lower-case names of the response headers kept for replays (the allowlist plus `replayHeaders`). */
  readonly allowHeaders: ReadonlySet<string>
  /** The response headers a claim reads when it finishes: the allowlist and content-encoding. */
  readonly readHeaders: readonly string[]
  /** Larger response bodies are sent but not stored (`maxStoredBodyBytes`). */
  readonly maxStoredBodyBytes: number
  /** Each store call's timeout (`storeTimeoutMs`). */
  readonly storeTimeoutMs: number
  /** True for `onStoreError: 'fail-open'`: a store failure runs the handler unguarded. */
  readonly failOpen: boolean
  /** How error responses are shaped (`errorFormat`). */
  readonly errorFormat: ErrorFormat
  /** Seals stored responses at rest, when configured (`encryption`). */
  readonly encryption: ResponseEncryption | undefined
  readonly #onEvent: ((event: IdempotencyEvent) => void) | undefined
  readonly #logger: { warn(message: string): void }
  readonly #warned = new Set<string>()
  /** Deadlines of store calls. */
  readonly deadlines: Deadlines
  /** Lease renewals of running claims. */
  readonly renewals: Ticker

  constructor(options: CoreOptions = {}) {
    checkOptions(options)
    this.store = options.store ?? new MemoryStore()
    this.headerName = options.headerName ?? 'Idempotency-Key'
    this.headerKey = this.headerName.toLowerCase()
    this.methods = new Set((options.methods ?? ['POST', 'PATCH']).map((m) => m.toUpperCase()))
    this.required = options.required ?? false
    this.strictSyntax = options.strictSyntax ?? false
    this.ttlMs = options.ttlMs ?? 86_400_000
    this.leaseMs = options.leaseMs ?? 60_000
    this.maxLeaseHoldMs = options.maxLeaseHoldMs ?? 600_000
    const concurrent = options.onConcurrent ?? 'reject'
    this.waitMs = concurrent === 'reject' ? 0 : concurrent.waitMs
    this.storeResponse = options.storeResponse ?? storeDeterministic
    this.allowHeaders = replayHeaderSet(options.replayHeaders)
    this.readHeaders = [...this.allowHeaders, 'content-encoding']
    this.maxStoredBodyBytes = options.maxStoredBodyBytes ?? 1_048_576
    this.storeTimeoutMs = options.storeTimeoutMs ?? 2_000
    this.failOpen = options.onStoreError === 'fail-open'
    this.errorFormat = options.errorFormat ?? 'problem'
    this.encryption = options.encryption
    this.#onEvent = options.onEvent
    this.deadlines = new Deadlines(this.storeTimeoutMs)
    // Ticks at leaseMs / 6, so a lease due for renewal at leaseMs / 3 is renewed by leaseMs / 2.
    this.renewals = sharedTicker(this.leaseMs / 6)
    this.#logger = options.logger ?? console
    if (
      !warnedMemoryInProduction &&
      this.store instanceof MemoryStore &&
      process.env.NODE_ENV === 'production'
    ) {
      warnedMemoryInProduction = true
      this.#logger.warn(
        '[idempotency] MemoryStore is used with NODE_ENV=production: records are per process and lost on restart; use RedisStore',
      )
    }
  }

  /** Logs `message` once per `id`. */
  warnOnce(id: string, message: string): void {
    if (this.#warned.has(id)) return
    this.#warned.add(id)
    this.#logger.warn(message)
  }

  /** Reports an event; a throwing listener never breaks a request. */
  emit(type: IdempotencyEvent['type'], keyHash: string, extra?: Partial<IdempotencyEvent>): void {
    if (!this.#onEvent) return
    try {
      this.#onEvent({ type, keyHash, ...extra })
    } catch {
      // A metrics hook must not change the response.
    }
  }

  /** Renders an error in the configured format. */
  render(error: IdempotencyError): ErrorResponse {
    return renderError(error, this.errorFormat)
  }

  /**
   * {@link begin} without a promise, when the store answers in-process (`store.sync`) and the
   * answer needs no waiting; undefined otherwise (then call `begin`).
   */
  beginNow(keyHash: string, fingerprint: string): Decision | undefined {
    const sync = this.store.sync
    if (sync === undefined) return undefined
    let result: ClaimResult
    try {
      result = sync.claim(keyHash, fingerprint, this.leaseMs)
    } catch (error) {
      return this.#claimFailed(
        keyHash,
        new IdempotencyStoreError('Store claim failed', { cause: error }),
      )
    }
    return this.#decide(keyHash, fingerprint, result, this.waitMs > 0)
  }

  /**
   * Claims `keyHash` for a request with `fingerprint`. A mismatch (422) is reported before
   * in-flight (409); with `onConcurrent: { waitMs }` an in-flight duplicate waits and replays.
   * Rejects with `signal.reason` once `signal` aborts, while claiming or waiting (a claim that
   * lands after that is released).
   */
  async begin(keyHash: string, fingerprint: string, signal?: AbortSignal): Promise<Decision> {
    signal?.throwIfAborted()
    const deadline = this.waitMs > 0 ? Date.now() + this.waitMs : 0
    let pollMs = 10
    let woken = false
    for (;;) {
      let result: ClaimResult
      const claiming = this.#claim(keyHash, fingerprint)
      try {
        result = await abortable(this.deadlines.run(claiming, 'claim'), signal)
      } catch (error) {
        // A claim we gave up on may still land (a Redis client queues commands while it
        // reconnects); nobody would run or release it, so the key would be locked for a lease.
        claiming.then(
          (late) => {
            if (late.state === 'claimed') this.#release(keyHash, late.token)
          },
          () => {},
        )
        if (signal?.aborted) throw signal.reason
        return this.#claimFailed(keyHash, error as IdempotencyStoreError)
      }
      const remaining = deadline - Date.now()
      const decision = this.#decide(keyHash, fingerprint, result, remaining > 0)
      if (decision !== undefined) return decision
      const leaseLeft = result.state === 'in-progress' ? result.retryAfterMs : remaining
      const waitFor = Math.max(1, Math.min(remaining, leaseLeft))
      if (this.store.waitForChange) {
        // Woken, yet the key is still in flight: a store that wakes waiters without a change
        // (or at once) must not make this loop spin on claims and starve the event loop.
        if (woken) {
          await sleep(Math.min(pollMs, waitFor), signal)
          pollMs = Math.min(pollMs * 2, 250)
        }
        woken = true
        try {
          // Raced here too: a store may not honour the signal.
          await abortable(
            this.deadlines.run(
              this.store.waitForChange(keyHash, waitFor, signal),
              'waitForChange',
              waitFor + this.storeTimeoutMs,
            ),
            signal,
          )
        } catch (error) {
          if (signal?.aborted) throw signal.reason
          this.emit('store-error', keyHash, { error })
          await sleep(Math.min(pollMs, waitFor), signal)
        }
      } else {
        // Stores without change notification get a bounded, backing-off poll.
        await sleep(Math.min(pollMs, waitFor), signal)
        pollMs = Math.min(pollMs * 2, 250)
      }
    }
  }

  /** `store.claim()`, a store that throws instead of rejecting included (onStoreError applies). */
  #claim(keyHash: string, fingerprint: string): Promise<ClaimResult> {
    try {
      return this.store.claim(keyHash, fingerprint, this.leaseMs)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /** A best-effort `store.release()`, for a claim nobody will run. */
  #release(keyHash: string, token: string): void {
    try {
      this.store.release(keyHash, token).catch(() => {})
    } catch {
      // The lease expires on its own.
    }
  }

  #claimFailed(keyHash: string, error: IdempotencyStoreError): Decision {
    this.emit('store-error', keyHash, { error })
    if (this.failOpen) return { kind: 'bypass' }
    return { kind: 'error', error }
  }

  /** What a claim result means; undefined when the key is in flight and the caller may wait. */
  #decide(
    keyHash: string,
    fingerprint: string,
    result: ClaimResult,
    mayWait: boolean,
  ): Decision | undefined {
    if (result.state === 'claimed') {
      this.emit('claimed', keyHash)
      return { kind: 'run', claim: new ActiveClaim(this, keyHash, result.token) }
    }
    if (result.fingerprint !== fingerprint) {
      this.emit('mismatch', keyHash)
      return { kind: 'error', error: new IdempotencyKeyMismatchError() }
    }
    if (result.state === 'completed') return this.#replay(keyHash, result.response)
    if (mayWait) return undefined
    this.emit('conflict', keyHash)
    return { kind: 'error', error: new IdempotencyConflictError(result.retryAfterMs) }
  }

  #replay(keyHash: string, stored: StoredResponse): Decision {
    let response = stored
    const sealed = stored.headers[SEALED] !== undefined
    if (stored.headers[SEAL_FAILED] !== undefined) {
      response = { status: stored.status, headers: {}, body: EMPTY, bodyOmitted: true }
    } else if (this.encryption || sealed) {
      try {
        if (!this.encryption) {
          throw new IdempotencyConfigError(
            'The stored response was encrypted at rest, and this guard has no `encryption` to open it',
          )
        }
        const { [SEALED]: _, ...headers } = stored.headers
        response = this.encryption.open(sealed ? { ...stored, headers } : stored, keyHash)
      } catch (error) {
        this.emit('store-error', keyHash, { error })
        const unreadable = new IdempotencyRecordUnreadableError(
          'The stored response for this idempotency key cannot be read',
          { cause: error },
        )
        return { kind: 'error', error: unreadable }
      }
    }
    this.emit('replayed', keyHash, { status: response.status })
    const headers: Record<string, string | string[]> = { ...response.headers }
    headers[REPLAYED.toLowerCase()] = 'true'
    const replay: ReplayResponse = { status: response.status, headers, body: response.body }
    // A plain copy on the replay path; only a HEAD record pays for the delete.
    const headLength = headers[HEAD_LENGTH]
    if (headLength !== undefined) {
      delete headers[HEAD_LENGTH]
      replay.headLength = Number(headLength)
    }
    return { kind: 'replay', response: response.bodyOmitted ? withoutBody(replay) : replay }
  }
}

/** Our claim on a key while the handler runs: renews the lease, then completes or releases. */
export class ActiveClaim {
  readonly #engine: IdempotencyEngine
  /** The hashed storage key claimed (never the client's raw key). */
  readonly keyHash: string
  readonly #token: string
  readonly #holdUntil: number
  #renewAt: number
  #renewing = false
  #settled = false
  #stopped = false
  readonly #slot: TickerSlot
  /**
   * The response being recorded, asked on each renewal tick whether its client left (polled:
   * a 'close' listener on every response costs more than the rare abort it catches).
   */
  response: { abandoned(): boolean } | undefined = undefined

  /** The response headers {@link finish} reads, so a capture may hand over only these. */
  get readHeaders(): readonly string[] {
    return this.#engine.readHeaders
  }

  constructor(engine: IdempotencyEngine, keyHash: string, token: string) {
    this.#engine = engine
    this.keyHash = keyHash
    this.#token = token
    const now = Date.now()
    this.#holdUntil = now + engine.maxLeaseHoldMs
    this.#renewAt = now + engine.leaseMs / 3
    this.#slot = engine.renewals.add(this)
  }

  /** Called by the engine's renewal ticker; false once renewing is over. */
  check(now: number): boolean {
    if (this.#settled || this.#stopped || now >= this.#holdUntil) return false
    if (this.response?.abandoned()) {
      this.#stopped = true
      return false
    }
    if (now >= this.#renewAt && !this.#renewing) void this.#renew()
    return true
  }

  async #renew(): Promise<void> {
    const engine = this.#engine
    this.#renewing = true
    try {
      const ok = await engine.deadlines.run(
        engine.store.renew(this.keyHash, this.#token, engine.leaseMs),
        'renew',
      )
      if (!ok && !this.#settled) {
        engine.emit('lease-lost', this.keyHash)
        this.#stopped = true
      }
    } catch (error) {
      engine.emit('store-error', this.keyHash, { error })
    }
    this.#renewing = false
    this.#renewAt = Date.now() + engine.leaseMs / 3
  }

  #settle(): boolean {
    if (this.#settled) return false
    this.#settled = true
    this.#engine.renewals.delete(this.#slot)
    return true
  }

  /**
   * Stores the response if its status qualifies, else releases the key. Returns a promise that
   * settles once the store answered (or failed), so callers send the last byte only after the
   * record is durable; undefined when that already happened (an in-process store). `headers`
   * are keyed in lower case, as `res.getHeaders()` gives them. `encoded`: `body` is the bytes as
   * sent (a compression middleware ran inside the capture), so its `content-encoding` is kept.
   * `headLength`: a HEAD response's declared Content-Length, for its replays.
   */
  finish(
    status: number,
    headers: Record<string, number | string | string[] | undefined>,
    body: Uint8Array,
    bodyOmitted: boolean,
    encoded = false,
    headLength?: number,
  ): Promise<void> | undefined {
    const engine = this.#engine
    if (!engine.storeResponse(status)) return this.release(status)
    if (!this.#settle()) return undefined
    const kept = pickHeaders(headers, engine.allowHeaders)
    const encoding = headers['content-encoding']
    if (encoded && encoding !== undefined) kept['content-encoding'] = String(encoding)
    if (headLength !== undefined) kept[HEAD_LENGTH] = String(headLength)
    let response: StoredResponse = {
      status,
      headers: kept,
      body: bodyOmitted ? EMPTY : body,
    }
    if (bodyOmitted) response.bodyOmitted = true
    if (engine.encryption) {
      try {
        const sealed = engine.encryption.seal(response, this.keyHash)
        response = { ...sealed, headers: { ...sealed.headers, [SEALED]: '1' } }
      } catch (error) {
        // The handler ran, so the key must not run again, and nothing may be stored in clear:
        // kept as run with its status only, as a body too large to store is.
        engine.emit('store-error', this.keyHash, { error })
        response = { status, headers: { [SEAL_FAILED]: '1' }, body: EMPTY, bodyOmitted: true }
      }
    }
    const sync = engine.store.sync
    if (sync === undefined) return this.#complete(response)
    try {
      if (!sync.complete(this.keyHash, this.#token, response, engine.ttlMs)) {
        engine.emit('lease-lost', this.keyHash)
      }
    } catch (error) {
      engine.emit('store-error', this.keyHash, { error })
    }
    return undefined
  }

  async #complete(response: StoredResponse): Promise<void> {
    const engine = this.#engine
    try {
      const ok = await engine.deadlines.run(
        engine.store.complete(this.keyHash, this.#token, response, engine.ttlMs),
        'complete',
      )
      if (!ok) engine.emit('lease-lost', this.keyHash)
    } catch (error) {
      // The handler ran; the response still goes out. The lease expires and the key can run again.
      engine.emit('store-error', this.keyHash, { error })
    }
  }

  /**
   * Drops the claim so a retry runs the handler again (5xx, thrown error, client abort). Like
   * {@link finish}, returns a promise only when the store answers asynchronously.
   */
  release(status?: number): Promise<void> | undefined {
    if (!this.#settle()) return undefined
    const engine = this.#engine
    const sync = engine.store.sync
    if (sync === undefined) return this.#release(status)
    try {
      sync.release(this.keyHash, this.#token)
      engine.emit('released', this.keyHash, status === undefined ? undefined : { status })
    } catch (error) {
      engine.emit('store-error', this.keyHash, { error })
    }
    return undefined
  }

  async #release(status: number | undefined): Promise<void> {
    const engine = this.#engine
    try {
      await engine.deadlines.run(engine.store.release(this.keyHash, this.#token), 'release')
      engine.emit('released', this.keyHash, status === undefined ? undefined : { status })
    } catch (error) {
      engine.emit('store-error', this.keyHash, { error })
    }
  }
}
