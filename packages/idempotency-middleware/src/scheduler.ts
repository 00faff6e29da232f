import { IdempotencyStoreError } from './errors.js'

// A Timeout object per store call and per claim cost ~15 µs per request under load (measured in
// bench/), so deadlines and lease renewals share unref()ed intervals, one per tick length.

/** Something a {@link Ticker} checks on every tick. */
interface Due {
  /** Called on each tick with the current time; returns false to be dropped. */
  check(now: number): boolean
}

/** One lazily started, unref()ed interval checking a set of entries; stops when the set empties. */
export class Ticker {
  readonly #entries = new Set<Due>()
  readonly #tickMs: number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(tickMs: number) {
    this.#tickMs = Math.max(1, Math.floor(tickMs))
  }

  add(entry: Due): void {
    this.#entries.add(entry)
    if (this.#timer) return
    this.#timer = setInterval(() => this.#tick(), this.#tickMs)
    this.#timer.unref()
  }

  delete(entry: Due): void {
    this.#entries.delete(entry)
  }

  #tick(): void {
    const now = Date.now()
    for (const entry of this.#entries) {
      if (!entry.check(now)) this.#entries.delete(entry)
    }
    if (this.#entries.size === 0 && this.#timer) {
      clearInterval(this.#timer)
      this.#timer = undefined
    }
  }
}

const shared = new Map<number, Ticker>()

/** The process-wide ticker for `tickMs`, so engines (one per `idempotent()` call) share intervals. */
export function sharedTicker(tickMs: number): Ticker {
  const key = Math.max(1, Math.floor(tickMs))
  let ticker = shared.get(key)
  if (!ticker) {
    ticker = new Ticker(key)
    shared.set(key, ticker)
  }
  return ticker
}

/**
 * Store calls with a deadline: rejects with {@link IdempotencyStoreError} when the call fails or
 * outlives `timeoutMs` (checked every `timeoutMs / 4`, at most 250 ms late).
 */
export class Deadlines {
  readonly #ticker: Ticker
  readonly #timeoutMs: number

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs
    this.#ticker = sharedTicker(Math.min(250, Math.max(1, timeoutMs / 4)))
  }

  /** Wraps one store call (`what` names it in errors). */
  run<T>(promise: Promise<T>, what: string, timeoutMs = this.#timeoutMs): Promise<T> {
    return new Promise((resolve, reject) => {
      const deadline = Date.now() + timeoutMs
      const entry: Due = {
        check: (now) => {
          if (now < deadline) return true
          reject(new IdempotencyStoreError(`Store ${what} timed out after ${timeoutMs} ms`))
          return false
        },
      }
      this.#ticker.add(entry)
      promise.then(
        (value) => {
          this.#ticker.delete(entry)
          resolve(value)
        },
        (error: unknown) => {
          this.#ticker.delete(entry)
          reject(new IdempotencyStoreError(`Store ${what} failed`, { cause: error }))
        },
      )
    })
  }
}
