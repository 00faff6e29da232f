// Two copies of the package in one process, as when an app loads both its ESM and its CJS build
// (the dual package hazard): vi.resetModules() evaluates this package and @steadfast/circuit-breaker
// a second time, with module-level state of their own unless it is kept process-wide.
import { describe, expect, it, vi } from 'vitest'
import type { ResilienceDecorator } from '../src/index.js'
import { HttpError } from './helpers.js'

type Copy = typeof import('../src/index.js')
type BreakerCopy = typeof import('@steadfast/circuit-breaker')

async function load(): Promise<[Copy, BreakerCopy]> {
  vi.resetModules()
  return [await import('../src/index.js'), await import('@steadfast/circuit-breaker')]
}

// Applies a decorator the way legacy `experimentalDecorators` code does.
function decorate(decorator: ResilienceDecorator) {
  return (target: object, key: string): void => {
    const descriptor = Object.getOwnPropertyDescriptor(target, key) as PropertyDescriptor
    Object.defineProperty(target, key, decorator(target, key, descriptor))
  }
}

describe('two copies of the package in one process', async () => {
  const [first, firstBreakers] = await load()
  const [second, secondBreakers] = await load()

  it('are distinct module instances', () => {
    expect(first.retry).not.toBe(second.retry)
    expect(firstBreakers.CircuitBreaker).not.toBe(secondBreakers.CircuitBreaker)
  })

  it('share named breakers: tripped through one, open through the other', async () => {
    class Failing {
      async call(): Promise<string> {
        throw new HttpError(503)
      }
    }
    class Healthy {
      calls = 0
      async call(): Promise<string> {
        this.calls++
        return 'ok'
      }
    }
    decorate(first.CircuitBreaker('dual-package', { failureThreshold: 2 }))(
      Failing.prototype,
      'call',
    )
    decorate(second.CircuitBreaker('dual-package', { failureThreshold: 2 }))(
      Healthy.prototype,
      'call',
    )
    await new Failing().call().catch(() => {})
    await new Failing().call().catch(() => {})
    const healthy = new Healthy()
    const error = await healthy.call().catch((e: unknown) => e)
    expect(secondBreakers.isCircuitOpenError(error)).toBe(true)
    expect(healthy.calls).toBe(0)
    expect(secondBreakers.defaultRegistry).toBe(firstBreakers.defaultRegistry)
    firstBreakers.defaultRegistry.delete('dual-package')
  })

  it('detect a retry nested across them and share retryContext()', async () => {
    let calls = 0
    const fast = { maxAttempts: 3, backoff: { initialMs: 0 } }
    const outcome = first.retry(
      () =>
        second.retry(() => {
          calls++
          throw new HttpError(503)
        }, fast),
      fast,
    )
    await expect(outcome).rejects.toSatisfy(first.isRetryError)
    expect(calls).toBe(3)
    await expect(first.retry(() => second.retryContext()?.attempt)).resolves.toBe(1)
  })

  it('share named retry policies and recorded policies', () => {
    first.defineRetryPolicy('dual-package', { maxAttempts: 2 })
    expect(second.getRetryPolicy('dual-package')).toEqual({ maxAttempts: 2 })
    class Legacy {
      async call(): Promise<void> {}
    }
    decorate(first.Retry({ maxAttempts: 2 }))(Legacy.prototype, 'call')
    expect(second.getResiliencePolicies(Legacy, 'call').map((p) => p.kind)).toEqual(['retry'])
    const metadata = {}
    const context = { kind: 'method', name: 'call', static: false, metadata }
    const standard = { async call(): Promise<void> {} }
    first.Timeout(10)(standard.call, context as unknown as ClassMethodDecoratorContext)
    class Standard {}
    Object.defineProperty(Standard, (Symbol as { metadata?: symbol }).metadata as symbol, {
      value: metadata,
    })
    Object.defineProperty(Standard.prototype, 'call', { value: standard.call })
    expect(second.getResiliencePolicies(Standard, 'call').map((p) => p.kind)).toEqual(['timeout'])
  })
})
