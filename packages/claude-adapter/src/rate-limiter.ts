import { RateLimitQueueFullError } from './errors.js'

/** Options of the client-side rate limiter. */
export interface RateLimitOptions {
  /** Requests per minute; spread evenly (see `burstMs`). @default unlimited, or what the API's headers say */
  requestsPerMinute?: number | undefined
  /** Estimated input tokens per minute (4 characters a token; an image 1,600, a PDF page 3,000). @default unlimited, or what the headers say */
  inputTokensPerMinute?: number | undefined
  /** Callers allowed to wait; one more throws {@link RateLimitQueueFullError}. @default 1000 */
  maxQueue?: number | undefined
  /**
   * Bucket size as time at the full rate: how much may go at once after a quiet spell. Half the
   * server's one-second bucket, so requests that reach it out of step never find it empty.
   * @default 500
   */
  burstMs?: number | undefined
  /** Learn limits from `anthropic-ratelimit-*` headers (the lowest any model reported in the last minute, or the configured one if lower). @default true */
  adaptive?: boolean | undefined
}

// How long a model's learned limits count after its last response that carried them.
const LEARNED_TTL_MS = 60_000

interface Waiter {
  tokens: number
  key: string
  resolve: () => void
  reject: (error: unknown) => void
  signal: AbortSignal | undefined
  onAbort: () => void
}

/** A continuously refilled bucket; `rate` is units per millisecond. */
class Bucket {
  rate = Number.POSITIVE_INFINITY
  capacity = Number.POSITIVE_INFINITY
  level = Number.POSITIVE_INFINITY
  #at = Date.now()

  configure(perMinute: number, burstMs: number, minimumCapacity: number): void {
    const rate = perMinute / 60_000
    if (rate === this.rate) return
    this.refill()
    this.rate = rate
    this.capacity = Math.max(minimumCapacity, rate * burstMs)
    this.level = Math.min(this.level, this.capacity)
  }

  refill(): void {
    const now = Date.now()
    if (Number.isFinite(this.rate)) {
      this.level = Math.min(this.capacity, this.level + (now - this.#at) * this.rate)
    }
    this.#at = now
  }

  /** Milliseconds until `need` units (capped at a full bucket) are available; 0 when they are. */
  waitFor(need: number): number {
    const want = Math.min(need, this.capacity)
    if (this.level >= want) return 0
    return Math.ceil((want - this.level) / this.rate)
  }
}

/**
 * Token buckets for requests and estimated input tokens, shared by every call of a client:
 * callers queue in order instead of hammering the API, and a 429 pauses them all.
 */
export class RateLimiter {
  readonly #requests = new Bucket()
  readonly #tokens = new Bucket()
  readonly #queue: Waiter[] = []
  readonly #maxQueue: number
  readonly #burstMs: number
  readonly #adaptive: boolean
  readonly #configured: { requests: number; tokens: number }
  #learned = { requests: Number.POSITIVE_INFINITY, tokens: Number.POSITIVE_INFINITY }
  // Limits learned per model: the pace is the lowest any model reported within LEARNED_TTL_MS,
  // so responses of models with other limits cannot flip the bucket back and forth.
  readonly #learnedBy = new Map<string, { requests: number; tokens: number; at: number }>()
  #pausedUntil = 0
  readonly #pausedKeys = new Map<string, number>()
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(options: RateLimitOptions = {}) {
    this.#maxQueue = options.maxQueue ?? 1000
    this.#burstMs = options.burstMs ?? 500
    this.#adaptive = options.adaptive ?? true
    this.#configured = {
      requests: options.requestsPerMinute ?? Number.POSITIVE_INFINITY,
      tokens: options.inputTokensPerMinute ?? Number.POSITIVE_INFINITY,
    }
    this.#apply()
  }

  /** Callers waiting now. */
  get queued(): number {
    return this.#queue.length
  }

  /** Resolves when one request for `key` (a model) carrying `tokens` estimated input tokens may go. */
  acquire(tokens: number, signal?: AbortSignal, key = ''): Promise<void> {
    signal?.throwIfAborted()
    if (this.#queue.length === 0 && this.#tryTake(tokens, key) === 0) return Promise.resolve()
    if (this.#queue.length >= this.#maxQueue) {
      return Promise.reject(new RateLimitQueueFullError(this.#maxQueue))
    }
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        tokens,
        key,
        resolve,
        reject,
        signal,
        onAbort: () => {
          const index = this.#queue.indexOf(waiter)
          if (index >= 0) this.#queue.splice(index, 1)
          reject(signal?.reason)
          this.#pump()
        },
      }
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#queue.push(waiter)
      this.#pump()
    })
  }

  /**
   * Holds callers for `ms` (a 429's `retry-after`): those of `key` only (Anthropic limits each
   * model on its own, so a fallback model is not held), or everyone when `key` is omitted.
   */
  pause(ms: number, key?: string): void {
    if (!(ms > 0)) return
    const until = Date.now() + ms
    if (key === undefined) this.#pausedUntil = Math.max(this.#pausedUntil, until)
    else this.#pausedKeys.set(key, Math.max(this.#pausedKeys.get(key) ?? 0, until))
    this.#pump()
  }

  /** Milliseconds callers of `key` (a model) are still held by a 429 pause; 0 when not paused. */
  pausedMs(key = ''): number {
    return Math.max(
      0,
      this.#pausedUntil - Date.now(),
      (this.#pausedKeys.get(key) ?? 0) - Date.now(),
    )
  }

  /**
   * Adapts to the `anthropic-ratelimit-*` headers of a response (success or error) from `key`
   * (the model that answered): the lowest limit any model reported within a minute paces all.
   */
  observe(headers: { get(name: string): string | null } | undefined, key = ''): void {
    if (!this.#adaptive || headers === undefined) return
    const requestLimit = positive(headers.get('anthropic-ratelimit-requests-limit'))
    const tokenLimit = positive(headers.get('anthropic-ratelimit-input-tokens-limit'))
    if (requestLimit !== undefined || tokenLimit !== undefined) {
      const now = Date.now()
      const known = this.#learnedBy.get(key)
      this.#learnedBy.set(key, {
        requests: requestLimit ?? known?.requests ?? Number.POSITIVE_INFINITY,
        tokens: tokenLimit ?? known?.tokens ?? Number.POSITIVE_INFINITY,
        at: now,
      })
      let requests = Number.POSITIVE_INFINITY
      let tokens = Number.POSITIVE_INFINITY
      for (const [model, learned] of this.#learnedBy) {
        if (now - learned.at > LEARNED_TTL_MS) {
          this.#learnedBy.delete(model)
          continue
        }
        requests = Math.min(requests, learned.requests)
        tokens = Math.min(tokens, learned.tokens)
      }
      this.#learned = { requests, tokens }
      this.#apply()
    }
    // Without a known limit there is no bucket pacing us: an exhausted quota holds callers until
    // its reset (at most a second), so a burst does not run into a wall of 429s.
    if (
      requestLimit === undefined &&
      headers.get('anthropic-ratelimit-requests-remaining') === '0'
    ) {
      const reset = Date.parse(headers.get('anthropic-ratelimit-requests-reset') ?? '')
      this.pause(Number.isNaN(reset) ? 1000 : Math.min(reset - Date.now(), 1000))
    }
  }

  #apply(): void {
    const requests = Math.min(this.#configured.requests, this.#learned.requests)
    const tokens = Math.min(this.#configured.tokens, this.#learned.tokens)
    if (Number.isFinite(requests)) this.#requests.configure(requests, this.#burstMs, 1)
    if (Number.isFinite(tokens)) this.#tokens.configure(tokens, this.#burstMs, 1)
  }

  /** Takes a slot if possible (returns 0), else returns how long to wait, taking nothing. */
  #tryTake(tokens: number, key: string): number {
    const now = Date.now()
    const keyUntil = this.#pausedKeys.get(key)
    if (keyUntil !== undefined && keyUntil <= now) this.#pausedKeys.delete(key)
    const pausedMs = Math.max(this.#pausedUntil, keyUntil ?? 0) - now
    if (pausedMs > 0) return pausedMs
    this.#requests.refill()
    this.#tokens.refill()
    const wait = Math.max(this.#requests.waitFor(1), this.#tokens.waitFor(tokens))
    if (wait > 0) return wait
    this.#requests.level -= 1
    // A request larger than the whole bucket goes once the bucket is full, leaving it in debt:
    // at most a minute of tokens, what the API's own bucket holds (it admits any request up to
    // its per-minute limit), so one oversized estimate cannot stall later callers for longer.
    const bucket = this.#tokens
    bucket.level = Math.max(bucket.level - tokens, -bucket.rate * 60_000)
    return 0
  }

  #pump(): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
    // First come, first served, except that a caller held by its model's pause does not block
    // callers of other models behind it.
    let wakeIn = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.#queue.length; ) {
      const waiter = this.#queue[i] as Waiter
      const wait = this.#tryTake(waiter.tokens, waiter.key)
      if (wait === 0) {
        this.#queue.splice(i, 1)
        waiter.signal?.removeEventListener('abort', waiter.onAbort)
        waiter.resolve()
        continue
      }
      wakeIn = Math.min(wakeIn, wait)
      if (!this.#pausedKeys.has(waiter.key)) break
      i++
    }
    if (Number.isFinite(wakeIn)) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined
        this.#pump()
      }, wakeIn)
    }
  }
}

function positive(value: string | null): number | undefined {
  if (value === null) return undefined
  const number = Number(value)
  return Number.isFinite(number) && number > 0 ? number : undefined
}
