/** How the computed delay is randomised (AWS "Exponential Backoff and Jitter"). */
export type Jitter = 'none' | 'full' | 'equal' | 'decorrelated'

/** Delay = min(maxMs, initialMs × multiplier^(n−1)) before retry n, then jittered. */
export interface ExponentialBackoff {
  /** Exponential (the default shape). @default 'exponential' */
  kind?: 'exponential' | undefined
  /** Base delay before the first retry. @default 100 */
  initialMs?: number | undefined
  /** Growth factor per retry (decorrelated jitter always uses 3, as in the AWS article). @default 2 */
  multiplier?: number | undefined
  /** Cap on every delay. @default 10_000 */
  maxMs?: number | undefined
  /** Randomisation. @default 'full' */
  jitter?: Jitter | undefined
}

/** The same delay before every retry. */
export interface ConstantBackoff {
  /** Constant. */
  kind: 'constant'
  /** Delay before each retry. @default 1_000 */
  delayMs?: number | undefined
  /** Randomisation. @default 'none' */
  jitter?: 'none' | 'full' | 'equal' | undefined
}

/** Delay = min(maxMs, initialMs + incrementMs × (n−1)) before retry n. */
export interface LinearBackoff {
  /** Linear. */
  kind: 'linear'
  /** Delay before the first retry. @default 100 */
  initialMs?: number | undefined
  /** Added per retry. @default initialMs */
  incrementMs?: number | undefined
  /** Cap on every delay. @default 10_000 */
  maxMs?: number | undefined
  /** Randomisation. @default 'none' */
  jitter?: 'none' | 'full' | 'equal' | undefined
}

/** Custom delay before the retry that follows failed attempt `attempt` (1-based); negatives mean 0. */
export type BackoffFunction = (attempt: number, error: unknown) => number

/** A backoff shape: exponential (the default), constant, linear, or a custom function. */
export type Backoff = ExponentialBackoff | ConstantBackoff | LinearBackoff | BackoffFunction

/**
 * The delay in ms to wait after failed attempt `attempt` (1-based). `previousMs` is the delay used
 * before this one (decorrelated jitter grows from it); `random` returns a number in [0, 1).
 * @example backoffDelay({ initialMs: 100, jitter: 'none' }, 3, err, 200, Math.random) // 400
 */
export function backoffDelay(
  backoff: Backoff,
  attempt: number,
  error: unknown,
  previousMs: number | undefined,
  random: () => number,
): number {
  if (typeof backoff === 'function') {
    const ms = backoff(attempt, error)
    return Number.isFinite(ms) && ms > 0 ? ms : 0
  }
  if (backoff.kind === 'constant') {
    return jitter(
      nonNegative(backoff.delayMs ?? 1_000, 'delayMs'),
      backoff.jitter ?? 'none',
      random,
    )
  }
  if (backoff.kind === 'linear') {
    const initialMs = nonNegative(backoff.initialMs ?? 100, 'initialMs')
    const incrementMs = nonNegative(backoff.incrementMs ?? initialMs, 'incrementMs')
    const maxMs = nonNegative(backoff.maxMs ?? 10_000, 'maxMs')
    const base = Math.min(maxMs, initialMs + incrementMs * (attempt - 1))
    return jitter(base, backoff.jitter ?? 'none', random)
  }
  const initialMs = nonNegative(backoff.initialMs ?? 100, 'initialMs')
  const maxMs = nonNegative(backoff.maxMs ?? 10_000, 'maxMs')
  const mode = backoff.jitter ?? 'full'
  if (mode === 'decorrelated') {
    // sleep = min(cap, random_between(base, previous_sleep × 3)), starting from previous = base.
    const upper = Math.max(initialMs, (previousMs ?? initialMs) * 3)
    return Math.min(maxMs, Math.floor(initialMs + random() * (upper - initialMs)))
  }
  const multiplier = multiplierOf(backoff)
  // 0 × Infinity is NaN once multiplier^(n−1) overflows; a zero base stays zero.
  const base = initialMs === 0 ? 0 : Math.min(maxMs, initialMs * multiplier ** (attempt - 1))
  return jitter(base, mode, random)
}

/** @internal Throws the RangeError {@link backoffDelay} would, before any attempt is made. */
export function validateBackoff(backoff: Backoff): void {
  if (typeof backoff === 'function') return
  if (backoff.kind === 'constant') {
    if (backoff.delayMs !== undefined) nonNegative(backoff.delayMs, 'delayMs')
    return
  }
  // Straight-line: retry() checks its options on every call.
  if (backoff.initialMs !== undefined) nonNegative(backoff.initialMs, 'initialMs')
  if (backoff.maxMs !== undefined) nonNegative(backoff.maxMs, 'maxMs')
  if (backoff.kind === 'linear') {
    if (backoff.incrementMs !== undefined) nonNegative(backoff.incrementMs, 'incrementMs')
  } else multiplierOf(backoff)
}

function multiplierOf(backoff: ExponentialBackoff): number {
  const multiplier = backoff.multiplier ?? 2
  if (!(multiplier >= 1)) throw new RangeError(`backoff.multiplier must be >= 1, got ${multiplier}`)
  return multiplier
}

function jitter(base: number, mode: 'none' | 'full' | 'equal', random: () => number): number {
  if (mode === 'full') return Math.floor(random() * base)
  if (mode === 'equal') return Math.floor(base / 2 + random() * (base / 2))
  return base
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0)) throw new RangeError(`backoff.${name} must be >= 0, got ${value}`)
  return value
}
