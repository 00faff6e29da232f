import * as crypto from 'node:crypto'

type OneShot = (algorithm: string, data: string | Uint8Array, encoding: 'base64url') => string

// Node >= 20.12 hashes a small input in one call, without a Hash object to build and collect
// (two per request cost several µs under load, measured in bench/); older 20.x fall back.
const oneShot = (crypto as unknown as { hash?: OneShot }).hash

/** SHA-256 of `data` (a string is hashed as UTF-8), base64url-encoded. */
export const sha256: (data: string | Uint8Array) => string = oneShot
  ? (data) => oneShot('sha256', data, 'base64url')
  : (data) => crypto.createHash('sha256').update(data).digest('base64url')
