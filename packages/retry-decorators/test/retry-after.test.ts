import { describe, expect, it } from 'vitest'
import { retryAfterMs } from '../src/index.js'
import { HttpError } from './helpers.js'

describe('retryAfterMs()', () => {
  it('reads retry-after seconds from a plain object in any case', () => {
    expect(retryAfterMs(new HttpError(429, { 'Retry-After': '20' }))).toBe(20_000)
    expect(retryAfterMs(new HttpError(429, { 'retry-after': '1.5' }))).toBe(1_500)
  })

  it('reads a Headers instance', () => {
    expect(retryAfterMs(new HttpError(503, new Headers({ 'retry-after': '3' })))).toBe(3_000)
  })

  it('prefers retry-after-ms', () => {
    const headers = new Headers({ 'retry-after': '3', 'retry-after-ms': '250' })
    expect(retryAfterMs(new HttpError(529, headers))).toBe(250)
  })

  it('turns an HTTP date into the ms left, never negative', () => {
    const now = Date.parse('2026-11-27T10:00:00Z')
    const later = { 'retry-after': 'Fri, 27 Nov 2026 10:00:30 GMT' }
    const earlier = { 'retry-after': 'Fri, 27 Nov 2026 09:59:00 GMT' }
    expect(retryAfterMs(new HttpError(503, later), now)).toBe(30_000)
    expect(retryAfterMs(new HttpError(503, earlier), now)).toBe(0)
  })

  it('takes the first of repeated header values and accepts numbers', () => {
    expect(retryAfterMs({ headers: { 'retry-after': ['2', '9'] } })).toBe(2_000)
    expect(retryAfterMs({ headers: { 'retry-after-ms': 40 } })).toBe(40)
  })

  it('is undefined without a valid hint', () => {
    expect(retryAfterMs(new HttpError(503))).toBeUndefined()
    expect(retryAfterMs(new HttpError(503, { 'retry-after': 'soon' }))).toBeUndefined()
    expect(retryAfterMs(new HttpError(503, { 'retry-after-ms': '-5' }))).toBeUndefined()
    expect(retryAfterMs('503')).toBeUndefined()
  })

  it('accepts the three HTTP-date forms, asctime as GMT whatever the local zone', () => {
    const now = Date.parse('1994-11-06T08:49:00Z')
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York' // Node applies a TZ change at once
    try {
      for (const date of [
        'Sun, 06 Nov 1994 08:49:37 GMT',
        'Sunday, 06-Nov-94 08:49:37 GMT',
        'Sun Nov  6 08:49:37 1994',
      ]) {
        expect(retryAfterMs({ headers: { 'retry-after': date } }, now), date).toBe(37_000)
      }
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })

  it('is undefined for junk Date.parse would accept (Regression: review finding 17)', () => {
    const now = Date.parse('2026-11-27T10:00:00Z')
    for (const junk of ['-1', 'soon 1', '3 apples', '1e3', '2026-11-27', 'Fri Nov 27 2026']) {
      expect(retryAfterMs({ headers: { 'retry-after': junk } }, now), junk).toBeUndefined()
    }
  })
})
