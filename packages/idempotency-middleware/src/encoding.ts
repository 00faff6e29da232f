import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import type { ReplayResponse } from './core.js'
import { IdempotencyRecordUnreadableError } from './errors.js'

// The codings compression middleware writes (compression, koa-compress); a body stored in any
// other coding is replayed as it is.
const DECODERS = new Map<string, (bytes: Uint8Array) => Uint8Array>([
  ['gzip', gunzipSync],
  ['x-gzip', gunzipSync],
  ['deflate', inflateSync],
  ['br', brotliDecompressSync],
])

/**
 * The replay for this client. A body stored encoded (compression ran inside the capture) keeps
 * its coding for a client that accepts it; any other client (a retry from curl, or from a
 * client without brotli) gets it decoded, without `content-encoding`. Throws
 * {@link IdempotencyRecordUnreadableError} when the stored bytes do not decode.
 */
export function replayForClient(
  response: ReplayResponse,
  accepts: (coding: string) => boolean,
): ReplayResponse {
  const coding = response.headers['content-encoding']
  if (typeof coding !== 'string') return response
  const name = coding.trim().toLowerCase()
  const decode = DECODERS.get(name)
  if (decode === undefined || accepts(name)) return response
  const { 'content-encoding': _, ...headers } = response.headers
  let body: Uint8Array
  try {
    body = decode(response.body)
  } catch (error) {
    throw new IdempotencyRecordUnreadableError(
      `The stored response for this idempotency key is not valid ${name}`,
      { cause: error },
    )
  }
  return { status: response.status, headers, body }
}
