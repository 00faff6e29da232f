/** An RFC 9457 problem details body. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
}

/** Builds the problem+json body the orders API answers errors with. */
export function problem(status: number, title: string, detail: string): Problem {
  return { type: `https://steadfast.dev/problems/orders/${status}`, title, status, detail }
}

/** The API key header that scopes idempotency keys and orders to one client. */
export const apiKeyHeader = 'x-api-key'
