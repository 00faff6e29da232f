import { Registry } from 'prom-client'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { BreakerRegistry, CircuitBreaker } from '../src/index.js'
import { CircuitBreakerMetrics } from '../src/prometheus.js'
import { fail, ok, settle } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

async function value(registry: Registry, name: string, labels: Record<string, string>) {
  const metric = await registry.getSingleMetric(name)?.get()
  const sample = metric?.values.find((v) =>
    Object.entries(labels).every(([k, l]) => v.labels[k] === l),
  )
  return sample?.value
}

describe('CircuitBreakerMetrics', () => {
  it('counts calls, successes, failures, slow calls and rejections per breaker', async () => {
    const registry = new Registry()
    const metrics = new CircuitBreakerMetrics({ registry })
    const breaker = new CircuitBreaker({ name: 'claude', failureThreshold: 2, slowCallMs: 100 })
    metrics.instrument(breaker)
    const slow = settle(breaker, () => new Promise((r) => setTimeout(r, 150)))
    await vi.advanceTimersByTimeAsync(150)
    await slow
    await settle(breaker, fail())
    await settle(breaker, fail())
    await settle(breaker, ok)
    expect(await value(registry, 'circuit_breaker_calls_total', { breaker: 'claude' })).toBe(3)
    expect(await value(registry, 'circuit_breaker_successes_total', { breaker: 'claude' })).toBe(1)
    expect(await value(registry, 'circuit_breaker_failures_total', { breaker: 'claude' })).toBe(2)
    expect(await value(registry, 'circuit_breaker_slow_calls_total', { breaker: 'claude' })).toBe(1)
    expect(
      await value(registry, 'circuit_breaker_rejections_total', {
        breaker: 'claude',
        state: 'open',
      }),
    ).toBe(1)
    const text = await registry.metrics()
    expect(text).toContain(
      'circuit_breaker_call_duration_seconds_bucket{le="0.25",breaker="claude",outcome="success"} 1',
    )
    expect(text).toContain(
      'circuit_breaker_call_duration_seconds_count{breaker="claude",outcome="failure"} 2',
    )
  })

  it('reports the state gauge at scrape time, half-open included', async () => {
    const registry = new Registry()
    const metrics = new CircuitBreakerMetrics({ registry, prefix: 'app_cb_' })
    const breaker = new CircuitBreaker({ name: 'db', failureThreshold: 1, openMs: 1_000 })
    metrics.instrument(breaker)
    expect(await value(registry, 'app_cb_state', { breaker: 'db', state: 'closed' })).toBe(1)
    await settle(breaker, fail())
    expect(await value(registry, 'app_cb_state', { breaker: 'db', state: 'open' })).toBe(1)
    expect(await value(registry, 'app_cb_state', { breaker: 'db', state: 'closed' })).toBe(0)
    vi.advanceTimersByTime(1_000)
    expect(await value(registry, 'app_cb_state', { breaker: 'db', state: 'half-open' })).toBe(1)
    expect(await value(registry, 'app_cb_state', { breaker: 'db', state: 'open' })).toBe(0)
  })

  it('instruments every breaker of a registry, now and later, until detached', async () => {
    const prom = new Registry()
    const metrics = new CircuitBreakerMetrics({ registry: prom })
    const breakers = new BreakerRegistry()
    breakers.get('a')
    const detach = metrics.instrument(breakers)
    await settle(breakers.get('a'), ok)
    await settle(breakers.get('b'), ok)
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBe(1)
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'b' })).toBe(1)
    detach()
    await settle(breakers.get('a'), ok)
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBeUndefined()
    expect(await value(prom, 'circuit_breaker_state', { breaker: 'a', state: 'closed' })).toBe(
      undefined,
    )
  })

  it('drops the series and listeners of a breaker the registry forgets', async () => {
    const prom = new Registry()
    const metrics = new CircuitBreakerMetrics({ registry: prom })
    const breakers = new BreakerRegistry()
    metrics.instrument(breakers)
    const old = breakers.get('a')
    await settle(old, ok)
    breakers.delete('a')
    await settle(old, ok)
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBeUndefined()
    expect(await value(prom, 'circuit_breaker_state', { breaker: 'a', state: 'closed' })).toBe(
      undefined,
    )
    const successor = breakers.get('a')
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBe(0)
    await settle(successor, ok)
    await settle(old, ok)
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBe(1)
    expect(await value(prom, 'circuit_breaker_state', { breaker: 'a', state: 'closed' })).toBe(1)
    breakers.clear()
    expect(await value(prom, 'circuit_breaker_calls_total', { breaker: 'a' })).toBeUndefined()
    expect(await value(prom, 'circuit_breaker_state', { breaker: 'a', state: 'closed' })).toBe(
      undefined,
    )
  })
})
