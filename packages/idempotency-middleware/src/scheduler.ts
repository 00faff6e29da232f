import { IdempotencyStoreError } from './errors.js'

// A Timeout object per store call and per claim cost ~15 µs per request under load (measured in
// bench/), so deadlines and lease renewals share unref()ed intervals, one per tick length.

/** Something a {@link Ticker} checks on every tick. */
interface Due {
  /** Called on each tick with the current time; returns false to be dropped. */
  check(now: number): boolean
}

/** An entry's place in a {@link Ticker}, handed back by `add` to pass to `delete`. */
export interface TickerSlot {
  readonly due: Due
  prev: TickerSlot | undefined
  next: TickerSlot | undefined
  linked: boolean
}

/**
 * One lazily started, unref()ed interval checking a list of entries; stops when it empties. A
 * linked list rather than a Set: every request adds and deletes one entry, and a Set hashes the
 * object's identity on each (a CPU profile under load put the two at ~0.6 µs per request).
 */
export class Ticker {
  #head: TickerSlot | undefined
  #tail: TickerSlot | undefined
  readonly #tickMs: number
  #timer: ReturnType<typeof setInterval> | undefined

  constructor(tickMs: number) {
    this.#tickMs = Math.max(1, Math.floor(tickMs))
  }

  add(due: Due): TickerSlot {
    const slot: TickerSlot = { due, prev: this.#tail, next: undefined, linked: true }
    if (this.#tail) this.#tail.next = slot
    else this.#head = slot
    this.#tail = slot
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.#tickMs)
      this.#timer.unref()
    }
    return slot
  }

  delete(slot: TickerSlot): void {
    if (!slot.linked) return
    slot.linked = false
    // `slot.next` is kept: a tick standing on this slot still finds its way on.
    if (slot.prev) slot.prev.next = slot.next
    else this.#head = slot.next
    if (slot.next) slot.next.prev = slot.prev
    else this.#tail = slot.prev
  }

  #tick(): void {
    const now = Date.now()
    for (let slot = this.#head; slot !== undefined; slot = slot.next) {
      if (slot.linked && !slot.due.check(now)) this.delete(slot)
    }
    if (this.#head === undefined && this.#timer !== undefined) {
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
      const slot = this.#ticker.add({
        check: (now) => {
          if (now < deadline) return true
          reject(new IdempotencyStoreError(`Store ${what} timed out after ${timeoutMs} ms`))
          return false
        },
      })
      promise.then(
        (value) => {
          this.#ticker.delete(slot)
          resolve(value)
        },
        (error: unknown) => {
          this.#ticker.delete(slot)
          reject(new IdempotencyStoreError(`Store ${what} failed`, { cause: error }))
        },
      )
    })
  }
}
