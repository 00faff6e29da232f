/** A count-based window: the last `size` calls. */
export interface CountWindowOptions {
  /** Count-based. */
  kind: 'count'
  /** Number of most recent calls considered. */
  size: number
}

/** A time-based window: the calls of the last `sizeMs` milliseconds, kept in buckets. */
export interface TimeWindowOptions {
  /** Time-based. */
  kind: 'time'
  /** Width of the window. */
  sizeMs: number
  /** Number of buckets the window is split into; the window slides one bucket at a time. @default 10 */
  buckets?: number | undefined
}

/** Which sliding window a failure-rate or slow-call policy looks at. */
export type SlidingWindowOptions = CountWindowOptions | TimeWindowOptions

/** Aggregates of a sliding window at one instant. */
export interface WindowCounts {
  /** Calls recorded in the window. */
  calls: number
  /** Of those, calls that failed. */
  failures: number
  /** Of those, calls slower than `slowCallMs`. */
  slowCalls: number
}

/** O(1) per recorded call; the policy reads `calls`, `failures`, `slowCalls` after `record`. */
export interface SlidingWindow extends WindowCounts {
  record(failure: boolean, slow: boolean, now: number): void
  /** Drops calls that slid out of the window by `now` (no-op for count windows). */
  advance(now: number): void
  reset(): void
}

const FAILURE = 1
const SLOW = 2

/** Ring buffer of the last `size` outcomes, one byte each (bit 0 failure, bit 1 slow). */
export class CountWindow implements SlidingWindow {
  calls = 0
  failures = 0
  slowCalls = 0
  #outcomes: Uint8Array
  #next = 0

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError('window size must be an integer >= 1')
    this.#outcomes = new Uint8Array(size)
  }

  record(failure: boolean, slow: boolean): void {
    const outcomes = this.#outcomes
    const i = this.#next
    if (this.calls === outcomes.length) {
      const old = outcomes[i] as number
      this.failures -= old & FAILURE
      this.slowCalls -= old >> 1
    } else {
      this.calls++
    }
    outcomes[i] = (failure ? FAILURE : 0) | (slow ? SLOW : 0)
    if (failure) this.failures++
    if (slow) this.slowCalls++
    this.#next = i + 1 === outcomes.length ? 0 : i + 1
  }

  advance(): void {}

  reset(): void {
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
    this.#next = 0
  }
}

/**
 * Calls of the last `sizeMs`, in `buckets` buckets of `sizeMs / buckets` each (resilience4j's
 * time-based window uses one-second buckets). Sliding evicts whole buckets, so each recorded call
 * is O(1) amortised and the window is exact to within one bucket.
 */
export class TimeWindow implements SlidingWindow {
  calls = 0
  failures = 0
  slowCalls = 0
  #bucketMs: number
  #counts: Uint32Array // [calls, failures, slow] per bucket
  #epoch = Number.NEGATIVE_INFINITY

  constructor(sizeMs: number, buckets = 10) {
    if (!(sizeMs > 0)) throw new RangeError('window sizeMs must be > 0')
    if (!Number.isInteger(buckets) || buckets < 1)
      throw new RangeError('window buckets must be an integer >= 1')
    this.#bucketMs = sizeMs / buckets
    this.#counts = new Uint32Array(buckets * 3)
  }

  advance(now: number): void {
    const epoch = Math.floor(now / this.#bucketMs)
    const last = this.#epoch
    if (epoch === last) return
    const counts = this.#counts
    const n = counts.length / 3
    // A wall clock stepped back (NTP, a VM resumed) would otherwise pile calls into one bucket
    // until it caught up, holding them in the window for as long: start over instead.
    if (epoch - last >= n || epoch < last) {
      counts.fill(0)
      this.calls = 0
      this.failures = 0
      this.slowCalls = 0
    } else {
      for (let e = last + 1; e <= epoch; e++) {
        const b = (e % n) * 3
        this.calls -= counts[b] as number
        this.failures -= counts[b + 1] as number
        this.slowCalls -= counts[b + 2] as number
        counts[b] = 0
        counts[b + 1] = 0
        counts[b + 2] = 0
      }
    }
    this.#epoch = epoch
  }

  record(failure: boolean, slow: boolean, now: number): void {
    this.advance(now)
    const counts = this.#counts
    const b = (this.#epoch % (counts.length / 3)) * 3
    counts[b] = (counts[b] as number) + 1
    this.calls++
    if (failure) {
      counts[b + 1] = (counts[b + 1] as number) + 1
      this.failures++
    }
    if (slow) {
      counts[b + 2] = (counts[b + 2] as number) + 1
      this.slowCalls++
    }
  }

  reset(): void {
    this.#counts.fill(0)
    this.calls = 0
    this.failures = 0
    this.slowCalls = 0
  }
}

/** Builds the window described by `options`. */
export function createWindow(options: SlidingWindowOptions): SlidingWindow {
  return options.kind === 'count'
    ? new CountWindow(options.size)
    : new TimeWindow(options.sizeMs, options.buckets)
}
