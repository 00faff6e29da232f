import {
  type CircuitBreaker as Breaker,
  type BreakerRegistry,
  type CircuitBreakerOptions,
  defaultRegistry,
} from '@steadfast/circuit-breaker'
import { scopeStorage } from '../context.js'
import { methodDecorator, type ResilienceDecorator } from './decorate.js'
import { executeGuarded, guardedCall, rememberGuard } from './guard.js'

/** Options of the {@link CircuitBreaker} decorator: breaker options plus the registry to use. */
export interface CircuitBreakerDecoratorOptions extends Omit<CircuitBreakerOptions, 'name'> {
  /** Registry the named breaker comes from. @default defaultRegistry of @steadfast/circuit-breaker */
  registry?: BreakerRegistry | undefined
}

/**
 * Guards the method with a circuit breaker: a breaker instance, or a name resolved in the
 * registry on every call, so every method (in any class) naming 'claude' shares one breaker;
 * `options` configure it if this call creates it. While open, calls reject with
 * `CircuitOpenError`. The attempt's signal (from `retryContext()`) is passed on; a half-open
 * probe's own signal (aborted after `probeTimeoutMs`) joins it in `retryContext().signal` inside
 * the method. Async result.
 * @example @CircuitBreaker('claude', { failureThreshold: 5, openMs: 30_000 })
 */
export function CircuitBreaker(
  nameOrBreaker: string | Breaker,
  options: CircuitBreakerDecoratorOptions = {},
): ResilienceDecorator {
  const { registry = defaultRegistry, ...breakerOptions } = options
  const breaker =
    typeof nameOrBreaker === 'string'
      ? () => registry.get(nameOrBreaker, breakerOptions)
      : () => nameOrBreaker
  const name = typeof nameOrBreaker === 'string' ? nameOrBreaker : nameOrBreaker.name
  return methodDecorator('CircuitBreaker', { kind: 'circuit-breaker', breaker: name }, (method) => {
    const wrapper = function (this: unknown, ...args: unknown[]): Promise<unknown> {
      const signal = scopeStorage.getStore()?.signal
      return executeGuarded(breaker(), guardedCall(method, this, args), signal)
    }
    rememberGuard(wrapper, { method, breaker })
    return wrapper
  })
}
