// Compile-only (checked by `tsc --noEmit`, which includes test/): public options accept an
// explicit `undefined` under exactOptionalPropertyTypes, so optional values can be forwarded.
import type { Registry } from 'prom-client'
import { describe, expectTypeOf, it } from 'vitest'
import {
  BreakerRegistry,
  type BreakerRegistryOptions,
  type CircuitBreakerOptions,
  type FailureRateOptions,
  type TimeWindowOptions,
} from '../src/index.js'
import type { CircuitBreakerMetricsOptions } from '../src/prometheus.js'
import type { RedisBreakerSyncOptions, RedisClient } from '../src/redis.js'

declare const maybeNumber: number | undefined
declare const maybeString: string | undefined

describe('public options', () => {
  it('accept undefined for every optional field', () => {
    const window: TimeWindowOptions = { kind: 'time', sizeMs: 10_000, buckets: maybeNumber }
    const rate: FailureRateOptions = { threshold: 0.5, minimumCalls: maybeNumber, window }
    const options: CircuitBreakerOptions = {
      name: maybeString,
      failureThreshold: maybeNumber,
      failureRate: undefined,
      slowCallMs: maybeNumber,
      slowCallRate: maybeNumber,
      openMs: maybeNumber,
      maxOpenMs: maybeNumber,
      openMsMultiplier: maybeNumber,
      halfOpenMaxCalls: maybeNumber,
      successThreshold: maybeNumber,
      probeTimeoutMs: maybeNumber,
      isFailure: undefined,
    }
    const registry: BreakerRegistryOptions = { defaults: undefined }
    new BreakerRegistry(registry).get('typed-options', { openMs: maybeNumber, failureRate: rate })
    expectTypeOf(options).toExtend<CircuitBreakerOptions>()
    expectTypeOf<{
      registry: Registry | undefined
      prefix: string | undefined
    }>().toExtend<CircuitBreakerMetricsOptions>()
    expectTypeOf<{
      client: RedisClient
      subscriber: RedisClient | undefined
      prefix: string | undefined
      quorum: number | undefined
      instanceId: string | undefined
      leaseRetryMs: number | undefined
      onError: undefined
    }>().toExtend<RedisBreakerSyncOptions>()
  })
})
