// The decorator suite. It is compiled twice by test-support/decorator-modes-plugin.ts, once with legacy
// `experimentalDecorators` + `emitDecoratorMetadata` and once with TC39 standard decorators, and
// type-checked under each; the *.test.ts files next to it pick the mode. Keep it mode-neutral.
import {
  CircuitBreaker as Breaker,
  BreakerRegistry,
  isCircuitOpenError,
  isCircuitProbeTimeoutError,
} from '@steadfast/circuit-breaker'
import { afterEach, beforeEach, describe, expect, expectTypeOf, it, vi } from 'vitest'
import {
  CircuitBreaker,
  defineRetryPolicy,
  Fallback,
  getResiliencePolicies,
  RESILIENCE_METADATA_KEY,
  Retry,
  RetryBudget,
  RetryError,
  retry,
  retryContext,
  Timeout,
  TimeoutError,
} from '../src/index.js'
import { HttpError } from './helpers.js'

let probed: 'legacy' | 'standard' | undefined
function probe(...args: unknown[]): void {
  probed = typeof args[1] === 'object' ? 'standard' : 'legacy'
}
/** Decorated only to learn which decorator mode compiled this file. */
export class Probe {
  @probe
  method(): void {}
}

/** The decorator mode this copy of the suite was compiled with, detected at class definition. */
export const decoratorMode = probed as 'legacy' | 'standard'
const hasReflectMetadata = typeof (Reflect as { getMetadata?: unknown }).getMetadata === 'function'
const getMetadata = (key: string, target: object, property?: string): unknown =>
  (Reflect as unknown as { getMetadata(k: string, t: object, p?: string): unknown }).getMetadata(
    key,
    target,
    property,
  )
const fast = { initialMs: 0, jitter: 'none' } as const

describe(`decorators (${decoratorMode} mode${hasReflectMetadata ? ', reflect-metadata' : ''})`, () => {
  describe('@Retry', () => {
    class Client {
      calls = 0
      constructor(readonly failures: number) {}

      @Retry({ maxAttempts: 3, backoff: fast })
      async fetch(id: string): Promise<string> {
        this.calls++
        if (this.calls <= this.failures) throw new HttpError(503)
        return `${id}@${retryContext()?.attempt}`
      }

      @Retry({ maxAttempts: 2, backoff: fast })
      double(value: number): number {
        this.calls++
        if (this.calls === 1) throw new HttpError(502)
        return value * 2
      }
    }

    it('retries the method with its arguments and `this`', async () => {
      const client = new Client(2)
      await expect(client.fetch('a')).resolves.toBe('a@3')
      expect(client.calls).toBe(3)
    })

    it('rejects with RetryError when attempts run out', async () => {
      const client = new Client(5)
      await expect(client.fetch('a')).rejects.toBeInstanceOf(RetryError)
      expect(client.calls).toBe(3)
    })

    it('turns a sync method into one returning a promise', async () => {
      const client = new Client(0)
      const result: unknown = client.double(21)
      expect(result).toBeInstanceOf(Promise)
      await expect(result).resolves.toBe(42)
      expect(client.calls).toBe(2)
    })

    it('keeps the method name and its type', () => {
      expect(Client.prototype.fetch.name).toBe('fetch')
      expectTypeOf(Client.prototype.fetch).toEqualTypeOf<(id: string) => Promise<string>>()
    })

    it('throws a RangeError at decoration and definition for invalid numbers', () => {
      expect(() => Retry({ backoff: { initialMs: -1 } })).toThrow(RangeError)
      expect(() => Retry({ backoff: { multiplier: 0.5 } })).toThrow(RangeError)
      expect(() => Retry({ maxElapsedMs: Number.NaN })).toThrow(RangeError)
      expect(() => defineRetryPolicy(`invalid-${decoratorMode}`, { maxHintMs: -1 })).toThrow(
        RangeError,
      )
    })

    it('reads a named policy at call time', async () => {
      class Named {
        calls = 0
        @Retry(`named-${decoratorMode}`)
        async run(): Promise<number> {
          this.calls++
          throw new HttpError(503)
        }
      }
      const named = new Named()
      await expect(named.run()).rejects.toThrow(/No retry policy named/)
      defineRetryPolicy(`named-${decoratorMode}`, { maxAttempts: 4, backoff: fast })
      const error = await new Named().run().catch((e: unknown) => e)
      expect((error as RetryError).attempts).toBe(4)
    })
  })

  describe('@Timeout', () => {
    beforeEach(() => {
      vi.useFakeTimers()
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    class Slow {
      signal: AbortSignal | undefined
      @Timeout(100)
      async wait(ms: number): Promise<string> {
        this.signal = retryContext()?.signal
        await new Promise((resolve) => setTimeout(resolve, ms))
        return 'done'
      }
    }

    it('resolves when the method is in time', async () => {
      const slow = new Slow()
      const call = slow.wait(50)
      await vi.advanceTimersByTimeAsync(50)
      await expect(call).resolves.toBe('done')
    })

    it('sets no limit for Infinity and waits out one past 2^31−1 ms', async () => {
      class Patient {
        @Timeout(Number.POSITIVE_INFINITY)
        async forever(ms: number): Promise<string> {
          await new Promise((resolve) => setTimeout(resolve, ms))
          return 'done'
        }

        @Timeout(2 ** 31 + 5)
        async long(ms: number): Promise<string> {
          await new Promise((resolve) => setTimeout(resolve, ms))
          return 'done'
        }
      }
      const patient = new Patient()
      const forever = patient.forever(60_000)
      const long = patient.long(60_000)
      await vi.advanceTimersByTimeAsync(60_000)
      await expect(forever).resolves.toBe('done')
      await expect(long).resolves.toBe('done')
    })

    it('rejects with TimeoutError and aborts the signal the method reads', async () => {
      const slow = new Slow()
      const outcome = slow.wait(1_000).catch((e: unknown) => e)
      await vi.advanceTimersByTimeAsync(100)
      const error = await outcome
      expect(error).toBeInstanceOf(TimeoutError)
      expect(slow.signal?.aborted).toBe(true)
      expect(slow.signal?.reason).toBe(error)
    })
  })

  describe('@Fallback', () => {
    class Summaries {
      readonly prefix = 'cached'

      @Fallback('fromCache')
      async summarize(text: string, length: number): Promise<string> {
        throw new HttpError(503, { text, length: String(length) })
      }

      fromCache(text: string, length: number, error: unknown): string {
        return `${this.prefix}:${text}:${length}:${(error as HttpError).status}`
      }

      @Fallback(function (this: Summaries, error: unknown, text: string) {
        return `${this.prefix}|${(error as Error).message}|${text}`
      })
      viaFunction(text: string): string {
        throw new Error(`sync ${text}`)
      }

      @Fallback(() => 'timeout fallback', { on: [TimeoutError] })
      async onlyTimeouts(error: Error): Promise<string> {
        throw error
      }

      @Fallback(() => 'transient fallback', { on: (e) => (e as HttpError).status === 503 })
      async onlyStatus(status: number): Promise<string> {
        throw new HttpError(status)
      }
    }

    it('calls the named method with the arguments, then the error', async () => {
      await expect(new Summaries().summarize('doc', 3)).resolves.toBe('cached:doc:3:503')
    })

    it('calls a function with the error, then the arguments, on the instance', async () => {
      await expect(new Summaries().viaFunction('x')).resolves.toBe('cached|sync x|x')
    })

    it('falls back only for the listed error classes', async () => {
      const summaries = new Summaries()
      await expect(summaries.onlyTimeouts(new TimeoutError(1))).resolves.toBe('timeout fallback')
      const other = new Error('other')
      await expect(summaries.onlyTimeouts(other)).rejects.toBe(other)
    })

    it('falls back only when the predicate matches', async () => {
      const summaries = new Summaries()
      await expect(summaries.onlyStatus(503)).resolves.toBe('transient fallback')
      await expect(summaries.onlyStatus(400)).rejects.toBeInstanceOf(HttpError)
    })

    it('rejects with a TypeError when the named method is missing', async () => {
      class Broken {
        // @ts-expect-error 'missing' is not a method of Broken: the name is type-checked.
        @Fallback('missing')
        async run(): Promise<void> {
          throw new Error('original')
        }
      }
      await expect(new Broken().run()).rejects.toThrow(/missing is not a method/)
    })
  })

  describe('@CircuitBreaker', () => {
    it('shares one breaker between classes naming it', async () => {
      const registry = new BreakerRegistry()
      const options = { failureThreshold: 2, openMs: 60_000, registry }
      class A {
        @CircuitBreaker('shared', options)
        async call(): Promise<string> {
          throw new HttpError(500)
        }
      }
      class B {
        calls = 0
        @CircuitBreaker('shared', options)
        async call(): Promise<string> {
          this.calls++
          return 'b'
        }
      }
      await expect(new A().call()).rejects.toBeInstanceOf(HttpError)
      await expect(new A().call()).rejects.toBeInstanceOf(HttpError)
      const b = new B()
      const error = await b.call().catch((e: unknown) => e)
      expect(isCircuitOpenError(error)).toBe(true)
      expect(b.calls).toBe(0)
      expect(registry.get('shared').state).toBe('open')
    })

    it('uses a breaker instance and passes it the attempt signal', async () => {
      const breaker = new Breaker({ name: 'instance' })
      const execute = vi.spyOn(breaker, 'execute')
      class C {
        @Timeout(1_000)
        @CircuitBreaker(breaker)
        async inner(): Promise<string> {
          return 'ok'
        }
      }
      await expect(new C().inner()).resolves.toBe('ok')
      expect(execute.mock.calls[0]?.[1]?.signal).toBeInstanceOf(AbortSignal)
    })

    describe('when half-open', () => {
      beforeEach(() => {
        vi.useFakeTimers()
      })
      afterEach(() => {
        vi.useRealTimers()
      })

      function hungService() {
        const breaker = new Breaker({
          name: 'probe',
          failureThreshold: 1,
          openMs: 1_000,
          probeTimeoutMs: 500,
        })
        class Hung {
          signal: AbortSignal | undefined
          work(fail: boolean): Promise<string> {
            if (fail) throw new HttpError(500)
            this.signal = retryContext()?.signal
            return new Promise(() => {})
          }
          @CircuitBreaker(breaker)
          async call(fail: boolean): Promise<string> {
            return this.work(fail)
          }
          @Timeout(60_000)
          @CircuitBreaker(breaker)
          async timed(fail: boolean): Promise<string> {
            return this.work(fail)
          }
        }
        return new Hung()
      }

      for (const method of ['call', 'timed'] as const) {
        it(`aborts the hung method's retryContext().signal after probeTimeoutMs (${method})`, async () => {
          const hung = hungService()
          await expect(hung[method](true)).rejects.toBeInstanceOf(HttpError)
          await vi.advanceTimersByTimeAsync(1_000)
          const outcome = hung[method](false).catch((e: unknown) => e)
          expect(hung.signal?.aborted).toBe(false)
          await vi.advanceTimersByTimeAsync(500)
          const error = await outcome
          expect(isCircuitProbeTimeoutError(error)).toBe(true)
          expect(hung.signal?.aborted).toBe(true)
          expect(hung.signal?.reason).toBe(error)
        })
      }
    })
  })

  describe('when stacked', () => {
    beforeEach(() => {
      vi.useFakeTimers()
    })
    afterEach(() => {
      vi.useRealTimers()
    })

    it('runs top = outermost: fallback(retry(breaker(timeout(method))))', async () => {
      const registry = new BreakerRegistry()
      class Pinned {
        calls = 0
        signals: (AbortSignal | undefined)[] = []

        @Fallback('recover')
        @Retry({ maxAttempts: 3, backoff: fast })
        @CircuitBreaker('pinned', { failureThreshold: 2, openMs: 60_000, registry })
        @Timeout(50)
        async work(): Promise<unknown> {
          this.calls++
          this.signals.push(retryContext()?.signal)
          return new Promise(() => {})
        }

        recover(error: unknown): unknown {
          return { recovered: error }
        }
      }
      const pinned = new Pinned()
      const call = pinned.work()
      await vi.advanceTimersByTimeAsync(50)
      await vi.advanceTimersByTimeAsync(50)
      const { recovered } = (await call) as { recovered: unknown }
      // Timeout inside Retry: a fresh signal per attempt, each aborted by its TimeoutError.
      // Breaker inside Retry: it saw both timeouts, opened, and turned attempt 3 away.
      // Fallback outermost: it got the final error, not the first timeout.
      expect(pinned.calls).toBe(2)
      expect(pinned.signals[0]).not.toBe(pinned.signals[1])
      expect(pinned.signals.map((s) => s?.reason instanceof TimeoutError)).toEqual([true, true])
      expect(isCircuitOpenError(recovered)).toBe(true)
      const snapshot = registry.get('pinned').snapshot()
      expect([snapshot.totals.failures, snapshot.totals.rejections]).toEqual([2, 1])
      expect(getResiliencePolicies(Pinned, 'work').map((p) => p.kind)).toEqual([
        'fallback',
        'retry',
        'circuit-breaker',
        'timeout',
      ])
    })
  })

  // @Retry straight over @CircuitBreaker runs both layers in one wrapper: these pin down what
  // the two separate wrappers did, which a fused wrapper could get wrong.
  describe('@Retry right over @CircuitBreaker', () => {
    it('puts every attempt through the breaker, which turns later attempts away once open', async () => {
      const registry = new BreakerRegistry()
      class Flaky {
        calls = 0
        @Retry({ maxAttempts: 4, backoff: fast })
        @CircuitBreaker('per-attempt', { failureThreshold: 2, openMs: 60_000, registry })
        async call(): Promise<string> {
          this.calls++
          throw new HttpError(503)
        }
      }
      const flaky = new Flaky()
      const error = await flaky.call().catch((e: unknown) => e)
      expect(isCircuitOpenError(error)).toBe(true)
      expect(flaky.calls).toBe(2)
      const { totals } = registry.get('per-attempt').snapshot()
      expect([totals.calls, totals.failures, totals.rejections]).toEqual([2, 2, 1])
    })

    it('runs each attempt in its own scope, so a retry() inside makes one attempt', async () => {
      const registry = new BreakerRegistry()
      class Nesting {
        attempts: (number | undefined)[] = []
        inner = 0
        @Retry({ maxAttempts: 3, backoff: fast })
        @CircuitBreaker('nesting', { failureThreshold: 10, registry })
        async call(): Promise<string> {
          this.attempts.push(retryContext()?.attempt)
          return retry(
            async () => {
              this.inner++
              throw new HttpError(503)
            },
            { backoff: fast },
          )
        }
      }
      const nesting = new Nesting()
      const error = await nesting.call().catch((e: unknown) => e)
      expect((error as RetryError).attempts).toBe(3)
      expect(nesting.attempts).toEqual([1, 2, 3])
      expect(nesting.inner).toBe(3)
      expect(retryContext()).toBeUndefined()
    })

    it('hands the caller’s signal to the breaker and the method, and stops when it aborts', async () => {
      const controller = new AbortController()
      const breaker = new Breaker({ name: 'signalled' })
      const execute = vi.spyOn(breaker, 'execute')
      class Signalled {
        signals: (AbortSignal | undefined)[] = []
        @Retry({ maxAttempts: 3, backoff: { initialMs: 60_000 }, signal: controller.signal })
        @CircuitBreaker(breaker)
        async call(): Promise<string> {
          this.signals.push(retryContext()?.signal)
          throw new HttpError(503)
        }
      }
      const signalled = new Signalled()
      const outcome = signalled.call().catch((e: unknown) => e)
      await vi.waitFor(() => expect(signalled.signals).toHaveLength(1))
      controller.abort(new Error('caller gave up'))
      expect(((await outcome) as Error).message).toBe('caller gave up')
      expect(signalled.signals).toEqual([controller.signal])
      expect(execute.mock.calls.map((call) => call[1]?.signal)).toEqual([controller.signal])
      await expect(signalled.call()).rejects.toThrow('caller gave up')
      expect(breaker.snapshot().totals.calls).toBe(1)
    })

    it('reports every attempt to the breaker when an outer retry() makes the retries', async () => {
      const breaker = new Breaker({ name: 'fused-nested', failureThreshold: 10 })
      class Nested {
        calls = 0
        @Retry({ maxAttempts: 3, backoff: fast })
        @CircuitBreaker(breaker)
        async call(): Promise<string> {
          this.calls++
          if (this.calls < 3) throw new HttpError(503)
          return 'ok'
        }
      }
      const nested = new Nested()
      await expect(retry(() => nested.call(), { maxAttempts: 3, backoff: fast })).resolves.toBe(
        'ok',
      )
      expect(nested.calls).toBe(3)
      expect(breaker.snapshot()).toMatchObject({
        consecutiveFailures: 0,
        totals: { calls: 3, successes: 1, failures: 2 },
      })
    })

    it('spends the retry budget: a deposit per call, a withdrawal per retry', async () => {
      const budget = new RetryBudget({ ratio: 0.5, minPerSecond: 0 })
      const registry = new BreakerRegistry()
      class Budgeted {
        calls = 0
        @Retry({ maxAttempts: 3, backoff: fast, budget })
        @CircuitBreaker('budgeted', { failureThreshold: 10, registry })
        async call(): Promise<string> {
          this.calls++
          throw new HttpError(503)
        }
      }
      const budgeted = new Budgeted()
      const first = await budgeted.call().catch((e: unknown) => e)
      const second = await budgeted.call().catch((e: unknown) => e)
      expect([(first as RetryError).reason, (second as RetryError).reason]).toEqual([
        'budget',
        'budget',
      ])
      // Two deposits of 0.5 pay for exactly one retry, taken by the second call.
      expect(budgeted.calls).toBe(3)
    })

    it('gives a fallback above them the final outcome', async () => {
      const registry = new BreakerRegistry()
      class Recovering {
        calls = 0
        @Fallback('recover')
        @Retry({ maxAttempts: 3, backoff: fast })
        @CircuitBreaker('recovering', { failureThreshold: 10, registry })
        async call(): Promise<unknown> {
          this.calls++
          throw new HttpError(503)
        }

        recover(error: unknown): unknown {
          return { recovered: error }
        }
      }
      const recovering = new Recovering()
      const { recovered } = (await recovering.call()) as { recovered: unknown }
      expect((recovered as RetryError).attempts).toBe(3)
      expect(recovering.calls).toBe(3)
      expect(registry.get('recovering').snapshot().totals.failures).toBe(3)
    })

    it('reads a named policy per call, before the breaker sees the call', async () => {
      const registry = new BreakerRegistry()
      const name = `fused-${decoratorMode}-${hasReflectMetadata}`
      class Named {
        calls = 0
        @Retry(name)
        @CircuitBreaker('named', { registry })
        async call(): Promise<string> {
          this.calls++
          throw new HttpError(503)
        }
      }
      const named = new Named()
      await expect(named.call()).rejects.toThrow(/No retry policy named/)
      expect(registry.get('named').snapshot().totals.calls).toBe(0)
      defineRetryPolicy(name, { maxAttempts: 2, backoff: fast })
      const error = await named.call().catch((e: unknown) => e)
      expect((error as RetryError).attempts).toBe(2)
      expect(named.calls).toBe(2)
    })

    it('rejects, not throws, when the registry refuses to create the breaker', async () => {
      class Misconfigured {
        @Retry({ maxAttempts: 3, backoff: fast })
        @CircuitBreaker('misconfigured', { failureThreshold: -1, registry: new BreakerRegistry() })
        async call(): Promise<string> {
          return 'unreachable'
        }
      }
      const result: unknown = new Misconfigured().call()
      expect(result).toBeInstanceOf(Promise)
      await expect(result).rejects.toBeInstanceOf(RangeError)
    })

    describe('with fake timers', () => {
      beforeEach(() => {
        vi.useFakeTimers()
      })
      afterEach(() => {
        vi.useRealTimers()
      })

      it('keeps a @Timeout placed between them per attempt', async () => {
        const registry = new BreakerRegistry()
        class Between {
          signals: (AbortSignal | undefined)[] = []
          @Retry({ maxAttempts: 2, backoff: fast })
          @Timeout(50)
          @CircuitBreaker('between', { failureThreshold: 10, registry })
          async call(): Promise<string> {
            this.signals.push(retryContext()?.signal)
            return new Promise(() => {})
          }
        }
        const between = new Between()
        const outcome = between.call().catch((e: unknown) => e)
        await vi.advanceTimersByTimeAsync(100)
        const error = (await outcome) as RetryError
        expect(error.errors.map((e) => e instanceof TimeoutError)).toEqual([true, true])
        expect(between.signals.map((s) => s?.reason instanceof TimeoutError)).toEqual([true, true])
      })

      it('gives the method a half-open probe’s signal, aborted on probeTimeoutMs', async () => {
        const breaker = new Breaker({
          name: 'fused-probe',
          failureThreshold: 1,
          openMs: 1_000,
          probeTimeoutMs: 500,
        })
        class Probed {
          signal: AbortSignal | undefined
          @Retry({ maxAttempts: 1 })
          @CircuitBreaker(breaker)
          async call(fail: boolean): Promise<string> {
            if (fail) throw new HttpError(500)
            this.signal = retryContext()?.signal
            return new Promise(() => {})
          }
        }
        const probed = new Probed()
        await expect(probed.call(true)).rejects.toBeInstanceOf(RetryError)
        await vi.advanceTimersByTimeAsync(1_000)
        const outcome = probed.call(false).catch((e: unknown) => e)
        expect(probed.signal?.aborted).toBe(false)
        await vi.advanceTimersByTimeAsync(500)
        const error = await outcome
        expect(isCircuitProbeTimeoutError(error)).toBe(true)
        expect(probed.signal?.aborted).toBe(true)
        expect(probed.signal?.reason).toBe(error)
      })
    })
  })

  describe('over decorators that store data on the method', () => {
    // Like NestJS's SetMetadata (behind @Get, @Roles and guards): metadata on the method itself.
    function SetMetadata(key: string, value: unknown) {
      return (...args: unknown[]): void => {
        const define = (
          Reflect as unknown as { defineMetadata(k: string, v: unknown, t: object): void }
        ).defineMetadata
        define(key, value, decorated(args))
      }
    }
    // Like libraries that mark a method with plain properties.
    function Tag(key: string, value: unknown) {
      return (...args: unknown[]): void => {
        Object.assign(decorated(args), { [key]: value, [Symbol.for(key)]: value })
      }
    }
    const decorated = (args: unknown[]): object =>
      (typeof args[1] === 'object' ? args[0] : (args[2] as PropertyDescriptor).value) as object

    function routes() {
      const registry = new BreakerRegistry()
      class Routes {
        @Retry({ maxAttempts: 2, backoff: fast })
        @Tag('path', '/one')
        async one(id: string): Promise<string> {
          return id
        }

        @Fallback(() => 'fallback')
        @Retry({ maxAttempts: 2, backoff: fast })
        @CircuitBreaker('tagged', { registry })
        @Timeout(1_000)
        @Tag('path', '/all')
        async all(id: string): Promise<string> {
          return id
        }
      }
      return Routes
    }

    it('keeps properties set on the method under one decorator or the full stack', async () => {
      const Routes = routes()
      for (const [name, path] of [
        ['one', '/one'],
        ['all', '/all'],
      ] as const) {
        const method = Routes.prototype[name] as unknown as Record<PropertyKey, unknown>
        expect([method.path, method[Symbol.for('path')], method.name]).toEqual([path, path, name])
      }
      await expect(new Routes().all('x')).resolves.toBe('x')
    })

    it.runIf(hasReflectMetadata)(
      'keeps reflect-metadata stored on the method (NestJS SetMetadata)',
      () => {
        class Guarded {
          @Retry({ maxAttempts: 2, backoff: fast })
          @SetMetadata('roles', ['admin'])
          async one(id: string): Promise<string> {
            return id
          }

          @Fallback(() => 'fallback')
          @Retry({ maxAttempts: 2, backoff: fast })
          @CircuitBreaker('guarded', { registry: new BreakerRegistry() })
          @Timeout(1_000)
          @SetMetadata('path', '/all')
          @SetMetadata('roles', ['admin'])
          async all(id: string): Promise<string> {
            return id
          }
        }
        expect(getMetadata('roles', Guarded.prototype.one)).toEqual(['admin'])
        expect(getMetadata('roles', Guarded.prototype.all)).toEqual(['admin'])
        expect(getMetadata('path', Guarded.prototype.all)).toBe('/all')
        if (decoratorMode === 'legacy') {
          expect(getMetadata('design:paramtypes', Guarded.prototype, 'all')).toEqual([String])
        }
      },
    )
  })

  describe('getResiliencePolicies()', () => {
    class Base {
      @Retry({ maxAttempts: 2 })
      @Timeout(1_000)
      async load(): Promise<void> {}

      @CircuitBreaker('base-static')
      static async ping(): Promise<void> {}

      plain(): void {}
    }
    class Child extends Base {
      @Timeout(5)
      async save(): Promise<void> {}
    }

    it('lists a method’s policies, outermost first, from the class, prototype or instance', () => {
      const expected = [
        { kind: 'retry', options: { maxAttempts: 2 }, name: undefined },
        { kind: 'timeout', timeoutMs: 1_000 },
      ]
      expect(getResiliencePolicies(Base, 'load')).toEqual(expected)
      expect(getResiliencePolicies(Base.prototype, 'load')).toEqual(expected)
      expect(getResiliencePolicies(new Base(), 'load')).toEqual(expected)
    })

    it('lists static methods through the class', () => {
      expect(getResiliencePolicies(Base, 'ping')).toEqual([
        { kind: 'circuit-breaker', breaker: 'base-static' },
      ])
    })

    it('sees inherited methods from a subclass and keeps classes apart', () => {
      expect(getResiliencePolicies(new Child(), 'load')).toHaveLength(2)
      expect(getResiliencePolicies(Child, 'save')).toEqual([{ kind: 'timeout', timeoutMs: 5 }])
      expect(getResiliencePolicies(Base, 'save')).toEqual([])
    })

    it('is empty for an undecorated override in a subclass', () => {
      class Override extends Base {
        override async load(): Promise<void> {}
        static override async ping(): Promise<void> {}
      }
      expect(getResiliencePolicies(Override, 'load')).toEqual([])
      expect(getResiliencePolicies(new Override(), 'load')).toEqual([])
      expect(getResiliencePolicies(Override, 'ping')).toEqual([])
      class Redecorated extends Base {
        @Timeout(7)
        override async load(): Promise<void> {}
      }
      expect(getResiliencePolicies(Redecorated, 'load')).toEqual([
        { kind: 'timeout', timeoutMs: 7 },
      ])
    })

    it('is empty for undecorated methods', () => {
      expect(getResiliencePolicies(Base, 'plain')).toEqual([])
    })

    it.runIf(decoratorMode === 'legacy' && hasReflectMetadata)(
      'records under reflect-metadata and keeps emitted design metadata',
      () => {
        expect(getMetadata(RESILIENCE_METADATA_KEY, Base.prototype, 'load')).toHaveLength(2)
        expect(getMetadata('design:returntype', Base.prototype, 'load')).toBe(Promise)
      },
    )

    it.runIf(decoratorMode === 'standard')('records in the class’s Symbol.metadata', () => {
      const metadata = (Symbol as { metadata?: symbol }).metadata
      expect(typeof metadata).toBe('symbol')
      expect((Base as unknown as Record<symbol, unknown>)[metadata as symbol]).toBeTypeOf('object')
    })
  })

  describe('when misapplied', () => {
    it('throws a TypeError on a field', () => {
      expect(() => {
        class Field {
          // @ts-expect-error the decorators only type-check on methods
          @Retry()
          value = 1
        }
        return Field
      }).toThrow(TypeError)
    })
  })
})
