import { describe, expect, it } from 'vitest'
import { headerValue } from '../src/index.js'

describe('headerValue()', () => {
  describe('when given a plain object', () => {
    it('matches the name in any case', () => {
      expect(headerValue({ 'Retry-After': '20' }, 'retry-after')).toBe('20')
      expect(headerValue({ 'retry-after': '20' }, 'Retry-After')).toBe('20')
    })

    it('takes the first of repeated values and trims it', () => {
      expect(headerValue({ 'x-seen': [' a ', 'b'] }, 'X-Seen')).toBe('a')
    })

    it('turns a number into its string', () => {
      expect(headerValue({ 'retry-after-ms': 40 }, 'retry-after-ms')).toBe('40')
    })

    it('is undefined when the header is absent or not a string', () => {
      expect(headerValue({ other: '1' }, 'retry-after')).toBeUndefined()
      expect(headerValue({ 'retry-after': { nested: true } }, 'retry-after')).toBeUndefined()
      expect(headerValue({ 'retry-after': [] }, 'retry-after')).toBeUndefined()
    })
  })

  describe('when given a Headers instance', () => {
    it('reads it case-insensitively', () => {
      const headers = new Headers({ 'Anthropic-RateLimit-Requests-Remaining': '7' })
      expect(headerValue(headers, 'anthropic-ratelimit-requests-remaining')).toBe('7')
      expect(headerValue(headers, 'ANTHROPIC-RATELIMIT-REQUESTS-REMAINING')).toBe('7')
      expect(headerValue(headers, 'retry-after')).toBeUndefined()
    })
  })

  describe('when given something else', () => {
    it('is undefined', () => {
      expect(headerValue(undefined, 'retry-after')).toBeUndefined()
      expect(headerValue(null, 'retry-after')).toBeUndefined()
      expect(headerValue('retry-after: 1', 'retry-after')).toBeUndefined()
    })
  })
})
