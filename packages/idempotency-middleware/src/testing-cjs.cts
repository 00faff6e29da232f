import type { IdempotencyStore } from './store.js'

/** Options of {@link describeStore}. */
export interface DescribeStoreOptions {
  /** Lease used by the expiry tests; raise it for slow remote stores. @default 150 */
  leaseMs?: number
}

/**
 * The conformance suite needs vitest, which refuses to load from CommonJS; import
 * `@steadfast/idempotency-middleware/testing` from an ESM test file instead.
 */
export function describeStore(
  _name: string,
  _makeStore: () => IdempotencyStore | Promise<IdempotencyStore>,
  _options?: DescribeStoreOptions,
): void {
  throw new Error(
    'describeStore() runs under vitest, which is ESM only: import it from an ESM test file',
  )
}
