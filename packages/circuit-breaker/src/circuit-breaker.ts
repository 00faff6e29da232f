import { type Listener, surface, TinyEmitter } from './emitter.js'
import { CircuitOpenError, openError } from './errors.js'
import type { CircuitBreakerEvents, StateChangeReason } from './events.js'
import {
  type CircuitBreakerOptions,
  type CircuitState,
  type ResolvedOptions,
  resolveOptions,
} from './options.js'
import type { BreakerPermit } from './permit.js'
import { type ProbeOutcome, ProbePermit, runProbe } from './probe.js'
import { createWindow, type SlidingWindow } from './sliding-window.js'
import type { CircuitSnapshot, ExecuteOptions, Guarded, ProbeGate } from './types.js'

const OPEN_ERROR_PROTOTYPE = CircuitOpenError.prototype

// The closed-state permit reports through these; assigned in CircuitBreaker's static block, the
// one place that can reach its private methods, so permits and execute() share one path.
let succeeded: (breaker: CircuitBreaker, durationMs: number, generation: number) => void
let failed: (
  breaker: CircuitBreaker,
  error: unknown,
  durationMs: number,
  signal: AbortSignal | undefined,
  generation: number,
) => void

/**
 * A circuit breaker: closed -> open -> half-open -> closed. Calls while open are rejected at once
 * with {@link CircuitOpenError}; no timer is armed per call and open -> half-open happens lazily.
 *
 * @example
 * const breaker = new CircuitBreaker({ name: 'claude', failureThreshold: 5, openMs: 30_000 })
 * const answer = await breaker.execute((signal) => fetchAnswer(signal))
 */
export class CircuitBreaker {
  /** The breaker's name (errors, events, metrics, registry, Redis keys). */
  readonly name: string
  readonly #o: ResolvedOptions
  #state: CircuitState = 'closed'
  #openUntil = 0
  #openMs: number
  #trips = 0
  #isolated = false
  #consecutive = 0
  #window: SlidingWindow | undefined
  #probes = 0
  #probeSuccesses = 0
  /**
   * When each running probe will have settled at the latest, in start order, which is also
   * deadline order: every probe gets the same `#probeWaitMs`.
   */
  #probeDeadlines: number[] = []
  #generation = 0
  #timed: boolean
  /** What a caller turned away while half-open is told to wait: a probe's time, if bounded. */
  readonly #probeWaitMs: number
  #gate: ProbeGate | undefined
  #events: TinyEmitter<CircuitBreakerEvents> | undefined
  #onValue: ((value: unknown) => unknown) | undefined
  #onError: ((error: unknown) => never) | undefined
  #calls = 0
  #successes = 0
  #failures = 0
  #slowCalls = 0
  #rejections = 0

  static {
    succeeded = (breaker, durationMs, generation) =>
      breaker.#succeeded(durationMs, undefined, generation)
    failed = (breaker, error, durationMs, signal, generation) =>
      breaker.#failed(error, durationMs, signal, generation)
  }

  constructor(options: CircuitBreakerOptions = {}) {
    this.name = options.name ?? 'default'
    this.#o = resolveOptions(options)
    this.#openMs = this.#o.openMs
    this.#window = this.#o.window && createWindow(this.#o.window)
    this.#timed = this.#o.slowCallMs !== Number.POSITIVE_INFINITY
    const probeMs = this.#o.probeTimeoutMs
    this.#probeWaitMs = probeMs === Number.POSITIVE_INFINITY ? this.#o.openMs : probeMs
  }

  /** The current state; an elapsed open period turns into half-open when read. */
  get state(): CircuitState {
    if (this.#state === 'open' && Date.now() >= this.#openUntil) this.#toHalfOpen()
    return this.#state
  }

  /** True after {@link CircuitBreaker.isolate} until {@link CircuitBreaker.reset}. */
  get isolated(): boolean {
    return this.#isolated
  }

  /** The options after defaults. */
  get options(): ResolvedOptions {
    return this.#o
  }

  /**
   * Runs `fn` through the breaker: resolves or rejects like `fn`, or rejects with
   * {@link CircuitOpenError} without calling it while open.
   */
  execute<T>(fn: Guarded<T>, options?: ExecuteOptions): Promise<T> {
    if (this.#state !== 'closed') {
      const signal = options?.signal
      // A caller that already gave up is not a rejection the breaker caused.
      if (signal?.aborted) return Promise.reject(signal.reason)
      // The open path is inlined here: every extra frame makes the error's stack capture dearer.
      if (this.#state === 'open') {
        const wait = this.#openUntil - Date.now()
        if (wait > 0) {
          this.#rejections++
          // openError() inlined by hand: one frame fewer for the stack capture to walk.
          const error = Object.setPrototypeOf(new Error(), OPEN_ERROR_PROTOTYPE) as {
            breaker: string
            retryAfterMs: number
          } & CircuitOpenError
          error.breaker = this.name
          error.retryAfterMs = wait
          if (this.#events?.has('reject')) this.#emitReject(error)
          return Promise.reject(error)
        }
      }
      return this.#executeGuarded(fn, signal)
    }
    const signal = options?.signal
    if (signal !== undefined || this.#timed) return this.#run(fn, signal)
    this.#calls++
    let result: T | PromiseLike<T>
    try {
      result = fn(undefined)
    } catch (error) {
      this.#failed(error, 0, undefined, this.#generation)
      return Promise.reject(error)
    }
    // Shared handlers (one closure pair per closed period, none per call) keep the success path
    // close to a bare `.then`; the period they belong to tells a late outcome from a current one.
    const onValue = this.#onValue ?? this.#createHandlers()
    const onError = this.#onError as (error: unknown) => never
    return (result instanceof Promise ? result : Promise.resolve(result)).then(
      onValue as (value: T) => T,
      onError,
    )
  }

  /**
   * Low-level form of {@link CircuitBreaker.execute} for callers that run the work themselves:
   * admits one call and returns its {@link BreakerPermit}, or throws {@link CircuitOpenError}
   * (counted and emitted as a rejection) while open or when no probe slot is free, or the
   * signal's reason when it already aborted. Run the work with `permit.signal` and report its
   * outcome once; a half-open probe's permit is settled by the breaker on `probeTimeoutMs`, and
   * one never reported holds its probe slot until then (without a probe timeout, until the
   * circuit changes state).
   * @example
   * const permit = breaker.acquire({ signal })
   * fetchAnswer(permit.signal).then((v) => { permit.success(); return v }, (e) => { permit.failure(e); throw e })
   */
  acquire(options?: ExecuteOptions): BreakerPermit {
    const signal = options?.signal
    if (signal?.aborted) throw signal.reason
    if (this.#state === 'closed') return this.#admit(signal)
    const admitted = this.#admitGuarded(signal)
    if (admitted instanceof ProbePermit) return admitted
    throw admitted
  }

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof CircuitBreakerEvents>(
    event: K,
    listener: Listener<CircuitBreakerEvents[K]>,
  ): () => void {
    this.#events ??= new TinyEmitter()
    this.#events.on(event, listener)
    this.#updateTimed()
    return () => this.off(event, listener)
  }

  /** Removes a listener added with {@link CircuitBreaker.on}. */
  off<K extends keyof CircuitBreakerEvents>(
    event: K,
    listener: Listener<CircuitBreakerEvents[K]>,
  ): void {
    this.#events?.off(event, listener)
    this.#updateTimed()
  }

  /** Forces the circuit open until {@link CircuitBreaker.reset} (manual isolation). */
  isolate(): void {
    this.#isolated = true
    this.#openUntil = Number.POSITIVE_INFINITY
    this.#openMs = Number.POSITIVE_INFINITY
    if (this.#state !== 'open') this.#open('isolate', Number.POSITIVE_INFINITY)
  }

  /** Closes the circuit and clears its counts, ending an isolation too. */
  reset(): void {
    this.#isolated = false
    this.#close('reset')
  }

  /**
   * Opens the circuit now for `openMs` (default: the next, possibly grown, open time); extends an
   * open period that would end sooner. Ignored while isolated. Used by the Redis adapter.
   */
  trip(options: { openMs?: number | undefined } = {}): void {
    const { openMs } = options
    if (openMs !== undefined && !(openMs >= 0)) {
      throw new RangeError(`CircuitBreaker: trip openMs must be >= 0 (got ${openMs})`)
    }
    if (this.#isolated) return
    if (this.#state === 'open' && openMs !== undefined) {
      this.#openUntil = Math.max(this.#openUntil, Date.now() + openMs)
      return
    }
    this.#open('trip', openMs)
  }

  /** Installs (or removes) a gate that shares half-open probe slots with other instances. */
  setProbeGate(gate: ProbeGate | undefined): void {
    this.#gate = gate
  }

  /** Counts at this instant. */
  snapshot(): CircuitSnapshot {
    const state = this.state
    const window = this.#window
    if (window !== undefined) window.advance(Date.now())
    return {
      name: this.name,
      state,
      isolated: this.#isolated,
      openMs: this.#openMs,
      retryAfterMs: state === 'open' ? Math.max(0, this.#openUntil - Date.now()) : 0,
      consecutiveFailures: this.#consecutive,
      window: window && {
        calls: window.calls,
        failures: window.failures,
        slowCalls: window.slowCalls,
      },
      halfOpen: { probes: this.#probes, successes: this.#probeSuccesses },
      totals: {
        calls: this.#calls,
        successes: this.#successes,
        failures: this.#failures,
        slowCalls: this.#slowCalls,
        rejections: this.#rejections,
      },
    }
  }

  #createHandlers(): (value: unknown) => unknown {
    const generation = this.#generation
    const onValue = (value: unknown): unknown => {
      this.#succeeded(0, undefined, generation)
      return value
    }
    this.#onError = (error: unknown): never => {
      this.#failed(error, 0, undefined, generation)
      throw error
    }
    this.#onValue = onValue
    return onValue
  }

  #updateTimed(): void {
    const events = this.#events
    this.#timed =
      this.#o.slowCallMs !== Number.POSITIVE_INFINITY ||
      (events !== undefined &&
        (events.has('success') || events.has('failure') || events.has('slowCall')))
  }

  /** Closed-state call that needs a start time or a signal: one closure pair per call. */
  #run<T>(fn: Guarded<T>, signal: AbortSignal | undefined): Promise<T> {
    if (signal?.aborted) return Promise.reject(signal.reason)
    const permit = this.#admit(signal)
    let result: T | PromiseLike<T>
    try {
      result = fn(signal)
    } catch (error) {
      permit.failure(error)
      return Promise.reject(error)
    }
    return Promise.resolve(result).then(
      (value) => {
        permit.success()
        return value
      },
      (error: unknown) => {
        permit.failure(error)
        throw error
      },
    )
  }

  /** Admits a call while closed. */
  #admit(signal: AbortSignal | undefined): ClosedPermit {
    this.#calls++
    // Decided once per call: a listener added mid-call must not turn a 0 start into a duration.
    return new ClosedPermit(this, this.#generation, this.#timed ? Date.now() : -1, signal)
  }

  #executeGuarded<T>(fn: Guarded<T>, signal: AbortSignal | undefined): Promise<T> {
    const admitted = this.#admitGuarded(signal)
    return admitted instanceof ProbePermit ? runProbe(fn, admitted) : Promise.reject(admitted)
  }

  /** Admits a probe while open or half-open, or returns the rejection (already counted). */
  #admitGuarded(signal: AbortSignal | undefined): ProbePermit | CircuitOpenError {
    let now = 0
    if (this.#state === 'open') {
      now = Date.now()
      const wait = this.#openUntil - now
      if (wait > 0) return this.#rejection(wait)
      this.#toHalfOpen()
    }
    if (this.#probes >= this.#o.halfOpenMaxCalls) {
      // The oldest probe frees its slot (or reopens the circuit) first, not the latest one.
      const first = this.#probeDeadlines[0] ?? 0
      return this.#rejection(Math.max(0, first - (now || Date.now())))
    }
    const gate = this.#gate
    if (gate !== undefined && !gate.tryTake()) {
      return this.#rejection(gate.retryAfterMs?.() ?? this.#probeWaitMs)
    }
    return this.#probe(signal, gate)
  }

  #rejection(retryAfterMs: number): CircuitOpenError {
    this.#rejections++
    const error = openError(this.name, retryAfterMs)
    if (this.#events?.has('reject')) this.#emitReject(error)
    return error
  }

  #emitReject(error: CircuitOpenError): void {
    this.#events?.emit('reject', { breaker: this.name, state: this.#state, error })
  }

  #probe(signal: AbortSignal | undefined, gate: ProbeGate | undefined): ProbePermit {
    const generation = this.#generation
    this.#probes++
    this.#calls++
    const deadline = Date.now() + this.#probeWaitMs
    this.#probeDeadlines.push(deadline)
    return new ProbePermit(signal, this.name, this.#o.probeTimeoutMs, (kind, durationMs, error) => {
      gate?.give()
      this.#probeSettled(generation, deadline, kind, durationMs, error)
    })
  }

  #probeSettled(
    generation: number,
    deadline: number,
    kind: ProbeOutcome,
    durationMs: number,
    error: unknown,
  ): void {
    if (kind === 'cancelled') {
      // The caller gave up: no outcome, so the slot is freed for another probe.
      if (generation === this.#generation) this.#freeProbeSlot(deadline)
      return
    }
    const slow = this.#countSlow(durationMs)
    const failed = kind === 'timeout' || (kind === 'error' && this.#isFailure(error))
    if (failed) this.#countFailure(error, durationMs, true)
    else this.#countSuccess(durationMs, true, error)
    // A probe started before a reset, an isolation or another probe's failure is stale.
    if (generation !== this.#generation) return
    this.#freeProbeSlot(deadline)
    if (kind === 'timeout') this.#open('probe-timeout')
    else if (failed || slow) this.#open('probe-failed')
    else if (++this.#probeSuccesses >= this.#o.successThreshold) this.#close('probes-succeeded')
  }

  #freeProbeSlot(deadline: number): void {
    this.#probes--
    // Probes with equal deadlines are interchangeable here, so the first equal one is removed.
    this.#probeDeadlines.splice(this.#probeDeadlines.indexOf(deadline), 1)
  }

  #countSlow(durationMs: number): boolean {
    if (durationMs < this.#o.slowCallMs) return false
    this.#slowCalls++
    const events = this.#events
    if (events?.has('slowCall')) events.emit('slowCall', { breaker: this.name, durationMs })
    return true
  }

  #countSuccess(durationMs: number, probe: boolean, excused: unknown): void {
    this.#successes++
    const events = this.#events
    if (events?.has('success')) {
      events.emit(
        'success',
        excused === undefined
          ? { breaker: this.name, durationMs, probe }
          : { breaker: this.name, durationMs, probe, error: excused },
      )
    }
  }

  #countFailure(error: unknown, durationMs: number, probe: boolean): void {
    this.#failures++
    const events = this.#events
    if (events?.has('failure')) {
      events.emit('failure', { breaker: this.name, durationMs, probe, error })
    }
  }

  /** A bug in the user's classifier counts as a failure and is surfaced, not thrown at the caller. */
  #isFailure(error: unknown): boolean {
    try {
      return this.#o.isFailure(error)
    } catch (bug) {
      surface(bug)
      return true
    }
  }

  /**
   * Outcome of a call admitted while closed in period `generation`; ignored by the policy once the
   * state moved on, even if it has come back to closed since.
   */
  #succeeded(durationMs: number, excused: unknown, generation: number): void {
    const slow = this.#timed && this.#countSlow(durationMs)
    this.#countSuccess(durationMs, false, excused)
    if (generation !== this.#generation) return
    this.#consecutive = 0
    const window = this.#window
    if (window !== undefined) {
      window.record(false, slow, Date.now())
      // A success can complete minimumCalls with the failure rate still over the threshold.
      this.#evaluate(window)
    }
  }

  #failed(
    error: unknown,
    durationMs: number,
    signal: AbortSignal | undefined,
    generation: number,
  ): void {
    // Cancelled by our caller: says nothing about the service's health.
    if (signal?.aborted) return
    if (!this.#isFailure(error)) {
      this.#succeeded(durationMs, error, generation)
      return
    }
    const slow = this.#timed && this.#countSlow(durationMs)
    this.#countFailure(error, durationMs, false)
    if (generation !== this.#generation) return
    if (++this.#consecutive >= this.#o.failureThreshold) {
      this.#open('failures')
      return
    }
    const window = this.#window
    if (window !== undefined) {
      window.record(true, slow, Date.now())
      this.#evaluate(window)
    }
  }

  #evaluate(window: SlidingWindow): void {
    const calls = window.calls
    if (calls < this.#o.minimumCalls) return
    if (window.failures / calls >= this.#o.rateThreshold) this.#open('failure-rate')
    else if (window.slowCalls / calls >= this.#o.slowCallRate) this.#open('slow-calls')
  }

  #open(reason: StateChangeReason, openMs?: number): void {
    const o = this.#o
    this.#trips++
    const ms = openMs ?? Math.min(o.openMs * o.openMsMultiplier ** (this.#trips - 1), o.maxOpenMs)
    this.#openMs = ms
    this.#openUntil = this.#isolated ? Number.POSITIVE_INFINITY : Date.now() + ms
    this.#clearCounts()
    this.#transition('open', reason, ms)
  }

  #toHalfOpen(): void {
    this.#clearCounts()
    this.#transition('half-open', 'open-elapsed', undefined)
  }

  #close(reason: StateChangeReason): void {
    this.#trips = 0
    this.#openMs = this.#o.openMs
    this.#clearCounts()
    this.#transition('closed', reason, undefined)
  }

  #clearCounts(): void {
    this.#consecutive = 0
    this.#window?.reset()
    this.#probes = 0
    this.#probeDeadlines = []
    this.#probeSuccesses = 0
  }

  #transition(to: CircuitState, reason: StateChangeReason, openMs: number | undefined): void {
    const from = this.#state
    this.#state = to
    this.#generation++
    // The shared closed-state handlers belong to the period that just ended.
    this.#onValue = undefined
    const events = this.#events
    if (from === to || !events?.has('stateChange')) return
    events.emit(
      'stateChange',
      openMs === undefined
        ? { breaker: this.name, from, to, reason }
        : { breaker: this.name, from, to, reason, openMs },
    )
  }
}

/** A call admitted while closed, in period `generation`; reports once, later reports are ignored. */
class ClosedPermit implements BreakerPermit {
  readonly probe = false
  readonly signal: AbortSignal | undefined
  readonly #breaker: CircuitBreaker
  readonly #generation: number
  readonly #started: number
  #done = false

  constructor(
    breaker: CircuitBreaker,
    generation: number,
    started: number,
    signal: AbortSignal | undefined,
  ) {
    this.#breaker = breaker
    this.#generation = generation
    this.#started = started
    this.signal = signal
  }

  success(): void {
    if (this.#done) return
    this.#done = true
    succeeded(this.#breaker, elapsed(this.#started), this.#generation)
  }

  failure(error: unknown): void {
    if (this.#done) return
    this.#done = true
    failed(this.#breaker, error, elapsed(this.#started), this.signal, this.#generation)
  }
}

/** Milliseconds since `started`, or 0 for a call that was not timed (`started` is -1). */
function elapsed(started: number): number {
  return started < 0 ? 0 : Date.now() - started
}
