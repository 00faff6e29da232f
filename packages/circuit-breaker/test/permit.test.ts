import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type BreakerPermit,
  CircuitBreaker,
  type CircuitBreakerEvents,
  type CircuitBreakerOptions,
  isCircuitOpenError,
  isCircuitProbeTimeoutError,
} from '../src/index.js'
import { deferred, recordTransitions } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

/** Trips, fails its first probe, then closes on the second. */
const TRIP_REOPEN_CLOSE = [
  'closed->open',
  'open->half-open',
  'half-open->open',
  'open->half-open',
  'half-open->closed',
]

/** What `acquire()` threw, or undefined when it admitted the call. */
function refusal(breaker: CircuitBreaker): unknown {
  try {
    breaker.acquire()
    return undefined
  } catch (error) {
    return error
  }
}

const notFound = () => Object.assign(new Error('not found'), { status: 404 })

describe('CircuitBreaker.acquire()', () => {
  it('goes closed -> open -> half-open -> open -> half-open -> closed on reported outcomes', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2, openMs: 1_000, successThreshold: 2 })
    const seen = recordTransitions(breaker)
    for (let i = 0; i < 2; i++) breaker.acquire().failure(new Error('boom'))
    expect(breaker.state).toBe('open')
    const open = refusal(breaker)
    expect(isCircuitOpenError(open)).toBe(true)
    expect(open).toMatchObject({ retryAfterMs: 1_000 })
    vi.advanceTimersByTime(1_000)
    const failedProbe = breaker.acquire()
    expect(failedProbe.probe).toBe(true)
    failedProbe.failure(new Error('still down'))
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(2_000)
    breaker.acquire().success()
    expect(breaker.state).toBe('half-open')
    breaker.acquire().success()
    expect(seen).toEqual(TRIP_REOPEN_CLOSE)
    expect(breaker.snapshot().totals).toEqual({
      calls: 5,
      successes: 2,
      failures: 3,
      slowCalls: 0,
      rejections: 1,
    })
  })

  it('classifies with isFailure: an excused error is a success, one after the caller aborted is nothing', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1 })
    breaker.acquire().failure(notFound())
    const controller = new AbortController()
    const permit = breaker.acquire({ signal: controller.signal })
    expect(permit.signal).toBe(controller.signal)
    controller.abort(new Error('bye'))
    permit.failure(new Error('bye'))
    expect(breaker.state).toBe('closed')
    expect(breaker.snapshot().totals).toMatchObject({ calls: 2, successes: 1, failures: 0 })
  })

  it('times a permit from acquire() to its report for slow-call accounting', () => {
    const breaker = new CircuitBreaker({ slowCallMs: 100 })
    const durations: number[] = []
    breaker.on('slowCall', (e) => durations.push(e.durationMs))
    const permit = breaker.acquire()
    vi.advanceTimersByTime(150)
    permit.success()
    breaker.acquire().success()
    expect(durations).toEqual([150])
    expect(breaker.snapshot().totals.slowCalls).toBe(1)
  })

  it('throws an aborted signal’s reason without admitting the call', () => {
    const breaker = new CircuitBreaker()
    const reason = new Error('already gone')
    expect(() => breaker.acquire({ signal: AbortSignal.abort(reason) })).toThrow(reason)
    expect(breaker.snapshot().totals.calls).toBe(0)
  })

  it('counts only the first report of a permit', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 2 })
    const permit = breaker.acquire()
    permit.failure(new Error('boom'))
    permit.failure(new Error('boom'))
    permit.success()
    expect(breaker.state).toBe('closed')
    expect(breaker.snapshot()).toMatchObject({
      consecutiveFailures: 1,
      totals: { calls: 1, successes: 0, failures: 1 },
    })
  })

  it('holds halfOpenMaxCalls probe slots until their permits report, oldest deadline first', () => {
    const breaker = new CircuitBreaker({
      failureThreshold: 1,
      openMs: 1_000,
      halfOpenMaxCalls: 2,
      successThreshold: 3,
      probeTimeoutMs: 3_000,
    })
    breaker.acquire().failure(new Error('boom'))
    vi.advanceTimersByTime(1_000)
    const first = breaker.acquire()
    vi.advanceTimersByTime(1_000)
    const second = breaker.acquire()
    expect(breaker.snapshot().halfOpen).toEqual({ probes: 2, successes: 0 })
    expect(refusal(breaker)).toMatchObject({ retryAfterMs: 2_000 })
    first.success()
    first.success()
    expect(breaker.snapshot().halfOpen).toEqual({ probes: 1, successes: 1 })
    breaker.acquire().success()
    second.success()
    expect(breaker.state).toBe('closed')
  })

  it('settles an abandoned probe on probeTimeoutMs: aborts its signal, reopens, frees the slot', async () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000, probeTimeoutMs: 500 })
    const seen = recordTransitions(breaker)
    breaker.acquire().failure(new Error('boom'))
    vi.advanceTimersByTime(1_000)
    const abandoned = breaker.acquire()
    expect(abandoned.signal?.aborted).toBe(false)
    await vi.advanceTimersByTimeAsync(500)
    expect(isCircuitProbeTimeoutError(abandoned.signal?.reason)).toBe(true)
    expect(breaker.state).toBe('open')
    expect(vi.getTimerCount()).toBe(0)
    // A late report of the timed-out probe changes nothing.
    abandoned.success()
    expect(breaker.state).toBe('open')
    vi.advanceTimersByTime(breaker.snapshot().openMs)
    breaker.acquire().success()
    expect(seen).toEqual(TRIP_REOPEN_CLOSE)
  })

  it('frees a probe’s slot without an outcome when its caller aborted', () => {
    const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 })
    breaker.acquire().failure(new Error('boom'))
    vi.advanceTimersByTime(1_000)
    const controller = new AbortController()
    const probe = breaker.acquire({ signal: controller.signal })
    controller.abort(new Error('bye'))
    expect(probe.signal?.aborted).toBe(true)
    probe.failure(new Error('bye'))
    expect(breaker.snapshot().halfOpen).toEqual({ probes: 0, successes: 0 })
    breaker.acquire().success()
    expect(breaker.state).toBe('closed')
  })

  describe('matches execute()', () => {
    type Outcome = 'ok' | 'fail' | 'excused'
    type Action =
      | { kind: 'call'; outcome: Outcome; durationMs: number }
      | { kind: 'wait'; ms: number }

    const action: fc.Arbitrary<Action> = fc.oneof(
      fc.record({
        kind: fc.constant('call' as const),
        outcome: fc.constantFrom<Outcome>('ok', 'fail', 'excused'),
        durationMs: fc.integer({ min: 0, max: 400 }),
      }),
      fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 1_500 }) }),
    )

    const options: fc.Arbitrary<CircuitBreakerOptions> = fc.record({
      failureThreshold: fc.integer({ min: 1, max: 4 }),
      openMs: fc.integer({ min: 10, max: 1_000 }),
      openMsMultiplier: fc.constantFrom(1, 2),
      halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
      successThreshold: fc.integer({ min: 1, max: 3 }),
      probeTimeoutMs: fc.integer({ min: 50, max: 600 }),
      slowCallMs: fc.option(fc.integer({ min: 1, max: 300 }), { nil: undefined }),
      failureRate: fc.option(
        fc.record({
          threshold: fc.double({ min: 0.1, max: 1, noNaN: true }),
          minimumCalls: fc.integer({ min: 1, max: 5 }),
          window: fc.record({
            kind: fc.constant('count' as const),
            size: fc.integer({ min: 1, max: 6 }),
          }),
        }),
        { nil: undefined },
      ),
    })

    // Every event, with errors reduced to what identifies them.
    function recordEvents(breaker: CircuitBreaker): unknown[] {
      const seen: unknown[] = []
      const names: (keyof CircuitBreakerEvents)[] = [
        'stateChange',
        'success',
        'failure',
        'reject',
        'slowCall',
      ]
      for (const name of names) {
        breaker.on(name, (event) => {
          const { error, ...rest } = event as { error?: unknown }
          seen.push({ name, ...rest, error: describe(error) })
        })
      }
      return seen
    }
    const describe = (error: unknown) =>
      error instanceof Error ? { ...error, type: error.name, message: error.message } : error

    function errorOf(outcome: Outcome): Error {
      return outcome === 'excused' ? notFound() : new Error('boom')
    }

    it('same outcomes give the same events, snapshots and rejections', async () => {
      await fc.assert(
        fc.asyncProperty(options, fc.array(action, { maxLength: 40 }), async (opts, actions) => {
          vi.setSystemTime(0)
          const viaExecute = new CircuitBreaker({ ...opts, name: 'b' })
          const viaPermit = new CircuitBreaker({ ...opts, name: 'b' })
          const executeEvents = recordEvents(viaExecute)
          const permitEvents = recordEvents(viaPermit)
          for (const step of actions) {
            if (step.kind === 'wait') {
              await vi.advanceTimersByTimeAsync(step.ms)
              continue
            }
            const work = deferred()
            // Never awaited when execute() turned the call away.
            work.promise.catch(() => {})
            const executed = viaExecute
              .execute(() => work.promise)
              .then(
                () => 'ok',
                (error: unknown) => describe(error),
              )
            let permit: BreakerPermit | undefined
            let refused: unknown
            try {
              permit = viaPermit.acquire()
            } catch (error) {
              refused = describe(error)
            }
            let timedOut: unknown
            permit?.signal?.addEventListener('abort', () => {
              timedOut = describe(permit?.signal?.reason)
            })
            await vi.advanceTimersByTimeAsync(step.durationMs)
            if (step.outcome === 'ok') {
              work.resolve('ok')
              permit?.success()
            } else {
              const error = errorOf(step.outcome)
              work.reject(error)
              permit?.failure(error)
            }
            const expected =
              refused ??
              timedOut ??
              (step.outcome === 'ok' ? 'ok' : describe(errorOf(step.outcome)))
            expect(await executed).toEqual(expected)
            expect(viaPermit.snapshot()).toEqual(viaExecute.snapshot())
          }
          expect(permitEvents).toEqual(executeEvents)
        }),
        { numRuns: 150 },
      )
    })
  })
})
