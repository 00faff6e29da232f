import type { CircuitBreaker as Breaker, Guarded } from '@steadfast/circuit-breaker'
import { anySignal, type CallScope, scopeStorage } from '../context.js'
import type { AnyMethod } from './decorate.js'

/** @internal What `@CircuitBreaker` put around a method: the method and how to find its breaker. */
export interface Guard {
  readonly method: AnyMethod
  readonly breaker: () => Breaker
}

// Keyed by the wrapper `@CircuitBreaker` returned, so an `@Retry` applied right over it can run
// both layers in one wrapper. A WeakMap, not a property: properties of a method are copied onto
// the wrappers above it, and the guard would then outlive a decorator placed in between.
const guards = new WeakMap<AnyMethod, Guard>()

/** @internal Remembers that `wrapper` is `guard.method` behind `guard.breaker()`. */
export function rememberGuard(wrapper: AnyMethod, guard: Guard): void {
  guards.set(wrapper, guard)
}

/** @internal The guard of a method `@CircuitBreaker` returned, or undefined for any other. */
export function guardOf(method: AnyMethod): Guard | undefined {
  return guards.get(method)
}

/**
 * @internal `method` called on `self` with `args`, as the breaker's guarded function. Reads the
 * caller's scope only when the breaker passes a signal: it is then still on the caller's stack.
 */
export function guardedCall(method: AnyMethod, self: unknown, args: unknown[]): Guarded<unknown> {
  return (given) => {
    if (given === undefined) return method.apply(self, args)
    const scope = scopeStorage.getStore()
    if (given === scope?.signal) return method.apply(self, args)
    // A half-open probe's own signal, aborted on probeTimeoutMs: the method reads it from
    // retryContext(), so a probe timeout cancels the method's work too.
    return scopeStorage.run(probeScope(scope, given), () => method.apply(self, args))
  }
}

/** @internal Runs `call` through `breaker`, passing it the caller's signal. */
export function executeGuarded(
  breaker: Breaker,
  call: Guarded<unknown>,
  signal: AbortSignal | undefined,
): Promise<unknown> {
  // Without a signal the breaker takes its lean path (no signal bookkeeping).
  return signal === undefined ? breaker.execute(call) : breaker.execute(call, { signal })
}

// The caller's scope with the probe's signal joined to its own.
function probeScope(scope: CallScope | undefined, probe: AbortSignal): CallScope {
  return {
    attempt: scope?.attempt ?? 1,
    signal: anySignal(scope?.signal, probe),
    deadline: scope?.deadline,
    retrying: scope?.retrying ?? false,
  }
}
