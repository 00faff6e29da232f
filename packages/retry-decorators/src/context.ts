import { AsyncLocalStorage } from 'node:async_hooks'
import { processWide } from './process-wide.js'

/** What a call running under {@link retry} (or a decorator) can read about itself. */
export interface RetryContext {
  /** The current attempt, 1-based. */
  readonly attempt: number
  /** Aborts when the caller gives up or the attempt's {@link Timeout} fires; undefined if nothing can cancel it. */
  readonly signal: AbortSignal | undefined
  /** Epoch ms (`Date.now()` clock) by which the whole call must finish; undefined when unbounded. */
  readonly deadline: number | undefined
}

/** @internal The store carried through async continuations; `retrying` marks an active outer retry. */
export interface CallScope extends RetryContext {
  readonly retrying: boolean
}

/** @internal Shared by every copy of the package, so nesting and `retryContext()` work across them. */
export const scopeStorage: AsyncLocalStorage<CallScope> = processWide(
  'scope-storage',
  () => new AsyncLocalStorage<CallScope>(),
)

/**
 * The current call's `{ attempt, signal, deadline }`, or undefined outside {@link retry},
 * `@Retry`, `@Timeout` and a `@CircuitBreaker` half-open probe. Lets decorated methods read them
 * without changing their signature.
 * @example fetch(url, { signal: retryContext()?.signal })
 */
export function retryContext(): RetryContext | undefined {
  return scopeStorage.getStore()
}

/** @internal Both signals, or whichever exists. */
export function anySignal(
  a: AbortSignal | undefined,
  b: AbortSignal | undefined,
): AbortSignal | undefined {
  if (a === undefined || a === b) return b
  if (b === undefined) return a
  return AbortSignal.any([a, b])
}

/** @internal The earlier of two optional deadlines. */
export function earliest(a: number | undefined, b: number | undefined): number | undefined {
  if (a === undefined) return b
  return b === undefined || a < b ? a : b
}
