import { type CircuitBreakerOptions, mergeOptions } from '@steadfast/circuit-breaker'
import { isRetryable } from './classify.js'

/** Options of a per-model breaker `claude:<model>` (the name is the model's). */
export type ModelBreakerOptions = Omit<CircuitBreakerOptions, 'name'>

// The breaker's generic 10 s probe timeout is shorter than a long generation: a healthy but slow
// half-open probe would time out, fail the call and re-open the circuit.
const PROBE_TIMEOUT_MS = 120_000

const COMMON: ModelBreakerOptions = { isFailure: isRetryable, probeTimeoutMs: PROBE_TIMEOUT_MS }

// A failure rate, not a run of consecutive failures: under many concurrent callers a run of five
// happens by chance at a 30% error rate, and a tripped primary would then only cost answers.
const DEFAULT_BREAKER: ModelBreakerOptions = {
  ...COMMON,
  failureRate: { threshold: 0.6, minimumCalls: 20, window: { kind: 'count', size: 50 } },
}

/**
 * The adapter's breaker defaults with `breaker` laid over them at every depth (the registry's
 * rules: `undefined` keeps a default, a window of another `kind` replaces it whole).
 */
export function modelBreakerOptions(breaker: ModelBreakerOptions | undefined): ModelBreakerOptions {
  // A breaker ignores `failureThreshold` while any `failureRate` is set: keeping our default rate
  // would silently discard the consecutive-failures policy the user asked for.
  const consecutive = breaker?.failureThreshold !== undefined && breaker.failureRate === undefined
  return mergeOptions(consecutive ? COMMON : DEFAULT_BREAKER, breaker)
}
