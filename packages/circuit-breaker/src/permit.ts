/**
 * One call admitted by {@link CircuitBreaker.acquire}: run the work with {@link BreakerPermit.signal},
 * then report how it ended with exactly one of {@link BreakerPermit.success} or
 * {@link BreakerPermit.failure}. Only the first report counts; later ones are ignored, so a probe
 * the breaker already settled on `probeTimeoutMs` can still be reported without effect.
 */
export interface BreakerPermit {
  /**
   * The signal to give the work: the caller's, or while half-open the probe's own signal, which
   * also aborts (with `CircuitProbeTimeoutError`) when the probe outlives `probeTimeoutMs`.
   */
  readonly signal: AbortSignal | undefined
  /** True when this call is a half-open probe. */
  readonly probe: boolean
  /** Reports that the work succeeded. */
  success(): void
  /**
   * Reports that the work failed with `error`, classified by `isFailure` as `execute()` does: an
   * excused error counts as a success, and an error after the caller's signal aborted counts nothing.
   */
  failure(error: unknown): void
}
