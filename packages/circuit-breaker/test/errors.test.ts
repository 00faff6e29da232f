import { describe, expect, it } from 'vitest'
import {
  CircuitBreakerError,
  CircuitOpenError,
  CircuitProbeTimeoutError,
  CircuitRedisTimeoutError,
  isCircuitBreakerError,
  isCircuitOpenError,
  isCircuitProbeTimeoutError,
  isCircuitRedisTimeoutError,
} from '../src/index.js'

describe('CircuitOpenError', () => {
  it('carries name, code, breaker, retryAfterMs and cause', () => {
    const cause = new Error('root')
    const error = new CircuitOpenError('claude', 1500, { cause })
    expect(error).toBeInstanceOf(Error)
    expect(error).toBeInstanceOf(CircuitBreakerError)
    expect(error).toMatchObject({
      name: 'CircuitOpenError',
      code: 'ERR_CIRCUIT_OPEN',
      breaker: 'claude',
      retryAfterMs: 1500,
      isCircuitBreakerError: true,
      cause,
    })
    expect(error.message).toBe('Circuit "claude" is open; retry in 1500 ms')
    expect(String(error)).toBe('CircuitOpenError: Circuit "claude" is open; retry in 1500 ms')
    expect(error.stack).toMatch(/^CircuitOpenError: Circuit "claude" is open; retry in 1500 ms\n/)
    expect(error.stack).toContain('errors.test.ts')
  })

  it('lets its message be replaced', () => {
    const error = new CircuitOpenError('a', 1)
    error.message = 'custom'
    expect(error.message).toBe('custom')
  })
})

describe('guards', () => {
  it('recognise errors by code and brand, not by class identity', () => {
    const foreign = Object.assign(new Error('x'), {
      code: 'ERR_CIRCUIT_OPEN',
      isCircuitBreakerError: true,
    })
    expect(isCircuitOpenError(foreign)).toBe(true)
    expect(isCircuitBreakerError(foreign)).toBe(true)
    expect(isCircuitOpenError(Object.assign(new Error('x'), { code: 'ERR_CIRCUIT_OPEN' }))).toBe(
      false,
    )
    expect(isCircuitOpenError(new Error('x'))).toBe(false)
    expect(isCircuitOpenError(null)).toBe(false)
    expect(isCircuitOpenError('ERR_CIRCUIT_OPEN')).toBe(false)
  })

  it('tell the error kinds apart', () => {
    const timeout = new CircuitProbeTimeoutError('svc', 10)
    expect(isCircuitProbeTimeoutError(timeout)).toBe(true)
    expect(isCircuitOpenError(timeout)).toBe(false)
    expect(isCircuitBreakerError(timeout)).toBe(true)
    expect(timeout).toMatchObject({
      name: 'CircuitProbeTimeoutError',
      breaker: 'svc',
      timeoutMs: 10,
    })
    expect(isCircuitProbeTimeoutError(new CircuitOpenError('svc', 1))).toBe(false)
    const base = new CircuitBreakerError('svc', 'generic')
    expect(base).toMatchObject({ name: 'CircuitBreakerError', code: 'ERR_CIRCUIT_BREAKER' })
    expect(isCircuitBreakerError(base)).toBe(true)
  })

  it('tell a Redis timeout apart', () => {
    const timeout = new CircuitRedisTimeoutError('svc', 1_000)
    expect(timeout).toBeInstanceOf(CircuitBreakerError)
    expect(timeout).toMatchObject({
      name: 'CircuitRedisTimeoutError',
      code: 'ERR_CIRCUIT_REDIS_TIMEOUT',
      breaker: 'svc',
      timeoutMs: 1_000,
    })
    expect(timeout.message).toBe('Circuit "svc": Redis did not answer within 1000 ms')
    expect(isCircuitRedisTimeoutError(timeout)).toBe(true)
    expect(isCircuitBreakerError(timeout)).toBe(true)
    expect(isCircuitRedisTimeoutError(new CircuitProbeTimeoutError('svc', 1_000))).toBe(false)
  })
})
