import { Anthropic } from '@anthropic-ai/sdk'
import { CircuitOpenError, CircuitProbeTimeoutError } from '@steadfast/circuit-breaker'
import { IdempotencyConflictError, IdempotencyStoreError } from '@steadfast/idempotency-middleware'
import { RetryError } from '@steadfast/retry-decorators'
import { describe, expect, it } from 'vitest'
import {
  ClaudeTimeoutError,
  classifyError,
  isModelNotFound,
  isRetryable,
  RateLimitQueueFullError,
  RefusalError,
  StreamInterruptedError,
} from '../src/index.js'
import { params, rejection, setup } from './helpers.js'

const body = (type: string, errorCode?: string) => ({
  type: 'error',
  error: { type, message: 'm', ...(errorCode ? { details: { error_code: errorCode } } : {}) },
})

/** The SDK's own error for a status, as `APIError.generate` builds it from a response. */
const sdkError = (
  status: number,
  type: string,
  headers: Record<string, string> = {},
  code?: string,
) => Anthropic.APIError.generate(status, body(type, code), undefined, new Headers(headers))

describe('classifyError()', () => {
  describe('when the error comes from the real SDK against the fake server', () => {
    it.each([
      [529, 'transient'],
      [500, 'transient'],
      [502, 'transient'],
      [503, 'transient'],
      [504, 'transient'],
      [429, 'transient'],
      [400, 'permanent'],
      [401, 'permanent'],
      [403, 'permanent'],
      [404, 'permanent'],
      [413, 'permanent'],
    ] as const)('classifies HTTP %i as %s', async (status, expected) => {
      const { client } = await setup({ faults: [{ status }] })
      const error = await rejection(client.messages.create(params, { maxRetries: 0 }))
      expect(classifyError(error)).toBe(expected)
      expect(isRetryable(error)).toBe(expected === 'transient')
    })

    it('classifies a dropped connection as transient', async () => {
      const { client } = await setup({ faults: [{ drop: true }] })
      const error = await rejection(client.messages.create(params, { maxRetries: 0 }))
      expect(classifyError(error)).toBe('transient')
    })
  })

  describe('when reading status, type and errorCode', () => {
    it('treats a 529 thrown as a plain InternalServerError (older SDKs) as transient', () => {
      const error = new Anthropic.InternalServerError(
        529,
        body('overloaded_error'),
        undefined,
        new Headers(),
      )
      expect(classifyError(error)).toBe('transient')
    })

    it('treats an APIError with no status and type overloaded_error (SSE error event) as transient', () => {
      const error = new Anthropic.APIError(
        undefined,
        body('overloaded_error'),
        undefined,
        new Headers(),
        'overloaded_error',
      )
      expect(classifyError(error)).toBe('transient')
      const invalid = new Anthropic.APIError(
        undefined,
        body('invalid_request_error'),
        undefined,
        new Headers(),
        'invalid_request_error',
      )
      expect(classifyError(invalid)).toBe('permanent')
    })

    it.each(['enforced_spend_limit_reached', 'contract_spend_limit_reached'])(
      'treats a 429 with errorCode %s as permanent',
      (code) => {
        expect(classifyError(sdkError(429, 'rate_limit_error', {}, code))).toBe('permanent')
      },
    )

    it('keeps a 429 ramp limit transient', () => {
      expect(classifyError(sdkError(429, 'rate_limit_error', {}, 'ramp_limit_exceeded'))).toBe(
        'transient',
      )
    })

    it('reads the error code from the body when the SDK has no errorCode field', () => {
      const error = { status: 429, error: body('rate_limit_error', 'enforced_spend_limit_reached') }
      expect(classifyError(error)).toBe('permanent')
    })

    it('classifies by status whatever x-should-retry says (it only steers retries of a model)', () => {
      expect(classifyError(sdkError(500, 'api_error', { 'x-should-retry': 'false' }))).toBe(
        'transient',
      )
      expect(classifyError(sdkError(529, 'overloaded_error', { 'x-should-retry': 'false' }))).toBe(
        'transient',
      )
      expect(
        classifyError(sdkError(400, 'invalid_request_error', { 'x-should-retry': 'true' })),
      ).toBe('permanent')
    })

    it('treats 409 as transient and 402 as permanent', () => {
      expect(classifyError(sdkError(409, 'conflict_error'))).toBe('transient')
      expect(classifyError(sdkError(402, 'billing_error'))).toBe('permanent')
    })

    it('checks network codes before a non-Anthropic `type` (node-fetch FetchError)', () => {
      const fetchError = Object.assign(new Error('socket hang up'), {
        name: 'FetchError',
        type: 'system',
        code: 'ECONNRESET',
      })
      expect(classifyError(fetchError)).toBe('transient')
      expect(classifyError(Object.assign(new Error('x'), { type: 'system' }))).toBe('permanent')
    })

    it('shares the network codes of @steadfast/retry-decorators (ENETDOWN included)', () => {
      expect(classifyError(Object.assign(new Error('down'), { code: 'ENETDOWN' }))).toBe(
        'transient',
      )
      expect(classifyError(new TypeError('fetch failed', { cause: { code: 'ENETDOWN' } }))).toBe(
        'transient',
      )
    })

    it('treats undici’s TypeError: terminated and connection errors as transient', () => {
      expect(classifyError(new TypeError('terminated'))).toBe('transient')
      expect(classifyError(new Anthropic.APIConnectionError({ message: 'x' }))).toBe('transient')
      expect(classifyError(new Anthropic.APIConnectionTimeoutError())).toBe('transient')
      expect(classifyError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe(
        'transient',
      )
    })

    it('treats other errors, including a user abort, as permanent', () => {
      expect(classifyError(new Error('bug'))).toBe('permanent')
      expect(classifyError(new TypeError('x is not a function'))).toBe('permanent')
      expect(classifyError(new Anthropic.APIUserAbortError())).toBe('permanent')
      expect(classifyError('a string')).toBe('permanent')
    })
  })

  describe('when the error is our own or a guard’s', () => {
    it('classifies guards as infrastructure', () => {
      expect(classifyError(new CircuitOpenError('claude:x', 1000))).toBe('infrastructure')
      expect(classifyError(new RateLimitQueueFullError(10))).toBe('infrastructure')
      expect(classifyError(new CircuitProbeTimeoutError('claude:x', 300))).toBe('infrastructure')
      expect(classifyError(new IdempotencyStoreError('redis down'))).toBe('infrastructure')
      expect(classifyError(new IdempotencyConflictError(100))).toBe('infrastructure')
      expect(classifyError(new RetryError('budget', [sdkError(529, 'overloaded_error')]))).toBe(
        'infrastructure',
      )
    })

    it('classifies an exhausted RetryError by its last error', () => {
      expect(classifyError(new RetryError('attempts', [sdkError(529, 'overloaded_error')]))).toBe(
        'transient',
      )
    })

    it('classifies stop-reason errors as business, stream breaks and timeouts as transient', () => {
      const message = { stop_reason: 'refusal', stop_details: null, usage: { output_tokens: 1 } }
      expect(classifyError(new RefusalError(message as never))).toBe('business')
      expect(
        classifyError(new StreamInterruptedError('m', 'x', undefined, new TypeError('terminated'))),
      ).toBe('transient')
      expect(classifyError(new ClaudeTimeoutError(100))).toBe('transient')
    })
  })
})

describe('isModelNotFound()', () => {
  it('is true for a 404 about the model only', () => {
    expect(isModelNotFound(sdkError(404, 'not_found_error'))).toBe(false)
    const modelGone = Anthropic.APIError.generate(
      404,
      { type: 'error', error: { type: 'not_found_error', message: 'model: claude-x' } },
      undefined,
      new Headers(),
    )
    expect(isModelNotFound(modelGone)).toBe(true)
    expect(isModelNotFound(sdkError(400, 'invalid_request_error'))).toBe(false)
  })
})
