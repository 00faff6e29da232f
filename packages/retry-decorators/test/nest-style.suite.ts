// A NestJS-style service: an @Injectable() class whose dependencies a tiny container resolves
// from `design:paramtypes` (emitted by emitDecoratorMetadata, read through reflect-metadata),
// with our decorators on its methods. Compiled with legacy decorators by
// test-support/decorator-modes-plugin.ts, as NestJS apps are.
import 'reflect-metadata'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { describe, expect, it } from 'vitest'
import {
  CircuitBreaker,
  Fallback,
  getResiliencePolicies,
  Retry,
  retryContext,
  Timeout,
} from '../src/index.js'
import { HttpError } from './helpers.js'

type Constructor<T = unknown> = new (...args: never[]) => T

const injectable = new Set<Constructor>()

/** Marks a class the container may build, like NestJS's `@Injectable()`. */
function Injectable(): (target: Constructor) => void {
  return (target) => {
    injectable.add(target)
  }
}

/** Singletons built from constructor parameter types, like a NestJS module's injector. */
class Container {
  readonly #instances = new Map<Constructor, unknown>()

  resolve<T>(token: Constructor<T>): T {
    const existing = this.#instances.get(token)
    if (existing !== undefined) return existing as T
    if (!injectable.has(token)) throw new Error(`${token.name} is not @Injectable()`)
    const params = (Reflect.getMetadata('design:paramtypes', token) ?? []) as Constructor[]
    const instance = new (token as new (...args: unknown[]) => T)(
      ...params.map((param) => this.resolve(param)),
    )
    this.#instances.set(token, instance)
    return instance
  }
}

const registry = new BreakerRegistry()

@Injectable()
class ClaudeClient {
  failuresLeft = 2
  signals: (AbortSignal | undefined)[] = []

  async complete(prompt: string): Promise<string> {
    this.signals.push(retryContext()?.signal)
    if (this.failuresLeft-- > 0) throw new HttpError(529)
    return `summary of ${prompt}`
  }
}

@Injectable()
class SummaryService {
  constructor(readonly client: ClaudeClient) {}

  @Fallback('degraded')
  @Retry({ maxAttempts: 4, backoff: { initialMs: 0 } })
  @CircuitBreaker('nest-claude', { failureThreshold: 5, registry })
  @Timeout(5_000)
  async summarize(text: string): Promise<string> {
    return this.client.complete(text)
  }

  degraded(text: string): string {
    return `unavailable: ${text}`
  }
}

describe('a NestJS-style injectable service', () => {
  it('resolves through the container with its dependency and decorated methods', async () => {
    const container = new Container()
    const service = container.resolve(SummaryService)
    expect(service.client).toBe(container.resolve(ClaudeClient))
    await expect(service.summarize('the report')).resolves.toBe('summary of the report')
    expect(service.client.signals).toHaveLength(3)
    expect(service.client.signals.every((signal) => signal instanceof AbortSignal)).toBe(true)
  })

  it('keeps the design metadata NestJS reads and lists the policies', () => {
    expect(Reflect.getMetadata('design:paramtypes', SummaryService)).toEqual([ClaudeClient])
    expect(Reflect.getMetadata('design:paramtypes', SummaryService.prototype, 'summarize')).toEqual(
      [String],
    )
    expect(getResiliencePolicies(SummaryService, 'summarize').map((p) => p.kind)).toEqual([
      'fallback',
      'retry',
      'circuit-breaker',
      'timeout',
    ])
  })

  it('falls back when the dependency keeps failing', async () => {
    const service = new Container().resolve(SummaryService)
    service.client.failuresLeft = 10
    await expect(service.summarize('x')).resolves.toBe('unavailable: x')
  })
})
