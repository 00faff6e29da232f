import type { DlqPosition } from './queue.js'

// Bumped when the encoding changes, so that a cursor of the old format is refused, not misread.
const version = 1
// Far above any cursor we write (a timestamp and a job id); bounds the work on a hostile one.
const maxCursorLength = 512
const maxIdLength = 256

/** A `cursor` that this server did not write: malformed, edited, or of another version. */
export class DlqCursorError extends Error {
  override readonly name = 'DlqCursorError'
  readonly code = 'DLQ_CURSOR_INVALID'
}

/** The opaque `cursor` that resumes a `GET /dlq` page strictly after `position`. */
export function encodeDlqCursor(position: DlqPosition): string {
  return Buffer.from(JSON.stringify([version, position.failedAt, position.id])).toString(
    'base64url',
  )
}

/**
 * Reads a cursor of {@link encodeDlqCursor}; throws {@link DlqCursorError} for anything else.
 * Only the canonical encoding is taken (re-encoding must give the same text), so a cursor
 * cannot be varied or padded into one that reads differently.
 */
export function decodeDlqCursor(cursor: string): DlqPosition {
  if (cursor.length > maxCursorLength || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid()
  let decoded: unknown
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'))
  } catch {
    throw invalid()
  }
  if (!Array.isArray(decoded) || decoded.length !== 3 || decoded[0] !== version) throw invalid()
  const [, failedAt, id] = decoded as unknown[]
  if (
    typeof failedAt !== 'number' ||
    !Number.isSafeInteger(failedAt) ||
    failedAt < 0 ||
    typeof id !== 'string' ||
    id.length === 0 ||
    id.length > maxIdLength
  ) {
    throw invalid()
  }
  const position = { failedAt, id }
  if (encodeDlqCursor(position) !== cursor) throw invalid()
  return position
}

const invalid = () =>
  new DlqCursorError('`cursor` is not one this server sent: follow `next` as given.')
