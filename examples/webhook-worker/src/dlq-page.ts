/** The largest `limit` of one `GET /dlq` page, and the default. */
export const maxDlqPageSize = 100

/** Which slice of the dead-letter queue to show: `start` jobs skipped, at most `limit` shown. */
export interface DlqPage {
  start: number
  limit: number
}

/** A query parameter that is not a plain integer in range; the route answers it with a 400. */
export class DlqQueryError extends Error {
  override readonly name = 'DlqQueryError'
  readonly code = 'DLQ_QUERY_INVALID'
}

// Digits only: Number() would also take '', ' 5', '1e2', '0x10' and '5.0'.
function integer(query: Record<string, unknown>, name: string, min: number, max: number) {
  const raw = query[name]
  if (raw === undefined) return undefined
  const value = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : Number.NaN
  if (!(value >= min && value <= max)) {
    throw new DlqQueryError(`\`${name}\` must be one integer from ${min} to ${max}.`)
  }
  return value
}

/** Reads `?start=&limit=`; throws {@link DlqQueryError} for a value out of range or repeated. */
export function parseDlqPage(query: Record<string, unknown>): DlqPage {
  return {
    start: integer(query, 'start', 0, Number.MAX_SAFE_INTEGER) ?? 0,
    limit: integer(query, 'limit', 1, maxDlqPageSize) ?? maxDlqPageSize,
  }
}

/** The URL of the page after `page`. */
export function nextDlqPage(page: DlqPage): string {
  return `/dlq?start=${page.start + page.limit}&limit=${page.limit}`
}
