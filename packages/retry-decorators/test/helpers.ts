/** Deterministic [0, 1) source (mulberry32) for jitter tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296
  }
}

/** An error shaped like an HTTP client's: `status` and optional `headers`. */
export class HttpError extends Error {
  override readonly name = 'HttpError'
  readonly status: number
  readonly headers: Record<string, string> | Headers | undefined

  constructor(status: number, headers?: Record<string, string> | Headers) {
    super(`HTTP ${status}`)
    this.status = status
    this.headers = headers
  }
}

/** An error shaped like Node's socket errors. */
export function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code}`), { code })
}

/** A function that fails with `errors` in turn, then resolves `value`; counts its calls. */
export function flaky<T>(errors: unknown[], value: T): (() => Promise<T>) & { calls: number } {
  const fn = Object.assign(
    async () => {
      const error = errors[fn.calls++]
      if (error !== undefined) throw error
      return value
    },
    { calls: 0 },
  )
  return fn
}
