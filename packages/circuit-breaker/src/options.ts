import { isServerFailure } from './is-failure.js'
import type { SlidingWindowOptions } from './sliding-window.js'

/** The three states of a breaker. */
export type CircuitState = 'closed' | 'open' | 'half-open'

/** Failure-rate policy: open when this share of the windowed calls failed (resilience4j's model). */
export interface FailureRateOptions {
  /** Failure share in (0, 1] at or above which the circuit opens. */
  threshold: number
  /** Calls the window must hold before any decision; capped at a count window's size. @default 10 */
  minimumCalls?: number | undefined
  /** The sliding window the rate is computed over. @default { kind: 'count', size: 20 } */
  window?: SlidingWindowOptions | undefined
}

/** Options of a {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** Name used in errors, events, metrics, the registry and Redis keys. @default 'default' */
  name?: string | undefined
  /** Consecutive failures that open the circuit (used when `failureRate` is absent). @default 5 */
  failureThreshold?: number | undefined
  /** Failure-rate policy over a sliding window; replaces `failureThreshold` when set. */
  failureRate?: FailureRateOptions | undefined
  /** A call taking at least this long counts as slow. Enables the slow-call policy. */
  slowCallMs?: number | undefined
  /** Slow-call share in (0, 1] at or above which the circuit opens (needs `slowCallMs`). @default 1 */
  slowCallRate?: number | undefined
  /** How long the circuit stays open before half-open. @default 30_000 */
  openMs?: number | undefined
  /** Cap for the open time, which multiplies by `openMsMultiplier` on each trip without a close in between. @default openMs (no growth) */
  maxOpenMs?: number | undefined
  /** Growth factor of the open time on repeated trips (used when `maxOpenMs > openMs`). @default 2 */
  openMsMultiplier?: number | undefined
  /** Probes allowed at once while half-open; other callers are rejected at once. @default 1 */
  halfOpenMaxCalls?: number | undefined
  /** Probe successes that close the circuit. @default 1 */
  successThreshold?: number | undefined
  /** A probe still running after this long counts as failed and frees its slot; `Infinity` for none. @default 10_000 */
  probeTimeoutMs?: number | undefined
  /** Which errors count as failures; others count as successes. @default {@link isServerFailure} */
  isFailure?: ((error: unknown) => boolean) | undefined
}

/** Options after defaults and validation; shared by reference, never mutated. */
export interface ResolvedOptions {
  /** Consecutive failures that open the circuit; `Infinity` under a failure-rate policy. */
  readonly failureThreshold: number
  /** Failure share that opens the circuit; `Infinity` without a failure-rate policy. */
  readonly rateThreshold: number
  /** Calls the window must hold before a rate decision. */
  readonly minimumCalls: number
  /** The sliding window, when a failure-rate or slow-call policy is set. */
  readonly window: SlidingWindowOptions | undefined
  /** Duration from which a call is slow; `Infinity` without a slow-call policy. */
  readonly slowCallMs: number
  /** Slow-call share that opens the circuit; `Infinity` without a slow-call policy. */
  readonly slowCallRate: number
  /** Open time of a first trip. */
  readonly openMs: number
  /** Cap of the growing open time. */
  readonly maxOpenMs: number
  /** Growth factor of the open time on repeated trips. */
  readonly openMsMultiplier: number
  /** Probes allowed at once while half-open. */
  readonly halfOpenMaxCalls: number
  /** Probe successes that close the circuit. */
  readonly successThreshold: number
  /** Time after which a running probe fails. */
  readonly probeTimeoutMs: number
  /** Which errors count as failures. */
  readonly isFailure: (error: unknown) => boolean
}

/** The longest delay a Node timer keeps (2³¹−1 ms); longer ones fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

const DEFAULT_WINDOW: SlidingWindowOptions = { kind: 'count', size: 20 }

function check(ok: boolean, message: string): void {
  if (!ok) throw new RangeError(`CircuitBreaker: ${message}`)
}

/** Applies defaults and validates `options`. */
export function resolveOptions(options: CircuitBreakerOptions): ResolvedOptions {
  const rate = options.failureRate
  const slowCallMs = options.slowCallMs ?? Number.POSITIVE_INFINITY
  const windowed = rate !== undefined || options.slowCallMs !== undefined
  const window = windowed ? (rate?.window ?? DEFAULT_WINDOW) : undefined
  const openMs = options.openMs ?? 30_000
  const resolved: ResolvedOptions = {
    failureThreshold: rate ? Number.POSITIVE_INFINITY : (options.failureThreshold ?? 5),
    rateThreshold: rate ? rate.threshold : Number.POSITIVE_INFINITY,
    minimumCalls: Math.min(
      rate?.minimumCalls ?? 10,
      window?.kind === 'count' ? window.size : Number.POSITIVE_INFINITY,
    ),
    window,
    slowCallMs,
    slowCallRate:
      options.slowCallMs === undefined ? Number.POSITIVE_INFINITY : (options.slowCallRate ?? 1),
    openMs,
    maxOpenMs: Math.max(openMs, options.maxOpenMs ?? openMs),
    openMsMultiplier: options.openMsMultiplier ?? 2,
    halfOpenMaxCalls: options.halfOpenMaxCalls ?? 1,
    successThreshold: options.successThreshold ?? 1,
    probeTimeoutMs: options.probeTimeoutMs ?? 10_000,
    isFailure: options.isFailure ?? isServerFailure,
  }
  check(resolved.failureThreshold >= 1, 'failureThreshold must be >= 1')
  check(
    !rate || (rate.threshold > 0 && rate.threshold <= 1),
    'failureRate.threshold must be in (0, 1]',
  )
  check(resolved.minimumCalls >= 1, 'failureRate.minimumCalls must be >= 1')
  check(slowCallMs > 0, 'slowCallMs must be > 0')
  check(
    options.slowCallMs === undefined || (resolved.slowCallRate > 0 && resolved.slowCallRate <= 1),
    'slowCallRate must be in (0, 1]',
  )
  check(openMs >= 0, 'openMs must be >= 0')
  check(resolved.openMsMultiplier >= 1, 'openMsMultiplier must be >= 1')
  check(
    Number.isInteger(resolved.halfOpenMaxCalls) && resolved.halfOpenMaxCalls >= 1,
    'halfOpenMaxCalls must be an integer >= 1',
  )
  check(
    Number.isInteger(resolved.successThreshold) && resolved.successThreshold >= 1,
    'successThreshold must be an integer >= 1',
  )
  check(
    resolved.probeTimeoutMs === Number.POSITIVE_INFINITY ||
      (resolved.probeTimeoutMs > 0 && resolved.probeTimeoutMs <= MAX_TIMER_MS),
    `probeTimeoutMs must be in (0, ${MAX_TIMER_MS}] or Infinity`,
  )
  return resolved
}
