import { CircuitBreaker } from './circuit-breaker.js'
import type { CircuitBreakerOptions } from './options.js'

/** Options of a {@link BreakerRegistry}. */
export interface BreakerRegistryOptions {
  /** Options every breaker of this registry starts from; `get(name, options)` overrides them. @default {} */
  defaults?: Omit<CircuitBreakerOptions, 'name'>
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
  #listeners: ((breaker: CircuitBreaker) => void)[] = []

  constructor(options: BreakerRegistryOptions = {}) {
    this.#defaults = options.defaults ?? {}
  }

  /**
   * The breaker named `name`, created from `options` on first use. Later calls return the same
   * instance and ignore `options`: the first caller configures it.
   */
  get(name: string, options?: Omit<CircuitBreakerOptions, 'name'>): CircuitBreaker {
    let breaker = this.#breakers.get(name)
    if (breaker === undefined) {
      breaker = new CircuitBreaker({ ...this.#defaults, ...options, name })
      this.#breakers.set(name, breaker)
      for (const listener of this.#listeners) listener(breaker)
    }
    return breaker
  }

  /** True when a breaker named `name` exists. */
  has(name: string): boolean {
    return this.#breakers.has(name)
  }

  /** Forgets the breaker named `name`; the next `get` creates a new one. */
  delete(name: string): boolean {
    return this.#breakers.delete(name)
  }

  /** Forgets every breaker. */
  clear(): void {
    this.#breakers.clear()
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
   * Calls `listener` for every breaker that exists now and every one created later (adapters use
   * it to instrument a whole registry); returns a function that stops the later calls.
   */
  observe(listener: (breaker: CircuitBreaker) => void): () => void {
    for (const breaker of this.#breakers.values()) listener(breaker)
    this.#listeners = [...this.#listeners, listener]
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener)
    }
  }
}

/** The registry shared by default across this package, the decorators and the Claude adapter. */
export const defaultRegistry: BreakerRegistry = new BreakerRegistry()
