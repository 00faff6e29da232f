import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker, type CircuitState, type StateChangeReason } from '../src/index.js'
import { deferred } from './helpers.js'

beforeEach(() => {
  vi.useFakeTimers()
})
afterEach(() => {
  vi.useRealTimers()
})

type Action =
  | { kind: 'call'; fails: boolean }
  | { kind: 'start' }
  | { kind: 'settle'; fails: boolean }
  | { kind: 'advance'; ms: number }

const action: fc.Arbitrary<Action> = fc.oneof(
  fc.record({ kind: fc.constant('call' as const), fails: fc.boolean() }),
  fc.record({ kind: fc.constant('start' as const) }),
  fc.record({ kind: fc.constant('settle' as const), fails: fc.boolean() }),
  fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 1_500 }) }),
)

const failureRate = fc.record({
  threshold: fc.double({ min: 0.1, max: 1, noNaN: true }),
  minimumCalls: fc.integer({ min: 1, max: 6 }),
  window: fc.oneof(
    fc.record({ kind: fc.constant('count' as const), size: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('time' as const), sizeMs: fc.integer({ min: 100, max: 3_000 }) }),
  ),
})

const options = fc.record({
  failureRate: fc.option(failureRate, { nil: undefined }),
  failureThreshold: fc.integer({ min: 1, max: 4 }),
  openMs: fc.integer({ min: 10, max: 1_000 }),
  maxOpenMs: fc.integer({ min: 10, max: 4_000 }),
  halfOpenMaxCalls: fc.integer({ min: 1, max: 3 }),
  successThreshold: fc.integer({ min: 1, max: 3 }),
  probeTimeoutMs: fc.integer({ min: 50, max: 2_000 }),
})

const LEAVES_HALF_OPEN: StateChangeReason[] = ['probe-failed', 'probe-timeout', 'probes-succeeded']

describe('CircuitBreaker properties', () => {
  it('never calls fn while open and never leaves half-open without the probes’ outcome', async () => {
    await fc.assert(
      fc.asyncProperty(options, fc.array(action, { maxLength: 60 }), async (opts, actions) => {
        const { failureRate: rate, ...rest } = opts
        const breaker = new CircuitBreaker(rate ? { ...rest, failureRate: rate } : rest)
        const pending: ReturnType<typeof deferred<string>>[] = []
        // Probe outcomes (settled calls that were admitted while half-open) since entering half-open.
        let probeOutcomes = { ok: 0, failed: 0 }
        let admittedWhileOpen = 0
        const violations: string[] = []
        breaker.on('stateChange', (e) => {
          if (e.to === 'half-open') probeOutcomes = { ok: 0, failed: 0 }
          if (e.from !== 'half-open') return
          if (!LEAVES_HALF_OPEN.includes(e.reason)) violations.push(`left half-open by ${e.reason}`)
          if (e.reason === 'probes-succeeded' && probeOutcomes.ok < opts.successThreshold) {
            violations.push(`closed after ${probeOutcomes.ok} probe successes`)
          }
          if (e.reason === 'probe-failed' && probeOutcomes.failed < 1) {
            violations.push('reopened without a failed probe')
          }
        })

        const run = (fails: boolean, hold: boolean): void => {
          const stateBefore: CircuitState = breaker.state
          let admitted = false
          const call = breaker.execute(() => {
            admitted = true
            if (stateBefore === 'open') admittedWhileOpen++
            const asProbe = stateBefore === 'half-open'
            const settleWith = (failed: boolean) => {
              if (asProbe) probeOutcomes[failed ? 'failed' : 'ok']++
            }
            if (hold) {
              const d = deferred<string>()
              pending.push(d)
              return d.promise.then(
                (v) => {
                  settleWith(false)
                  return v
                },
                (error: unknown) => {
                  settleWith(true)
                  throw error
                },
              )
            }
            settleWith(fails)
            return fails ? Promise.reject(new Error('down')) : Promise.resolve('up')
          })
          call.catch(() => {})
          if (stateBefore === 'open' && admitted) violations.push('admitted while open')
        }

        for (const a of actions) {
          if (a.kind === 'call') run(a.fails, false)
          else if (a.kind === 'start') run(false, true)
          else if (a.kind === 'settle') {
            const d = pending.shift()
            if (a.fails) d?.reject(new Error('down'))
            else d?.resolve('up')
          } else await vi.advanceTimersByTimeAsync(a.ms)
          await vi.advanceTimersByTimeAsync(0)
        }
        expect(admittedWhileOpen).toBe(0)
        expect(violations).toEqual([])
      }),
      { numRuns: 300 },
    )
  })
})
