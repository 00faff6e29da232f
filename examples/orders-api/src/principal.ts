import { createHash } from 'node:crypto'

/** The header that carries the client's API key; only {@link principalId} reads its value. */
export const apiKeyHeader = 'x-api-key'

/**
 * The client's principal id, `key_` + the first 16 hex digits of SHA-256(API key). Orders are
 * owned by it and idempotency records scoped by it, so the key itself is never echoed or stored.
 * @example principalId('sk_test_alice') // 'key_…'
 */
export function principalId(apiKey: string): string {
  return `key_${createHash('sha256').update(apiKey).digest('hex').slice(0, 16)}`
}
