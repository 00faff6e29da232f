import { describe, expect, it } from 'vitest'
import { signPayload, verifySignature } from '../src/signature.js'

describe('verifySignature()', () => {
  const body = Buffer.from('{"id":"evt_1"}')
  const now = 1_800_000_000_000
  const t = now / 1000

  it('accepts a signature over t.rawBody made with the secret', () => {
    expect(verifySignature(signPayload('s', body, t), body, 's', { nowMs: now })).toEqual({
      ok: true,
      timestamp: t,
    })
  })

  it('accepts any of several v1 values, so senders can roll secrets', () => {
    const good = signPayload('s', body, t).split(',')[1]
    const header = `t=${t},v1=${'0'.repeat(64)},${good}`
    expect(verifySignature(header, body, 's', { nowMs: now }).ok).toBe(true)
  })

  it('refuses a missing, malformed, stale, forged or body-altered signature', () => {
    expect(verifySignature(undefined, body, 's', { nowMs: now })).toEqual({
      ok: false,
      problem: 'missing',
    })
    expect(verifySignature('v1=abc', body, 's', { nowMs: now })).toEqual({
      ok: false,
      problem: 'malformed',
    })
    expect(verifySignature(signPayload('s', body, t - 301), body, 's', { nowMs: now })).toEqual({
      ok: false,
      problem: 'stale',
    })
    expect(verifySignature(signPayload('s', body, t + 301), body, 's', { nowMs: now }).ok).toBe(
      false,
    )
    expect(verifySignature(signPayload('other', body, t), body, 's', { nowMs: now })).toEqual({
      ok: false,
      problem: 'mismatch',
    })
    const altered = Buffer.from('{"id":"evt_2"}')
    expect(verifySignature(signPayload('s', body, t), altered, 's', { nowMs: now }).ok).toBe(false)
  })
})
