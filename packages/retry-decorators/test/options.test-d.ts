// Compile-only (checked by `tsc --noEmit`, which includes test/): public options accept an
// explicit `undefined` under exactOptionalPropertyTypes, so optional values can be forwarded.
import type { BreakerRegistry } from '@steadfast/circuit-breaker'
import { describe, expectTypeOf, it } from 'vitest'
import {
  type Backoff,
  CircuitBreaker,
  type CircuitBreakerDecoratorOptions,
  Fallback,
  type FallbackOptions,
  RetryBudget,
  type RetryBudgetOptions,
  type RetryOptions,
  retry,
} from '../src/index.js'

declare const maybeSignal: AbortSignal | undefined
declare const maybeNumber: number | undefined
declare const maybeBudget: RetryBudget | undefined
declare const maybeRegistry: BreakerRegistry | undefined

describe('public options', () => {
  it('accept undefined for every optional field', () => {
    expectTypeOf(retry(() => 1, { signal: maybeSignal })).toEqualTypeOf<Promise<number>>()
    const all: RetryOptions<number> = {
      maxAttempts: maybeNumber,
      backoff: undefined,
      retryIf: undefined,
      retryOnResult: undefined,
      maxHintMs: maybeNumber,
      maxElapsedMs: maybeNumber,
      signal: maybeSignal,
      budget: maybeBudget,
      onRetry: undefined,
      nested: undefined,
      random: undefined,
    }
    expectTypeOf(retry(() => 1, all)).toEqualTypeOf<Promise<number>>()
    const backoffs: Backoff[] = [
      { kind: undefined, initialMs: maybeNumber, multiplier: maybeNumber, maxMs: maybeNumber },
      { kind: 'constant', delayMs: maybeNumber, jitter: undefined },
      { kind: 'linear', initialMs: maybeNumber, incrementMs: maybeNumber, maxMs: maybeNumber },
    ]
    const budget: RetryBudgetOptions = {
      ratio: maybeNumber,
      minPerSecond: maybeNumber,
      windowMs: maybeNumber,
    }
    new RetryBudget(budget)
    const breaker: CircuitBreakerDecoratorOptions = {
      registry: maybeRegistry,
      openMs: maybeNumber,
      failureThreshold: maybeNumber,
    }
    CircuitBreaker('typed-options', breaker)
    const fallback: FallbackOptions = { on: undefined }
    Fallback(() => 'fallback', fallback)
    expectTypeOf({ signal: maybeSignal }).toExtend<RetryOptions>()
    expectTypeOf(backoffs).toExtend<Backoff[]>()
  })
})
