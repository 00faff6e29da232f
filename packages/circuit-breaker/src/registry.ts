import { CircuitBreaker } from './circuit-breaker.js'
import { mergeOptions } from './merge-options.js'
import type { CircuitBreakerOptions } from './options.js'

/** Options of a {@link BreakerRegistry}. */
export interface BreakerRegistryOptions {
  /**
   * Options every breaker of this registry starts from; `get(name, options)` overrides them field
   * by field, nested ones included (see {@link BreakerRegistry.get}). @default {}
   */
  defaults?: Omit<CircuitBreakerOptions, 'name'> | undefined
}

/**
 * Named breakers, one per downstream service, so decorators, adapters and metrics share them.
 *
 * @example
 * const breaker = registry.get('claude', { failureThreshold: 5 })
 * registry.get('claude') === breaker // true
 */
export class BreakerRegistry {
  readonly #breakers = new Map<string, CircuitBreaker>()
  readonly #defaults: Omit<CircuitBreakerOptions, 'name'>
  #observers: Observer[] = []

  constructor(options: BreakerRegistryOptions = {}) {
    this.#defaults = options.defaults ?? {}
  }

  /**
   * The breaker named `name`, created from `options` on first use. Later calls return the same
   * instance and ignore `options`: the first caller configures it.
   *
   * `options` are laid over the registry defaults field by field, nested objects included: with
   * defaults `{ failureRate: { threshold: 0.5, minimumCalls: 20 } }`, `{ failureRate: { threshold:
   * 0.2 } }` keeps `minimumCalls: 20`. A field set to `undefined` keeps its default; a `window` of
   * another `kind` replaces the default window whole; functions (`isFailure`) replace.
   */
  get(name: string, options?: Omit<CircuitBreakerOptions, 'name'>): CircuitBreaker {
    let breaker = this.#breakers.get(name)
    if (breaker === undefined) {
      breaker = new CircuitBreaker({ ...mergeOptions(this.#defaults, options), name })
      this.#breakers.set(name, breaker)
      for (const observer of this.#observers) observer.added(breaker)
    }
    return breaker
  }

  /** True when a breaker named `name` exists. */
  has(name: string): boolean {
    return this.#breakers.has(name)
  }

  /**
   * Forgets the breaker named `name` (observers' `onRemove` is called with it); the next `get`
   * creates a new one. False when there was none.
   */
  delete(name: string): boolean {
    const breaker = this.#breakers.get(name)
    if (breaker === undefined) return false
    this.#breakers.delete(name)
    this.#removed([breaker])
    return true
  }

  /** Forgets every breaker (observers' `onRemove` is called with each). */
  clear(): void {
    const breakers = [...this.#breakers.values()]
    this.#breakers.clear()
    this.#removed(breakers)
  }

  /** Number of breakers. */
  get size(): number {
    return this.#breakers.size
  }

  /** The breakers, in creation order. */
  values(): IterableIterator<CircuitBreaker> {
    return this.#breakers.values()
  }

  /** The breakers, in creation order. */
  [Symbol.iterator](): IterableIterator<CircuitBreaker> {
    return this.#breakers.values()
  }

  /**
   * Calls `listener` for every breaker that exists now and every one created later, and
   * `onRemove` for each one `delete()` or `clear()` forgets later (adapters use both to follow a
   * whole registry and let go of forgotten breakers); returns a function that stops both.
   */
  observe(
    listener: (breaker: CircuitBreaker) => void,
    onRemove?: (breaker: CircuitBreaker) => void,
  ): () => void {
    const observer: Observer = { added: listener, removed: onRemove }
    for (const breaker of this.#breakers.values()) listener(breaker)
    this.#observers = [...this.#observers, observer]
    return () => {
      this.#observers = this.#observers.filter((o) => o !== observer)
    }
  }

  #removed(breakers: CircuitBreaker[]): void {
    // `#observers` is replaced, never mutated, so a callback that stops observing cannot skip one.
    for (const observer of this.#observers) {
      if (observer.removed === undefined) continue
      for (const breaker of breakers) observer.removed(breaker)
    }
  }
}

interface Observer {
  added(breaker: CircuitBreaker): void
  removed: ((breaker: CircuitBreaker) => void) | undefined
}

// One default registry per process, even when both the ESM and the CJS build load (the dual
// package hazard): a breaker tripped through one copy must be open through the other. The key
// names the compatible release line (^0.1), so an incompatible copy keeps its own.
const DEFAULT_REGISTRY = Symbol.for('@steadfast/circuit-breaker/default-registry@0.1')
const processWide = globalThis as { [DEFAULT_REGISTRY]?: BreakerRegistry }
processWide[DEFAULT_REGISTRY] ??= new BreakerRegistry()

/** The registry shared by default across this package, the decorators and the Claude adapter. */
export const defaultRegistry: BreakerRegistry = processWide[DEFAULT_REGISTRY]
