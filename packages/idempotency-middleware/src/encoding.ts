import { promisify } from 'node:util'
import { brotliDecompress, gunzip, inflate } from 'node:zlib'
import type { ReplayResponse } from './core.js'
import { IdempotencyRecordUnreadableError } from './errors.js'

// The codings compression middleware writes (compression, koa-compress); a body stored in any
// other coding is replayed as it is. Asynchronous: a stored body of up to maxStoredBodyBytes can
// inflate to many times that, which zlib's sync calls would decode on the event loop.
const DECODERS = new Map<string, (bytes: Uint8Array) => Promise<Buffer>>([
  ['gzip', promisify(gunzip)],
  ['x-gzip', promisify(gunzip)],
  ['deflate', promisify(inflate)],
  ['br', promisify(brotliDecompress)],
])

/**
 * The coding to take off a replay before it goes to this client: a body stored encoded
 * (compression ran inside the capture) keeps its coding for a client that accepts it; any other
 * client (curl without `--compressed`, or one without brotli) gets it decoded. Undefined when the
 * replay goes out as stored.
 */
export function codingToRemove(
  response: ReplayResponse,
  accepts: (coding: string) => boolean,
): string | undefined {
  const coding = response.headers['content-encoding']
  if (typeof coding !== 'string') return undefined
  const name = coding.trim().toLowerCase()
  return DECODERS.has(name) && !accepts(name) ? name : undefined
}

/**
 * The replay with `coding` (from {@link codingToRemove}) decoded and its `content-encoding`
 * dropped. Rejects with {@link IdempotencyRecordUnreadableError} when the bytes do not decode.
 */
export async function removeCoding(
  response: ReplayResponse,
  coding: string,
): Promise<ReplayResponse> {
  const decode = DECODERS.get(coding) as (bytes: Uint8Array) => Promise<Buffer>
  const { 'content-encoding': _, ...headers } = response.headers
  try {
    return { status: response.status, headers, body: await decode(response.body) }
  } catch (error) {
    throw new IdempotencyRecordUnreadableError(
      `The stored response for this idempotency key is not valid ${coding}`,
      { cause: error },
    )
  }
}
