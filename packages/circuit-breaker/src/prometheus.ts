import { Counter, Gauge, Histogram, type Registry, register } from 'prom-client'
import type { CircuitBreaker } from './circuit-breaker.js'
import type { CircuitState } from './options.js'
import type { BreakerRegistry } from './registry.js'

/** Options of {@link CircuitBreakerMetrics}. */
export interface CircuitBreakerMetricsOptions {
  /** The prom-client registry the metrics are registered in. @default prom-client's global `register` */
  registry?: Registry | undefined
  /** Prefix of every metric name. @default 'circuit_breaker_' */
  prefix?: string | undefined
  /** Buckets of the call-duration histogram, in seconds. @default [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] */
  buckets?: number[] | undefined
}

const STATES: CircuitState[] = ['closed', 'open', 'half-open']

/**
 * Prometheus metrics for breakers: a state gauge (1 for the current state, 0 for the others),
 * counters of calls, successes, failures, slow calls and rejections, and a call-duration
 * histogram, all labelled by breaker name. Create one per prom-client registry.
 *
 * @example
 * const metrics = new CircuitBreakerMetrics({ registry })
 * metrics.instrument(defaultRegistry) // every breaker, now and later
 */
export class CircuitBreakerMetrics {
  readonly #breakers = new Set<CircuitBreaker>()
  readonly #calls: Counter<'breaker'>
  readonly #successes: Counter<'breaker'>
  readonly #failures: Counter<'breaker'>
  readonly #slowCalls: Counter<'breaker'>
  readonly #rejections: Counter<'breaker' | 'state'>
  readonly #duration: Histogram<'breaker' | 'outcome'>
  readonly #state: Gauge<'breaker' | 'state'>

  constructor(options: CircuitBreakerMetricsOptions = {}) {
    const registers = [options.registry ?? register]
    const prefix = options.prefix ?? 'circuit_breaker_'
    const breakers = this.#breakers
    this.#state = new Gauge({
      name: `${prefix}state`,
      help: 'Circuit state: 1 for the current state of each breaker, 0 for the others',
      labelNames: ['breaker', 'state'],
      registers,
      collect() {
        // Read at scrape time: `state` also turns an elapsed open period into half-open.
        for (const breaker of breakers) {
          const current = breaker.state
          for (const state of STATES) {
            this.set({ breaker: breaker.name, state }, state === current ? 1 : 0)
          }
        }
      },
    })
    const counter = (name: string, help: string) =>
      new Counter({ name: `${prefix}${name}`, help, labelNames: ['breaker'], registers })
    this.#calls = counter('calls_total', 'Calls that ran through the breaker and settled')
    this.#successes = counter(
      'successes_total',
      'Calls that succeeded (or failed with an excused error)',
    )
    this.#failures = counter('failures_total', 'Calls that failed and counted against the breaker')
    this.#slowCalls = counter('slow_calls_total', 'Calls that took at least slowCallMs')
    this.#rejections = new Counter({
      name: `${prefix}rejections_total`,
      help: 'Calls rejected without running because the circuit was open or half-open and full',
      labelNames: ['breaker', 'state'],
      registers,
    })
    this.#duration = new Histogram({
      name: `${prefix}call_duration_seconds`,
      help: 'Duration of calls that ran through the breaker',
      labelNames: ['breaker', 'outcome'],
      buckets: options.buckets ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    })
  }

  /**
   * Starts recording `target`: a breaker, or every breaker of a registry now and later (one the
   * registry forgets through `delete()`/`clear()` stops being recorded and loses its series).
   * Returns a function that stops recording and removes the breakers' series.
   */
  instrument(target: CircuitBreaker | BreakerRegistry): () => void {
    if (!('execute' in target)) {
      const detachers = new Map<CircuitBreaker, () => void>()
      const stop = target.observe(
        (breaker) => detachers.set(breaker, this.instrument(breaker)),
        (breaker) => {
          detachers.get(breaker)?.()
          detachers.delete(breaker)
        },
      )
      return () => {
        stop()
        for (const detach of detachers.values()) detach()
        detachers.clear()
      }
    }
    const breaker = target
    if (this.#breakers.has(breaker)) return () => {}
    this.#breakers.add(breaker)
    const labels = { breaker: breaker.name }
    const offs = [
      breaker.on('success', (e) => {
        this.#calls.inc(labels)
        this.#successes.inc(labels)
        this.#duration.observe({ breaker: e.breaker, outcome: 'success' }, e.durationMs / 1000)
      }),
      breaker.on('failure', (e) => {
        this.#calls.inc(labels)
        this.#failures.inc(labels)
        this.#duration.observe({ breaker: e.breaker, outcome: 'failure' }, e.durationMs / 1000)
      }),
      breaker.on('slowCall', () => this.#slowCalls.inc(labels)),
      breaker.on('reject', (e) => this.#rejections.inc({ breaker: e.breaker, state: e.state })),
    ]
    // Zero-valued series from the start, so rate() sees the first increment.
    for (const c of [this.#calls, this.#successes, this.#failures, this.#slowCalls])
      c.inc(labels, 0)
    return () => {
      for (const off of offs) off()
      if (!this.#breakers.delete(breaker)) return
      // Series are keyed by name: keep them if a successor of the same name is recorded already.
      for (const other of this.#breakers) if (other.name === breaker.name) return
      for (const c of [this.#calls, this.#successes, this.#failures, this.#slowCalls])
        c.remove(labels)
      for (const state of STATES) {
        this.#state.remove({ breaker: breaker.name, state })
        this.#rejections.remove({ breaker: breaker.name, state })
      }
      for (const outcome of ['success', 'failure']) {
        this.#duration.remove({ breaker: breaker.name, outcome })
      }
    }
  }
}
