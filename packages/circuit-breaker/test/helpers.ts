import type { CircuitBreaker, StateChangeEvent } from '../src/index.js'

/** Rejects like a failing downstream call. */
export const fail =
  (message = 'boom') =>
  async (): Promise<never> => {
    throw new Error(message)
  }

/** Resolves like a healthy downstream call. */
export const ok = async (): Promise<string> => 'ok'

/** Runs `fn` through `breaker` and returns what it settled with, never throwing. */
export async function settle(
  breaker: CircuitBreaker,
  fn: (signal: AbortSignal | undefined) => Promise<unknown>,
): Promise<{ value?: unknown; error?: unknown }> {
  try {
    return { value: await breaker.execute(fn) }
  } catch (error) {
    return { error }
  }
}

/** Records every state change of `breaker` as 'from->to'. */
export function recordTransitions(breaker: CircuitBreaker): string[] {
  const seen: string[] = []
  breaker.on('stateChange', (e: StateChangeEvent) => seen.push(`${e.from}->${e.to}`))
  return seen
}

/** A promise with its resolve/reject exposed, for calls that must stay in flight. */
export function deferred<T = string>(): {
  promise: Promise<T>
  resolve: (value: T) => void
  reject: (error: unknown) => void
} {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

let prefixes = 0
/** A Redis key prefix no other test (or earlier run) uses. */
export const uniquePrefix = (): string => `test:cb:${process.pid}:${Date.now()}:${prefixes++}:`

/** Polls `check` every 25 ms until it holds; false if it still does not after `timeoutMs`. */
export async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() >= deadline) return false
    await new Promise((r) => setTimeout(r, 25))
  }
  return true
}

/** Sends `breaker` a healthy call every 25 ms until it closes; ms taken, Infinity after `limitMs`. */
export async function callUntilClosed(breaker: CircuitBreaker, limitMs: number): Promise<number> {
  const started = Date.now()
  while (Date.now() - started < limitMs) {
    await settle(breaker, ok)
    if (breaker.state === 'closed') return Date.now() - started
    await new Promise((r) => setTimeout(r, 25))
  }
  return Number.POSITIVE_INFINITY
}
