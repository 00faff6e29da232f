import { randomBytes } from 'node:crypto'
import express from 'express'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import {
  aesGcmEncryption,
  type IdempotencyOptions,
  idempotency,
  isIdempotencyConfigError,
  MemoryStore,
  type StoredResponse,
} from '../src/index.js'
import { SpyStore, sleep } from './support.js'

const k1 = randomBytes(32)
const k2 = randomBytes(32)

function makeApp(options: IdempotencyOptions, counter: { runs: number }) {
  const app = express()
  app.use(express.json())
  app.use(idempotency(options))
  app.post('/pay', (_req, res) => {
    counter.runs++
    res.status(201).location('/payments/secret-id').json({ card: '4242-secret', run: counter.runs })
  })
  return app
}

describe('encryption at rest', () => {
  it('stores only ciphertext and replays the plaintext', async () => {
    const store = new SpyStore()
    const counter = { runs: 0 }
    const app = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k1 }, currentKeyId: 'k1' }) },
      counter,
    )
    const first = await request(app).post('/pay').set('Idempotency-Key', 'k').send({})
    const stored = store.completed[0]
    expect(stored).toBeDefined()
    expect(Buffer.from(stored?.body ?? []).includes('4242')).toBe(false)
    expect(JSON.stringify(stored?.headers)).not.toContain('secret-id')
    const replay = await request(app).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(replay.status).toBe(201)
    expect(replay.text).toBe(first.text)
    expect(replay.headers.location).toBe('/payments/secret-id')
    expect(counter.runs).toBe(1)
  })

  it('reads records sealed with an older key id after rotation', async () => {
    const store = new MemoryStore()
    const counter = { runs: 0 }
    const before = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k1 }, currentKeyId: 'k1' }) },
      counter,
    )
    await request(before).post('/pay').set('Idempotency-Key', 'k').send({})
    const after = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k1, k2 }, currentKeyId: 'k2' }) },
      counter,
    )
    const replay = await request(after).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(replay.headers['idempotent-replayed']).toBe('true')
    expect(counter.runs).toBe(1)
  })

  it('fails closed with 500 and never re-runs the handler when a record cannot be decrypted', async () => {
    const store = new MemoryStore()
    const counter = { runs: 0 }
    const before = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k1 }, currentKeyId: 'k1' }) },
      counter,
    )
    await request(before).post('/pay').set('Idempotency-Key', 'k').send({})
    const lostKey = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k2 }, currentKeyId: 'k2' }) },
      counter,
    )
    const res = await request(lostKey).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(res.status).toBe(500)
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
    expect(res.body.code).toBe('IDEMPOTENCY_RECORD_UNREADABLE')
    expect(counter.runs).toBe(1)
  })

  it('fails closed with 500 when a guard without encryption meets a sealed record', async () => {
    // A fleet half through turning encryption on or off, sharing one store.
    const store = new SpyStore()
    const counter = { runs: 0 }
    const sealing = makeApp(
      { store, encryption: aesGcmEncryption({ keys: { k1 }, currentKeyId: 'k1' }) },
      counter,
    )
    await request(sealing).post('/pay').set('Idempotency-Key', 'k').send({}).expect(201)
    const plain = makeApp({ store }, counter)
    const res = await request(plain).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(res.status).toBe(500)
    expect(res.body.code).toBe('IDEMPOTENCY_RECORD_UNREADABLE')
    expect(counter.runs).toBe(1)
    // The marker never leaves the store: the sealing guard still replays the plaintext.
    const replay = await request(sealing).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(replay.status).toBe(201)
    expect(replay.body.card).toBe('4242-secret')
    expect(Object.keys(replay.headers).some((name) => name.includes('sealed'))).toBe(false)
  })

  it('sends the response, and never runs the handler again, when sealing fails', async () => {
    const store = new SpyStore()
    const counter = { runs: 0 }
    const errors: unknown[] = []
    const kmsDown = {
      seal(): never {
        throw new Error('KMS unavailable')
      },
      open: (stored: StoredResponse) => stored,
    }
    const app = makeApp(
      {
        store,
        encryption: kmsDown,
        leaseMs: 200,
        onEvent: (event) => event.type === 'store-error' && errors.push(event.error),
      },
      counter,
    )
    const first = await request(app).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(first.status).toBe(201)
    expect(first.body.card).toBe('4242-secret')
    expect((errors[0] as Error).message).toBe('KMS unavailable')
    // Nothing in clear: neither the body nor the Location.
    expect(JSON.stringify(store.completed)).not.toMatch(/4242|secret-id/)
    // Past the lease: a claim left behind would now run the handler again.
    await sleep(300)
    const replay = await request(app).post('/pay').set('Idempotency-Key', 'k').send({})
    expect(replay.status).toBe(201)
    expect(replay.headers['idempotent-body-omitted']).toBe('true')
    expect(replay.text).toBe('')
    expect(Object.keys(replay.headers).some((name) => name.includes('seal'))).toBe(false)
    expect(counter.runs).toBe(1)
  })

  it('binds a record to its key, so a record copied to another key does not open', () => {
    const encryption = aesGcmEncryption({ keys: { k1 }, currentKeyId: 'k1' })
    const sealed = encryption.seal({ status: 200, headers: {}, body: Buffer.from('x') }, 'key-a')
    expect(() => encryption.open(sealed, 'key-b')).toThrow()
    expect(Buffer.from(encryption.open(sealed, 'key-a').body).toString()).toBe('x')
  })

  it('refuses keys that are not 32 bytes and an unknown current key id', () => {
    const short = (() => {
      try {
        aesGcmEncryption({ keys: { k: randomBytes(16) }, currentKeyId: 'k' })
      } catch (error) {
        return error
      }
      return undefined
    })()
    expect(isIdempotencyConfigError(short)).toBe(true)
    expect(() => aesGcmEncryption({ keys: { k1 }, currentKeyId: 'nope' })).toThrow(/No key/)
    expect(() =>
      aesGcmEncryption({ keys: { k1: k1.toString('base64') }, currentKeyId: 'k1' }),
    ).not.toThrow()
  })
})
