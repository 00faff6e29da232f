import { describe, expect, it } from 'vitest'
import { isTransientError, RetryError, TimeoutError } from '../src/index.js'
import { HttpError, networkError } from './helpers.js'

describe('isTransientError()', () => {
  it.each([408, 429, 500, 502, 503, 504, 529])('retries HTTP %i', (status) => {
    expect(isTransientError(new HttpError(status))).toBe(true)
  })

  it.each([400, 401, 403, 404, 409, 413, 422])('never retries HTTP %i', (status) => {
    expect(isTransientError(new HttpError(status))).toBe(false)
  })

  it('reads statusCode when there is no status', () => {
    expect(isTransientError(Object.assign(new Error('x'), { statusCode: 503 }))).toBe(true)
  })

  it.each(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EAI_AGAIN', 'UND_ERR_SOCKET'])(
    'retries network error %s',
    (code) => {
      expect(isTransientError(networkError(code))).toBe(true)
    },
  )

  it('retries fetch network TypeErrors, reading the code in their cause', () => {
    expect(isTransientError(new TypeError('fetch failed'))).toBe(true)
    const wrapped = new Error('request failed', { cause: networkError('ECONNRESET') })
    expect(isTransientError(wrapped)).toBe(true)
  })

  it('does not retry programming TypeErrors', () => {
    expect(isTransientError(new TypeError('x is not a function'))).toBe(false)
  })

  it('retries timeouts: ours, AbortSignal.timeout() and the SDK connection errors', () => {
    expect(isTransientError(new TimeoutError(10))).toBe(true)
    expect(isTransientError(new DOMException('timed out', 'TimeoutError'))).toBe(true)
    const sdkTimeout = Object.assign(new Error('Request timed out.'), {
      name: 'APIConnectionTimeoutError',
    })
    expect(isTransientError(sdkTimeout)).toBe(true)
  })

  it('does not retry aborts, plain errors or non-errors', () => {
    expect(isTransientError(new DOMException('aborted', 'AbortError'))).toBe(false)
    expect(isTransientError(new Error('boom'))).toBe(false)
    expect(isTransientError('ECONNRESET')).toBe(false)
    expect(isTransientError(undefined)).toBe(false)
  })

  it('judges a RetryError by its cause unless the budget stopped it', () => {
    expect(isTransientError(new RetryError('attempts', [new HttpError(503)]))).toBe(true)
    expect(isTransientError(new RetryError('attempts', [new HttpError(400)]))).toBe(false)
    expect(isTransientError(new RetryError('budget', [new HttpError(503)]))).toBe(false)
  })

  it('does not retry an open circuit', () => {
    const open = Object.assign(new Error('open'), {
      name: 'CircuitOpenError',
      code: 'ERR_CIRCUIT_OPEN',
    })
    expect(isTransientError(open)).toBe(false)
  })
})
