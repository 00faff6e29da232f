import { constants } from 'node:buffer'
import { promisify } from 'node:util'
import { brotliDecompress, gunzip, inflate, type ZlibOptions } from 'node:zlib'
import { type ReplayResponse, withoutBody } from './core.js'
import { IdempotencyRecordUnreadableError } from './errors.js'

type Decode = (bytes: Uint8Array, options: ZlibOptions) => Promise<Buffer>

// The codings compression middleware writes (compression, koa-compress); a body stored in any
// other coding is replayed as it is. Asynchronous: a stored body can inflate to many times its
// size, which zlib's sync calls would decode on the event loop.
const DECODERS = new Map<string, Decode>([
  ['gzip', promisify(gunzip) as Decode],
  ['x-gzip', promisify(gunzip) as Decode],
  ['deflate', promisify(inflate) as Decode],
  ['br', promisify(brotliDecompress) as Decode],
])

/**
 * The coding of a replay's stored body that this guard can take off, if any: the replay then
 * depends on the retry's `Accept-Encoding` (and says so with `Vary`).
 */
export function negotiableCoding(response: ReplayResponse): string | undefined {
  const coding = response.headers['content-encoding']
  if (typeof coding !== 'string') return undefined
  const name = coding.trim().toLowerCase()
  return DECODERS.has(name) ? name : undefined
}

/**
 * The replay with `coding` (from {@link negotiableCoding}) decoded and its `content-encoding`
 * dropped, for a client that does not accept that coding. A body that decodes to more than
 * `maxBytes` is omitted, as one recorded that large would have been (`maxStoredBodyBytes`).
 * Rejects with {@link IdempotencyRecordUnreadableError} when the bytes do not decode.
 */
export async function removeCoding(
  response: ReplayResponse,
  coding: string,
  maxBytes: number,
): Promise<ReplayResponse> {
  const decode = DECODERS.get(coding) as Decode
  const { 'content-encoding': _, ...headers } = response.headers
  try {
    const maxOutputLength = Math.min(constants.MAX_LENGTH, Math.max(1, maxBytes))
    const body = await decode(response.body, { maxOutputLength })
    return { status: response.status, headers, body }
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return withoutBody(response)
    throw new IdempotencyRecordUnreadableError(
      `The stored response for this idempotency key is not valid ${coding}`,
      { cause: error },
    )
  }
}
