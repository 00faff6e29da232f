/** A listener for one event of a {@link TinyEmitter}. */
export type Listener<T> = (payload: T) => void

/**
 * A minimal typed emitter. Listener lists are copied on write so `emit` iterates without
 * copying, and `has` lets callers skip building a payload nobody listens to.
 */
export class TinyEmitter<Events extends object> {
  #lists: { [K in keyof Events]?: Listener<Events[K]>[] } = {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    this.#lists[event] = [...(this.#lists[event] ?? []), listener]
    return () => this.off(event, listener)
  }

  /** Removes a listener added with {@link TinyEmitter.on}. */
  off<K extends keyof Events>(event: K, listener: Listener<Events[K]>): void {
    const list = this.#lists[event]
    if (list === undefined) return
    // One copy per call, the latest added, as Node's EventEmitter does.
    const at = list.lastIndexOf(listener)
    if (at === -1) return
    if (list.length === 1) delete this.#lists[event]
    else this.#lists[event] = [...list.slice(0, at), ...list.slice(at + 1)]
  }

  /** True when `event` has at least one listener. */
  has(event: keyof Events): boolean {
    return this.#lists[event] !== undefined
  }

  /** Calls every listener of `event`; a throwing listener does not stop the others. */
  emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#lists[event]
    if (list === undefined) return
    for (const listener of list) {
      try {
        listener(payload)
      } catch (error) {
        // A listener bug must not change the outcome of the guarded call.
        surface(error)
      }
    }
  }
}

/**
 * Rethrows a bug in user code (a listener, a classifier) in a microtask: it reaches
 * `uncaughtException` as a throwing EventEmitter listener would, instead of the guarded call.
 */
export function surface(bug: unknown): void {
  queueMicrotask(() => {
    throw bug
  })
}
