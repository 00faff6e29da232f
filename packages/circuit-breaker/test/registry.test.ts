import { describe, expect, it } from 'vitest'
import { BreakerRegistry, CircuitBreaker, defaultRegistry } from '../src/index.js'

describe('BreakerRegistry', () => {
  it('returns the same instance for the same name', () => {
    const registry = new BreakerRegistry()
    const breaker = registry.get('claude', { failureThreshold: 3 })
    expect(breaker).toBeInstanceOf(CircuitBreaker)
    expect(breaker.name).toBe('claude')
    expect(registry.get('claude')).toBe(breaker)
    expect(registry.get('claude', { failureThreshold: 9 })).toBe(breaker)
    expect(breaker.options.failureThreshold).toBe(3)
    expect(registry.get('other')).not.toBe(breaker)
  })

  it('merges the registry defaults under the options of get()', () => {
    const registry = new BreakerRegistry({ defaults: { openMs: 5_000, failureThreshold: 2 } })
    const breaker = registry.get('svc', { failureThreshold: 7 })
    expect(breaker.options.openMs).toBe(5_000)
    expect(breaker.options.failureThreshold).toBe(7)
  })

  it('keeps a registry default when get() passes that option as undefined', () => {
    const registry = new BreakerRegistry({ defaults: { openMs: 5_000 } })
    const breaker = registry.get('svc', { openMs: undefined, failureThreshold: 2 })
    expect(breaker.options.openMs).toBe(5_000)
    expect(breaker.options.failureThreshold).toBe(2)
  })

  describe('when defaults and get() both set a nested option', () => {
    const defaults = {
      failureRate: {
        threshold: 0.5,
        minimumCalls: 4,
        window: { kind: 'time', sizeMs: 60_000, buckets: 6 },
      },
    } as const

    it('keeps the default minimumCalls and window when get() overrides only the threshold', () => {
      const registry = new BreakerRegistry({ defaults })
      const breaker = registry.get('svc', { failureRate: { threshold: 0.2 } })
      expect(breaker.options).toMatchObject({
        rateThreshold: 0.2,
        minimumCalls: 4,
        window: { kind: 'time', sizeMs: 60_000, buckets: 6 },
      })
      expect(registry.get('plain').options.rateThreshold).toBe(0.5)
    })

    it('keeps a nested default that get() passes as undefined', () => {
      const registry = new BreakerRegistry({ defaults })
      const breaker = registry.get('svc', {
        failureRate: { threshold: 0.2, minimumCalls: undefined, window: undefined },
      })
      expect(breaker.options.minimumCalls).toBe(4)
      expect(breaker.options.window).toEqual({ kind: 'time', sizeMs: 60_000, buckets: 6 })
    })

    it('merges a window of the same kind and replaces one of another kind', () => {
      const registry = new BreakerRegistry({ defaults })
      const wider = registry.get('wider', {
        failureRate: { threshold: 0.5, window: { kind: 'time', sizeMs: 120_000 } },
      })
      expect(wider.options.window).toEqual({ kind: 'time', sizeMs: 120_000, buckets: 6 })
      const counted = registry.get('counted', {
        failureRate: { threshold: 0.5, window: { kind: 'count', size: 50 } },
      })
      expect(counted.options.window).toEqual({ kind: 'count', size: 50 })
    })
  })

  it('lists, forgets and observes breakers', () => {
    const registry = new BreakerRegistry()
    const a = registry.get('a')
    const seen: string[] = []
    const stop = registry.observe((b) => seen.push(b.name))
    const b = registry.get('b')
    expect(seen).toEqual(['a', 'b'])
    expect([...registry]).toEqual([a, b])
    expect([...registry.values()]).toEqual([a, b])
    expect(registry.size).toBe(2)
    expect(registry.has('a')).toBe(true)
    expect(registry.delete('a')).toBe(true)
    expect(registry.has('a')).toBe(false)
    expect(registry.get('a')).not.toBe(a)
    stop()
    registry.get('c')
    expect(seen).toEqual(['a', 'b', 'a'])
    registry.clear()
    expect(registry.size).toBe(0)
  })

  it('tells observers which breakers delete() and clear() forget, until they stop', () => {
    const registry = new BreakerRegistry()
    const a = registry.get('a')
    const b = registry.get('b')
    const removed: CircuitBreaker[] = []
    const stop = registry.observe(
      () => {},
      (breaker) => removed.push(breaker),
    )
    expect(registry.delete('missing')).toBe(false)
    expect(registry.delete('a')).toBe(true)
    expect(removed).toEqual([a])
    const c = registry.get('c')
    registry.clear()
    expect(removed).toEqual([a, b, c])
    registry.get('d')
    stop()
    registry.clear()
    expect(removed).toEqual([a, b, c])
  })

  it('exports a shared default registry', () => {
    expect(defaultRegistry).toBeInstanceOf(BreakerRegistry)
    expect(defaultRegistry.get('default-registry-test')).toBe(
      defaultRegistry.get('default-registry-test'),
    )
    defaultRegistry.delete('default-registry-test')
  })
})
