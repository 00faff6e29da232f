/** Base class of every error this package throws. */
export class CircuitBreakerError extends Error {
  /** Class name, for logs (`instanceof` fails across duplicate package copies). */
  override readonly name: string = 'CircuitBreakerError'
  /** Stable machine-readable code. */
  readonly code: string = 'ERR_CIRCUIT_BREAKER'
  /** Brand that survives duplicate ESM/CJS copies of this package, where `instanceof` fails. */
  declare readonly isCircuitBreakerError: true
  /** Name of the breaker that threw. */
  readonly breaker: string

  constructor(breaker: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.breaker = breaker
  }
}
// On the prototype, so subclasses that skip this constructor for speed still carry the brand.
Object.defineProperty(CircuitBreakerError.prototype, 'isCircuitBreakerError', { value: true })

/**
 * Thrown by `execute()` while the circuit is open, or half-open with every probe slot taken.
 *
 * The open path's whole cost is building this error, so it is shaped for V8: it extends `Error`
 * directly (each class level between `new` and `Error` slows the stack capture) and is linked under
 * {@link CircuitBreakerError} afterwards, so `instanceof CircuitBreakerError` still holds; `name`
 * and `code` live on the prototype and the message is built when first read.
 */
export class CircuitOpenError extends Error {
  /** Always `'CircuitOpenError'`. */
  declare readonly name: 'CircuitOpenError'
  /** Stable machine-readable code. */
  declare readonly code: 'ERR_CIRCUIT_OPEN'
  /** Brand shared with {@link CircuitBreakerError}. */
  declare readonly isCircuitBreakerError: true
  /** Name of the breaker that rejected the call. */
  readonly breaker: string
  /**
   * Milliseconds until the breaker may let a call through again: the rest of the open period, or
   * while half-open, until the oldest running probe will have settled; `Infinity` while isolated.
   */
  readonly retryAfterMs: number

  constructor(breaker: string, retryAfterMs: number, options?: ErrorOptions) {
    super(undefined, options)
    this.breaker = breaker
    this.retryAfterMs = retryAfterMs
  }
}
Object.setPrototypeOf(CircuitOpenError.prototype, CircuitBreakerError.prototype)
Object.defineProperties(CircuitOpenError.prototype, {
  name: { value: 'CircuitOpenError', writable: true, configurable: true },
  code: { value: 'ERR_CIRCUIT_OPEN', configurable: true },
  message: {
    configurable: true,
    get(this: CircuitOpenError): string {
      return this.retryAfterMs === Number.POSITIVE_INFINITY
        ? `Circuit "${this.breaker}" is isolated`
        : `Circuit "${this.breaker}" is open; retry in ${this.retryAfterMs} ms`
    },
    set(this: CircuitOpenError, value: string): void {
      Object.defineProperty(this, 'message', { value, writable: true, configurable: true })
    },
  },
})

/**
 * Builds a {@link CircuitOpenError} the cheapest way V8 allows: a plain `new Error()` (no derived
 * constructor frames for the stack capture to skip) re-parented onto the class prototype.
 * The stack starts at the caller of this function's caller, like `new CircuitOpenError` would.
 */
export function openError(breaker: string, retryAfterMs: number): CircuitOpenError {
  const error = Object.setPrototypeOf(new Error(), CircuitOpenError.prototype) as {
    breaker: string
    retryAfterMs: number
  }
  error.breaker = breaker
  error.retryAfterMs = retryAfterMs
  return error as CircuitOpenError
}

/** Thrown by `execute()` when a half-open probe runs longer than `probeTimeoutMs`. */
export class CircuitProbeTimeoutError extends CircuitBreakerError {
  /** Always `'CircuitProbeTimeoutError'`. */
  override readonly name = 'CircuitProbeTimeoutError'
  /** Stable machine-readable code. */
  override readonly code = 'ERR_CIRCUIT_PROBE_TIMEOUT'
  /** The probe timeout that elapsed. */
  readonly timeoutMs: number

  constructor(breaker: string, timeoutMs: number, options?: ErrorOptions) {
    super(breaker, `Circuit "${breaker}" probe timed out after ${timeoutMs} ms`, options)
    this.timeoutMs = timeoutMs
  }
}

/**
 * Passed to the Redis adapter's `onError` when Redis accepted a probe-lease request but did not
 * answer it within `probeTimeoutMs` (a frozen or overloaded server); the breaker probes locally.
 */
export class CircuitRedisTimeoutError extends CircuitBreakerError {
  /** Always `'CircuitRedisTimeoutError'`. */
  override readonly name = 'CircuitRedisTimeoutError'
  /** Stable machine-readable code. */
  override readonly code = 'ERR_CIRCUIT_REDIS_TIMEOUT'
  /** How long the request went unanswered. */
  readonly timeoutMs: number

  constructor(breaker: string, timeoutMs: number, options?: ErrorOptions) {
    super(breaker, `Circuit "${breaker}": Redis did not answer within ${timeoutMs} ms`, options)
    this.timeoutMs = timeoutMs
  }
}

function hasCode(error: unknown, code: string): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    'code' in error &&
    (error as { code: unknown }).code === code
  )
}

/** True for any {@link CircuitBreakerError}, even one from another copy of this package. */
export const isCircuitBreakerError = (error: unknown): error is CircuitBreakerError =>
  typeof error === 'object' &&
  error !== null &&
  (error as { isCircuitBreakerError?: unknown }).isCircuitBreakerError === true

/** True for a {@link CircuitOpenError}, even one from another copy of this package. */
export const isCircuitOpenError = (error: unknown): error is CircuitOpenError =>
  hasCode(error, 'ERR_CIRCUIT_OPEN') && isCircuitBreakerError(error)

/** True for a {@link CircuitProbeTimeoutError}, even one from another copy of this package. */
export const isCircuitProbeTimeoutError = (error: unknown): error is CircuitProbeTimeoutError =>
  hasCode(error, 'ERR_CIRCUIT_PROBE_TIMEOUT') && isCircuitBreakerError(error)

/** True for a {@link CircuitRedisTimeoutError}, even one from another copy of this package. */
export const isCircuitRedisTimeoutError = (error: unknown): error is CircuitRedisTimeoutError =>
  hasCode(error, 'ERR_CIRCUIT_REDIS_TIMEOUT') && isCircuitBreakerError(error)
