import { IdempotencyConfigError } from './errors.js'

/** The longest delay a Node timer keeps (2³¹−1 ms); longer ones fire after 1 ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** The options every guard (middleware or worker) times and sizes itself by. */
export interface CheckedOptions {
  ttlMs?: number | undefined
  leaseMs?: number | undefined
  maxLeaseHoldMs?: number | undefined
  storeTimeoutMs?: number | undefined
  maxStoredBodyBytes?: number | undefined
  onConcurrent?: 'reject' | { waitMs: number } | undefined
  onStoreError?: 'fail-closed' | 'fail-open' | undefined
}

/**
 * Refuses values that would quietly switch the guard off: `Number(process.env.X)` gives NaN, and a
 * lease or TTL of 0 or NaN lets every duplicate run, or locks the key on Redis.
 */
export function checkOptions(options: CheckedOptions): void {
  const { ttlMs, leaseMs, storeTimeoutMs, maxLeaseHoldMs, maxStoredBodyBytes } = options
  between('ttlMs', ttlMs, 1, Number.MAX_SAFE_INTEGER)
  between('leaseMs', leaseMs, 1, MAX_TIMER_MS)
  between('storeTimeoutMs', storeTimeoutMs, 1, MAX_TIMER_MS)
  between('maxLeaseHoldMs', maxLeaseHoldMs, 0, Number.POSITIVE_INFINITY)
  between('maxStoredBodyBytes', maxStoredBodyBytes, 0, Number.POSITIVE_INFINITY)
  const concurrent = options.onConcurrent
  if (concurrent !== undefined && concurrent !== 'reject') {
    if (typeof concurrent !== 'object' || concurrent === null) {
      throw new IdempotencyConfigError(
        `onConcurrent must be 'reject' or { waitMs } (got ${String(concurrent)})`,
      )
    }
    between('onConcurrent.waitMs', concurrent.waitMs, 0, MAX_TIMER_MS)
  }
  const onStoreError = options.onStoreError
  if (
    onStoreError !== undefined &&
    onStoreError !== 'fail-closed' &&
    onStoreError !== 'fail-open'
  ) {
    throw new IdempotencyConfigError(
      `onStoreError must be 'fail-closed' or 'fail-open' (got ${String(onStoreError)})`,
    )
  }
}

function between(name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return
  if (typeof value !== 'number' || !(value >= min && value <= max)) {
    throw new IdempotencyConfigError(`${name} must be a number in [${min}, ${max}] (got ${value})`)
  }
}
