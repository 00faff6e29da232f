import { CircuitProbeTimeoutError } from './errors.js'
import type { BreakerPermit } from './permit.js'
import type { Guarded } from './types.js'

/** How a half-open probe ended: 'cancelled' means its caller aborted, which says nothing. */
export type ProbeOutcome = 'value' | 'error' | 'timeout' | 'cancelled'

/** Receives a probe's outcome, exactly once. */
export type ProbeSettled = (outcome: ProbeOutcome, durationMs: number, error: unknown) => void

/**
 * A half-open probe's permit. The probe gets its own signal, aborted when the caller's signal
 * aborts or `timeoutMs` elapses, so a timeout also cancels the work it guards; on the timeout the
 * probe is settled at once, whatever is reported later.
 */
export class ProbePermit implements BreakerPermit {
  readonly probe = true
  readonly #controller = new AbortController()
  readonly #callerSignal: AbortSignal | undefined
  readonly #started = Date.now()
  readonly #settled: ProbeSettled
  readonly #timer: ReturnType<typeof setTimeout> | undefined
  readonly #onAbort: (() => void) | undefined
  #done = false
  /** Set by {@link runProbe}: rejects its caller when the probe times out. */
  onTimeout: ((error: CircuitProbeTimeoutError) => void) | undefined

  constructor(
    signal: AbortSignal | undefined,
    breaker: string,
    timeoutMs: number,
    settled: ProbeSettled,
  ) {
    this.#callerSignal = signal
    this.#settled = settled
    if (signal !== undefined) {
      const onAbort = () => this.#controller.abort(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#onAbort = onAbort
    }
    // Infinity means no probe timeout; finite values above a timer's range are refused up front.
    if (timeoutMs !== Number.POSITIVE_INFINITY) {
      this.#timer = setTimeout(() => {
        if (!this.#finish()) return
        const error = new CircuitProbeTimeoutError(breaker, timeoutMs)
        this.#controller.abort(error)
        try {
          settled('timeout', timeoutMs, error)
        } finally {
          this.onTimeout?.(error)
        }
      }, timeoutMs)
      // A probe nobody awaits any more must not keep the process alive until it times out.
      this.#timer.unref?.()
    }
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  success(): void {
    if (this.#finish()) this.#settled('value', Date.now() - this.#started, undefined)
  }

  failure(error: unknown): void {
    if (!this.#finish()) return
    const kind = this.#callerSignal?.aborted ? 'cancelled' : 'error'
    this.#settled(kind, Date.now() - this.#started, error)
  }

  #finish(): boolean {
    if (this.#done) return false
    this.#done = true
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    if (this.#onAbort !== undefined) this.#callerSignal?.removeEventListener('abort', this.#onAbort)
    return true
  }
}

/**
 * Runs `fn` under a probe permit: settles like `fn`, or rejects with the timeout error as soon as
 * the probe times out. The permit is settled before the returned promise (even if that throws).
 */
export function runProbe<T>(fn: Guarded<T>, permit: ProbePermit): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    permit.onTimeout = reject
    let result: T | PromiseLike<T>
    try {
      result = fn(permit.signal)
    } catch (error) {
      result = Promise.reject(error)
    }
    Promise.resolve(result).then(
      (value) => {
        try {
          permit.success()
        } finally {
          resolve(value)
        }
      },
      (error: unknown) => {
        try {
          permit.failure(error)
        } finally {
          reject(error)
        }
      },
    )
  })
}
