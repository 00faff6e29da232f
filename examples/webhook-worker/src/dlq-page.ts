import { DlqCursorError, decodeDlqCursor, encodeDlqCursor } from './dlq-cursor.js'
import type { DlqPosition } from './queue.js'

/** The largest `limit` of one `GET /dlq` page, and the default. */
export const maxDlqPageSize = 100

/** Which slice of the dead-letter queue to show: at most `limit` jobs, strictly after `after`. */
export interface DlqPage {
  /** The last job of the previous page; undefined for the first page. */
  after: DlqPosition | undefined
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

/**
 * Reads `?limit=&cursor=`; throws {@link DlqQueryError} for a bad `limit` and
 * {@link DlqCursorError} for a cursor this server did not send.
 */
export function parseDlqPage(query: Record<string, unknown>): DlqPage {
  // Refused, not ignored: ignored, the offset of an old link would serve page 1 for ever.
  if (query.start !== undefined) {
    throw new DlqQueryError('`start` is no longer taken: follow `next`, which carries a `cursor`.')
  }
  const cursor = query.cursor
  if (cursor !== undefined && typeof cursor !== 'string') {
    throw new DlqCursorError('`cursor` must be given once.')
  }
  return {
    after: cursor === undefined ? undefined : decodeDlqCursor(cursor),
    limit: integer(query, 'limit', 1, maxDlqPageSize) ?? maxDlqPageSize,
  }
}

/** The URL of the page after `page`, whose last job is `last`. */
export function nextDlqPage(page: DlqPage, last: DlqPosition): string {
  return `/dlq?limit=${page.limit}&cursor=${encodeDlqCursor(last)}`
}
