import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import { asBuffer } from './bytes.js'
import { IdempotencyConfigError } from './errors.js'
import type { StoredResponse } from './store.js'

/** Seals stored responses at rest and opens them for replay. `aad` binds a record to its key. */
export interface ResponseEncryption {
  /** Encrypts a response before it reaches the store. */
  seal(response: StoredResponse, aad: string): StoredResponse
  /** Decrypts a stored response; throws when it cannot (the guard then fails closed). */
  open(stored: StoredResponse, aad: string): StoredResponse
}

/** Options of {@link aesGcmEncryption}. */
export interface AesGcmEncryptionOptions {
  /** Keys by id: 32 bytes each, as bytes or base64. Keep old ids to read older records. */
  keys: Record<string, Uint8Array | string>
  /** Id of the key that seals new records. */
  currentKeyId: string
}

const MAGIC = Buffer.from('SFE1')
const IV_BYTES = 12
const TAG_BYTES = 16

/**
 * AES-256-GCM for stored responses, with key ids for rotation. Status, headers and body are all
 * encrypted; the stored record keeps only the status in clear.
 * @example
 * idempotency({ encryption: aesGcmEncryption({ keys: { k2: process.env.IDEM_KEY_2 }, currentKeyId: 'k2' }) })
 */
export function aesGcmEncryption(options: AesGcmEncryptionOptions): ResponseEncryption {
  const keys = new Map<string, Buffer>()
  for (const [id, value] of Object.entries(options.keys)) {
    const key = typeof value === 'string' ? Buffer.from(value, 'base64') : Buffer.from(value)
    if (key.length !== 32)
      throw new IdempotencyConfigError(`Encryption key "${id}" must be 32 bytes`)
    if (Buffer.byteLength(id) > 255) throw new IdempotencyConfigError('Key ids must be short')
    keys.set(id, key)
  }
  const current = keys.get(options.currentKeyId)
  if (!current) throw new IdempotencyConfigError(`No key with id "${options.currentKeyId}"`)
  const currentId = Buffer.from(options.currentKeyId)

  return {
    seal(response, aad) {
      const meta = Buffer.from(
        JSON.stringify({
          s: response.status,
          h: response.headers,
          o: response.bodyOmitted === true,
        }),
      )
      const metaLength = Buffer.alloc(4)
      metaLength.writeUInt32BE(meta.length)
      const iv = randomBytes(IV_BYTES)
      const cipher = createCipheriv('aes-256-gcm', current, iv)
      cipher.setAAD(Buffer.from(aad))
      const encrypted = Buffer.concat([
        cipher.update(metaLength),
        cipher.update(meta),
        cipher.update(response.body),
        cipher.final(),
      ])
      const body = Buffer.concat([
        MAGIC,
        Buffer.from([currentId.length]),
        currentId,
        iv,
        cipher.getAuthTag(),
        encrypted,
      ])
      return { status: response.status, headers: {}, body }
    },
    open(stored, aad) {
      const data = asBuffer(stored.body)
      if (data.length < MAGIC.length + 1 || !data.subarray(0, MAGIC.length).equals(MAGIC)) {
        throw new Error('Stored response is not encrypted')
      }
      const idLength = data[MAGIC.length] as number
      let at = MAGIC.length + 1
      const id = data.subarray(at, at + idLength).toString()
      at += idLength
      const key = keys.get(id)
      if (!key) throw new Error(`No encryption key with id "${id}"`)
      const iv = data.subarray(at, at + IV_BYTES)
      const tag = data.subarray(at + IV_BYTES, at + IV_BYTES + TAG_BYTES)
      const decipher = createDecipheriv('aes-256-gcm', key, iv)
      decipher.setAAD(Buffer.from(aad))
      decipher.setAuthTag(tag)
      const plain = Buffer.concat([
        decipher.update(data.subarray(at + IV_BYTES + TAG_BYTES)),
        decipher.final(),
      ])
      const metaLength = plain.readUInt32BE(0)
      const meta = JSON.parse(plain.subarray(4, 4 + metaLength).toString()) as {
        s: number
        h: Record<string, string | string[]>
        o: boolean
      }
      const response: StoredResponse = {
        status: meta.s,
        headers: meta.h,
        body: plain.subarray(4 + metaLength),
      }
      if (meta.o) response.bodyOmitted = true
      return response
    },
  }
}
