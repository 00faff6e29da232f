import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  CircuitBreaker,
  CircuitBreakerError,
  CircuitOpenError,
  isCircuitOpenError,
  isCircuitProbeTimeoutError,
} from '../src/index.js'
import { deferred, fail, ok, recordTransitions, settle } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

async function tripOpen(breaker: CircuitBreaker, failures = 5): Promise<void> {
  for (let i = 0; i < failures; i++) await settle(breaker, fail())
}

/** A classifier with a bug: errors without a `response` make it throw a TypeError. */
const buggyIsFailure = (e: unknown) =>
  (e as { response: { status: number } }).response.status >= 500

/**
 * Holds back the microtasks the breaker surfaces user-code bugs with; the returned function
 * stops holding, runs them and returns what they threw.
 */
function holdSurfaced(): () => unknown[] {
  const held: (() => void)[] = []
  const spy = vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
    held.push(task)
  })
  return () => {
    spy.mockRestore()
    return held.flatMap((task) => {
      try {
        task()
        return []
      } catch (bug) {
        return [bug]
      }
    })
  }
}

describe('CircuitBreaker', () => {
  describe('when closed', () => {
    it("rejects with the call's own error, not throwing, when isFailure throws", async () => {
      const surfaced = holdSurfaced()
      const breaker = new CircuitBreaker({ failureThreshold: 2, isFailure: buggyIsFailure })
      const error = new Error('sync')
      const syncCall = breaker.execute(() => {
        throw error
      })
      await expect(syncCall).rejects.toBe(error)
      await expect(breaker.execute(fail('async'))).rejects.toThrow('async')
      expect(surfaced()).toEqual([expect.any(TypeError), expect.any(TypeError)])
      expect(breaker.state).toBe('open')
    })

    it('passes values and errors through unchanged', async () => {
      const breaker = new CircuitBreaker()
      await expect(breaker.execute(async () => 42)).resolves.toBe(42)
      const error = new Error('boom')
      await expect(
        breaker.execute(async () => {
          throw error
        }),
      ).rejects.toBe(error)
      expect(breaker.state).toBe('closed')
    })

    it('accepts synchronous functions, values and throws alike', async () => {
      const breaker = new CircuitBreaker()
      await expect(breaker.execute(() => 'sync')).resolves.toBe('sync')
      const error = new Error('sync boom')
      await expect(
        breaker.execute(() => {
          throw error
        }),
      ).rejects.toBe(error)
      expect(breaker.snapshot().consecutiveFailures).toBe(1)
    })

    it('opens after failureThreshold consecutive failures', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 3 })
      await tripOpen(breaker, 2)
      expect(breaker.state).toBe('closed')
      await tripOpen(breaker, 1)
      expect(breaker.state).toBe('open')
    })

    it('defaults to five consecutive failures', async () => {
      const breaker = new CircuitBreaker()
      await tripOpen(breaker, 4)
      expect(breaker.state).toBe('closed')
      await tripOpen(breaker, 1)
      expect(breaker.state).toBe('open')
    })

    it('restarts the consecutive count after a success', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 3 })
      await tripOpen(breaker, 2)
      await settle(breaker, ok)
      await tripOpen(breaker, 2)
      expect(breaker.state).toBe('closed')
    })

    it('does not count HTTP 4xx client errors other than 408 and 429', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 2 })
      const status = (code: number) => async () => {
        throw Object.assign(new Error(`HTTP ${code}`), { status: code })
      }
      for (let i = 0; i < 5; i++) await settle(breaker, status(404))
      await settle(breaker, status(422))
      expect(breaker.state).toBe('closed')
      await settle(breaker, status(429))
      await settle(breaker, status(408))
      expect(breaker.state).toBe('open')
    })

    it('counts 5xx errors and errors without a status', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 2 })
      await settle(breaker, async () => {
        throw Object.assign(new Error('HTTP 503'), { statusCode: 503 })
      })
      await settle(breaker, async () => {
        throw 'a string'
      })
      expect(breaker.state).toBe('open')
    })

    it('uses a custom isFailure', async () => {
      const breaker = new CircuitBreaker({
        failureThreshold: 1,
        isFailure: (error) => (error as Error).message === 'counts',
      })
      await settle(breaker, fail('ignored'))
      expect(breaker.state).toBe('closed')
      await settle(breaker, fail('counts'))
      expect(breaker.state).toBe('open')
    })

    it('passes the caller signal to the function', async () => {
      const breaker = new CircuitBreaker()
      const controller = new AbortController()
      const seen = await breaker.execute(async (signal) => signal, { signal: controller.signal })
      expect(seen).toBe(controller.signal)
      expect(await breaker.execute(async (signal) => signal)).toBeUndefined()
    })

    it('rejects with the abort reason without calling fn when the signal is already aborted', async () => {
      const breaker = new CircuitBreaker()
      const fn = vi.fn(ok)
      const reason = new Error('cancelled')
      await expect(breaker.execute(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
      expect(fn).not.toHaveBeenCalled()
      expect(breaker.snapshot().totals.calls).toBe(0)
    })

    it('does not count a failure caused by the caller aborting', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1 })
      const controller = new AbortController()
      const call = breaker.execute(
        (signal) =>
          new Promise((_, reject) => {
            signal?.addEventListener('abort', () => reject(signal.reason))
          }),
        { signal: controller.signal },
      )
      controller.abort(new Error('caller gave up'))
      await expect(call).rejects.toThrow('caller gave up')
      expect(breaker.state).toBe('closed')
      expect(breaker.snapshot().totals.failures).toBe(0)
    })
  })

  describe('when open', () => {
    it('rejects at once with CircuitOpenError without calling fn', async () => {
      const breaker = new CircuitBreaker({ name: 'claude', failureThreshold: 1, openMs: 30_000 })
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(10_000)
      const fn = vi.fn(ok)
      const { error } = await settle(breaker, fn)
      expect(fn).not.toHaveBeenCalled()
      expect(isCircuitOpenError(error)).toBe(true)
      expect(error).toBeInstanceOf(CircuitOpenError)
      expect(error).toBeInstanceOf(CircuitBreakerError)
      expect(error).toMatchObject({
        name: 'CircuitOpenError',
        code: 'ERR_CIRCUIT_OPEN',
        breaker: 'claude',
        retryAfterMs: 20_000,
      })
      expect((error as Error).message).toBe('Circuit "claude" is open; retry in 20000 ms')
      expect((error as Error).stack).toMatch(/^CircuitOpenError: Circuit "claude" is open/)
      expect((error as Error).stack).toContain('circuit-breaker.test.ts')
      expect(breaker.snapshot().totals.rejections).toBe(1)
    })

    it('arms no timer', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1 })
      await tripOpen(breaker, 1)
      await settle(breaker, ok)
      expect(vi.getTimerCount()).toBe(0)
    })

    it('turns half-open once openMs elapsed', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 })
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(999)
      expect(breaker.state).toBe('open')
      vi.advanceTimersByTime(1)
      expect(breaker.state).toBe('half-open')
    })

    it('ignores the late outcome of a call admitted while closed', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 })
      const slow = deferred()
      const inFlight = breaker.execute(() => slow.promise)
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(1_000)
      expect(breaker.state).toBe('half-open')
      slow.resolve('late')
      await inFlight
      expect(breaker.state).toBe('half-open')
      expect(breaker.snapshot().halfOpen.successes).toBe(0)
    })

    it.each([
      ['without a signal', undefined],
      ['with a signal', new AbortController().signal],
    ])('ignores calls admitted before a trip once it closed again (%s)', async (_, signal) => {
      // An LLM call outliving openMs must not count against the next closed period.
      const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000 })
      const slow = [deferred(), deferred()]
      const inFlight = slow.map((d) => breaker.execute(() => d.promise, { signal }).catch(() => {}))
      await tripOpen(breaker, 2)
      vi.advanceTimersByTime(1_000)
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(breaker.state).toBe('closed')
      for (const d of slow) d.reject(new Error('late failure'))
      await Promise.all(inFlight)
      expect(breaker.state).toBe('closed')
      expect(breaker.snapshot()).toMatchObject({ consecutiveFailures: 0, totals: { failures: 4 } })
    })

    it('rejects with the abort reason, not as a rejection, when the signal is already aborted', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1 })
      await tripOpen(breaker, 1)
      const fn = vi.fn(ok)
      const reason = new Error('caller gave up')
      await expect(breaker.execute(fn, { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
      expect(fn).not.toHaveBeenCalled()
      expect(breaker.snapshot().totals.rejections).toBe(0)
    })
  })

  describe('when half-open', () => {
    async function halfOpen(options: ConstructorParameters<typeof CircuitBreaker>[0] = {}) {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000, ...options })
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(breaker.snapshot().openMs)
      expect(breaker.state).toBe('half-open')
      return breaker
    }

    it('closes after one successful probe by default', async () => {
      const breaker = await halfOpen()
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(breaker.state).toBe('closed')
    })

    it('closes only after successThreshold probe successes', async () => {
      const breaker = await halfOpen({ successThreshold: 3 })
      await settle(breaker, ok)
      await settle(breaker, ok)
      expect(breaker.state).toBe('half-open')
      await settle(breaker, ok)
      expect(breaker.state).toBe('closed')
    })

    it('reopens when a probe fails', async () => {
      const breaker = await halfOpen({ successThreshold: 2 })
      await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.state).toBe('open')
    })

    it('admits halfOpenMaxCalls concurrent probes and rejects every other caller at once', async () => {
      const breaker = await halfOpen({ halfOpenMaxCalls: 2, successThreshold: 2 })
      const probes = [deferred(), deferred()]
      const running = probes.map((p) => breaker.execute(() => p.promise))
      const fn = vi.fn(ok)
      const { error } = await settle(breaker, fn)
      expect(fn).not.toHaveBeenCalled()
      expect(isCircuitOpenError(error)).toBe(true)
      expect((error as CircuitOpenError).retryAfterMs).toBe(10_000)
      for (const p of probes) p.resolve('probed')
      await expect(Promise.all(running)).resolves.toEqual(['probed', 'probed'])
      expect(breaker.state).toBe('closed')
    })

    it('tells callers turned away by several probes when the oldest running one will have settled', async () => {
      const breaker = await halfOpen({ halfOpenMaxCalls: 2, successThreshold: 3 })
      const [one, two, three] = [deferred(), deferred(), deferred()]
      const retryAfter = async () =>
        ((await settle(breaker, ok)).error as CircuitOpenError).retryAfterMs
      const first = breaker.execute(() => one.promise)
      await vi.advanceTimersByTimeAsync(6_000)
      const second = breaker.execute(() => two.promise)
      await vi.advanceTimersByTimeAsync(1_000)
      // The first probe settles or times out within 3 s; the second only within 9 s.
      expect(await retryAfter()).toBe(3_000)
      one.resolve('one')
      await first
      const third = breaker.execute(() => three.promise)
      await vi.advanceTimersByTimeAsync(1_000)
      expect(await retryAfter()).toBe(8_000)
      two.resolve('two')
      three.resolve('three')
      await expect(Promise.all([second, third])).resolves.toEqual(['two', 'three'])
      expect(breaker.state).toBe('closed')
    })

    it('frees a probe slot once a probe settles', async () => {
      const breaker = await halfOpen({ successThreshold: 2 })
      const first = deferred()
      const running = breaker.execute(() => first.promise)
      expect(isCircuitOpenError((await settle(breaker, ok)).error)).toBe(true)
      first.resolve('one')
      await running
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(breaker.state).toBe('closed')
    })

    it('counts a probe slower than probeTimeoutMs as failed, aborts it and reopens', async () => {
      const breaker = await halfOpen({ probeTimeoutMs: 500 })
      let probeSignal: AbortSignal | undefined
      const hung = breaker.execute((signal) => {
        probeSignal = signal
        return new Promise(() => {})
      })
      const outcome = hung.catch((error: unknown) => error)
      await vi.advanceTimersByTimeAsync(500)
      const error = await outcome
      expect(isCircuitProbeTimeoutError(error)).toBe(true)
      expect(error).toMatchObject({ code: 'ERR_CIRCUIT_PROBE_TIMEOUT', timeoutMs: 500 })
      expect(probeSignal?.aborted).toBe(true)
      expect(breaker.state).toBe('open')
      expect(vi.getTimerCount()).toBe(0)
    })

    it('frees the slot without an outcome when the caller aborts a probe', async () => {
      const breaker = await halfOpen()
      const controller = new AbortController()
      const probe = breaker.execute(
        (signal) =>
          new Promise((_, reject) =>
            signal?.addEventListener('abort', () => reject(signal.reason)),
          ),
        { signal: controller.signal },
      )
      controller.abort(new Error('bye'))
      await expect(probe).rejects.toThrow('bye')
      expect(breaker.state).toBe('half-open')
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(breaker.state).toBe('closed')
    })

    it('counts an excused error (HTTP 404) as a successful probe', async () => {
      const breaker = await halfOpen()
      await settle(breaker, async () => {
        throw Object.assign(new Error('not found'), { status: 404 })
      })
      expect(breaker.state).toBe('closed')
    })

    it('settles the caller and frees the slot when isFailure throws', async () => {
      const surfaced = holdSurfaced()
      const breaker = await halfOpen({ probeTimeoutMs: 100, isFailure: buggyIsFailure })
      const error = new Error('no response')
      const probe = breaker.execute(async () => {
        throw error
      })
      await expect(probe).rejects.toBe(error)
      expect(breaker.state).toBe('open')
      // One from the trip that made it half-open, one from the probe.
      expect(surfaced()).toEqual([expect.any(TypeError), expect.any(TypeError)])
      vi.advanceTimersByTime(1_000)
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(breaker.state).toBe('closed')
    })

    it('arms no probe timer for probeTimeoutMs Infinity and tells others to wait openMs', async () => {
      const breaker = await halfOpen({ probeTimeoutMs: Number.POSITIVE_INFINITY })
      const probe = deferred()
      const running = breaker.execute(() => probe.promise)
      expect(vi.getTimerCount()).toBe(0)
      const { error } = await settle(breaker, ok)
      expect(error).toMatchObject({ retryAfterMs: 1_000 })
      vi.advanceTimersByTime(2 ** 31)
      expect(breaker.snapshot().halfOpen.probes).toBe(1)
      probe.resolve('late but fine')
      await expect(running).resolves.toBe('late but fine')
      expect(breaker.state).toBe('closed')
    })

    it('does not keep the process alive for a probe nobody awaits', async () => {
      vi.useRealTimers()
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 0, probeTimeoutMs: 60_000 })
      await settle(breaker, fail())
      const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
      void breaker.execute(() => new Promise(() => {}))
      expect(breaker.snapshot().halfOpen.probes).toBe(1)
      expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout')).toHaveLength(before)
    })

    it('ignores probes that settle after a reset', async () => {
      const breaker = await halfOpen()
      const probe = deferred()
      const running = breaker.execute(() => probe.promise)
      breaker.reset()
      probe.reject(new Error('stale failure'))
      await expect(running).rejects.toThrow('stale failure')
      expect(breaker.state).toBe('closed')
    })
  })

  describe('when it trips repeatedly', () => {
    it('doubles the open time up to maxOpenMs and restarts after closing', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000, maxOpenMs: 5_000 })
      const openTimes: number[] = []
      breaker.on('stateChange', (e) => {
        if (e.to === 'open') openTimes.push(e.openMs ?? -1)
      })
      await tripOpen(breaker, 1)
      for (let i = 0; i < 4; i++) {
        vi.advanceTimersByTime(breaker.snapshot().openMs)
        await settle(breaker, fail())
      }
      expect(openTimes).toEqual([1_000, 2_000, 4_000, 5_000, 5_000])
      vi.advanceTimersByTime(4_999)
      expect(breaker.state).toBe('open')
      vi.advanceTimersByTime(1)
      await settle(breaker, ok)
      expect(breaker.state).toBe('closed')
      await tripOpen(breaker, 1)
      expect(openTimes.at(-1)).toBe(1_000)
    })

    it('uses openMsMultiplier as the growth factor', async () => {
      const breaker = new CircuitBreaker({
        failureThreshold: 1,
        openMs: 100,
        maxOpenMs: 10_000,
        openMsMultiplier: 3,
      })
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(100)
      await settle(breaker, fail())
      expect(breaker.snapshot().openMs).toBe(300)
    })

    it('keeps openMs constant without maxOpenMs', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 })
      await tripOpen(breaker, 1)
      vi.advanceTimersByTime(1_000)
      await settle(breaker, fail())
      expect(breaker.snapshot().openMs).toBe(1_000)
    })
  })

  describe('isolate() and reset()', () => {
    it('isolate() holds the circuit open until reset()', async () => {
      const breaker = new CircuitBreaker({ name: 'db', openMs: 10 })
      const transitions = recordTransitions(breaker)
      breaker.isolate()
      vi.advanceTimersByTime(1_000_000)
      expect(breaker.state).toBe('open')
      const { error } = await settle(breaker, ok)
      expect(error).toMatchObject({ retryAfterMs: Number.POSITIVE_INFINITY })
      expect((error as Error).message).toBe('Circuit "db" is isolated')
      expect(breaker.snapshot().isolated).toBe(true)
      breaker.trip({ openMs: 5 })
      vi.advanceTimersByTime(10)
      expect(breaker.state).toBe('open')
      breaker.reset()
      expect(breaker.state).toBe('closed')
      await expect(breaker.execute(ok)).resolves.toBe('ok')
      expect(transitions).toEqual(['closed->open', 'open->closed'])
    })

    it('isolate() while open reports an unbounded open time until reset()', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 })
      await tripOpen(breaker, 1)
      breaker.isolate()
      expect(breaker.snapshot()).toMatchObject({
        isolated: true,
        openMs: Number.POSITIVE_INFINITY,
        retryAfterMs: Number.POSITIVE_INFINITY,
      })
      breaker.reset()
      expect(breaker.snapshot()).toMatchObject({ state: 'closed', openMs: 1_000 })
    })

    it('reset() clears the counts', async () => {
      const breaker = new CircuitBreaker({ failureThreshold: 3 })
      await tripOpen(breaker, 2)
      breaker.reset()
      await tripOpen(breaker, 2)
      expect(breaker.state).toBe('closed')
    })

    it('trip() opens for the given time and extends a shorter open period', async () => {
      const breaker = new CircuitBreaker({ openMs: 1_000 })
      breaker.trip({ openMs: 200 })
      expect(breaker.state).toBe('open')
      breaker.trip({ openMs: 500 })
      vi.advanceTimersByTime(499)
      expect(breaker.state).toBe('open')
      vi.advanceTimersByTime(1)
      expect(breaker.state).toBe('half-open')
      breaker.trip()
      expect(breaker.snapshot().openMs).toBe(1_000)
    })
  })

  describe('events', () => {
    it('emits stateChange, success, failure and reject in order', async () => {
      const breaker = new CircuitBreaker({ name: 'svc', failureThreshold: 2, openMs: 100 })
      const seen: string[] = []
      breaker.on('stateChange', (e) => seen.push(`state:${e.from}->${e.to}:${e.reason}`))
      breaker.on('success', (e) => seen.push(`success:${e.probe}`))
      breaker.on('failure', (e) => seen.push(`failure:${(e.error as Error).message}`))
      breaker.on('reject', (e) => seen.push(`reject:${e.state}:${e.error.breaker}`))
      await settle(breaker, ok)
      await tripOpen(breaker, 2)
      await settle(breaker, ok)
      vi.advanceTimersByTime(100)
      await settle(breaker, ok)
      expect(seen).toEqual([
        'success:false',
        'failure:boom',
        'failure:boom',
        'state:closed->open:failures',
        'reject:open:svc',
        'state:open->half-open:open-elapsed',
        'success:true',
        'state:half-open->closed:probes-succeeded',
      ])
    })

    it('reports durations and excused errors', async () => {
      const breaker = new CircuitBreaker()
      const durations: number[] = []
      const excused: unknown[] = []
      breaker.on('success', (e) => {
        durations.push(e.durationMs)
        if ('error' in e) excused.push(e.error)
      })
      const call = breaker.execute(() => new Promise((r) => setTimeout(r, 250)))
      await vi.advanceTimersByTimeAsync(250)
      await call
      const notFound = Object.assign(new Error('nf'), { status: 404 })
      await settle(breaker, async () => {
        throw notFound
      })
      expect(durations[0]).toBe(250)
      expect(excused).toEqual([notFound])
    })

    it('reports 0 ms, not the epoch, for a call in flight when timing was switched on', async () => {
      const breaker = new CircuitBreaker()
      const call = deferred()
      const running = breaker.execute(() => call.promise, { signal: new AbortController().signal })
      const durations: number[] = []
      breaker.on('success', (e) => durations.push(e.durationMs))
      vi.advanceTimersByTime(250)
      call.resolve('done')
      await running
      expect(durations).toEqual([0])
    })

    it('removes one copy of a listener added twice per removal, as EventEmitter does', async () => {
      const breaker = new CircuitBreaker()
      const listener = vi.fn()
      breaker.on('success', listener)
      breaker.on('success', listener)
      breaker.off('success', listener)
      await settle(breaker, ok)
      expect(listener).toHaveBeenCalledTimes(1)
    })

    it('stops calling a listener once removed', async () => {
      const breaker = new CircuitBreaker()
      const listener = vi.fn()
      const off = breaker.on('success', listener)
      await settle(breaker, ok)
      off()
      await settle(breaker, ok)
      expect(listener).toHaveBeenCalledTimes(1)
    })
  })

  describe('options', () => {
    it('rejects invalid options', () => {
      expect(() => new CircuitBreaker({ failureThreshold: 0 })).toThrow(RangeError)
      expect(() => new CircuitBreaker({ failureRate: { threshold: 1.5 } })).toThrow(RangeError)
      expect(() => new CircuitBreaker({ halfOpenMaxCalls: 0 })).toThrow(RangeError)
      expect(() => new CircuitBreaker({ probeTimeoutMs: 2 ** 31 })).toThrow(RangeError)
      expect(() => new CircuitBreaker({ probeTimeoutMs: 0 })).toThrow(RangeError)
      expect(() => new CircuitBreaker().trip({ openMs: Number.NaN })).toThrow(RangeError)
      expect(() => new CircuitBreaker().trip({ openMs: -1 })).toThrow(RangeError)
      expect(() => new CircuitBreaker({ slowCallMs: 10, slowCallRate: 0 })).toThrow(RangeError)
      expect(
        () =>
          new CircuitBreaker({
            failureRate: { threshold: 0.5, window: { kind: 'count', size: 0 } },
          }),
      ).toThrow(RangeError)
    })

    it('snapshot() reports the counts', async () => {
      const breaker = new CircuitBreaker({ name: 'snap', failureThreshold: 2 })
      await settle(breaker, ok)
      await settle(breaker, fail())
      expect(breaker.snapshot()).toEqual({
        name: 'snap',
        state: 'closed',
        isolated: false,
        openMs: 30_000,
        retryAfterMs: 0,
        consecutiveFailures: 1,
        window: undefined,
        halfOpen: { probes: 0, successes: 0 },
        totals: { calls: 2, successes: 1, failures: 1, slowCalls: 0, rejections: 0 },
      })
    })
  })
})
