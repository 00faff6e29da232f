import type { BreakerRegistry, CircuitBreaker } from '@steadfast/circuit-breaker'
import { retry, retryAfterMs } from '@steadfast/retry-decorators'
import { modelDeadline, withAttemptTimeout } from './attempt-timeout.js'
import { type ModelBreakerOptions, modelBreakerOptions } from './breaker-options.js'
import { classifyError, isModelNotFound, isRetryable, shouldRetryModel } from './classify.js'
import {
  ClaudeAttemptTimeoutError,
  ClaudeUnavailableError,
  isRateLimitQueueFullError,
  type ModelFailure,
  RateLimitPausedError,
} from './errors.js'
import type { ClaudeEvent, ClaudeRetryOptions } from './options.js'
import type { RateLimiter } from './rate-limiter.js'

/** One upstream request to `model`; resolves with its value and response headers. */
export type ModelCall<T> = (
  model: string,
  signal: AbortSignal,
) => Promise<{ value: T; headers: { get(name: string): string | null } | undefined }>

/** State of one call as it moves through the chain. */
export interface ChainRun {
  readonly signal: AbortSignal
  readonly deadline: number | undefined
  readonly tokens: number
  attempts: number
  readonly models: string[]
}

const DEFAULT_BACKOFF = { initialMs: 500, multiplier: 2, maxMs: 8_000, jitter: 'full' } as const

/**
 * The part of the pipeline shared by `create` and `stream`: per model, the rate limiter, the
 * breaker `claude:<model>` and retries of transient failures; then the next model.
 */
export class ModelChain {
  readonly #registry: BreakerRegistry
  readonly #breakerOptions: ModelBreakerOptions
  readonly #retry: ClaudeRetryOptions
  readonly #limiter: RateLimiter
  readonly #emit: (event: ClaudeEvent) => void
  readonly #watched = new Map<string, () => void>()
  readonly #watchBreakers: boolean

  constructor(options: {
    registry: BreakerRegistry
    breaker: ModelBreakerOptions | undefined
    retry: ClaudeRetryOptions | undefined
    limiter: RateLimiter
    emit: (event: ClaudeEvent) => void
    watchBreakers: boolean
  }) {
    this.#registry = options.registry
    this.#breakerOptions = modelBreakerOptions(options.breaker)
    this.#retry = options.retry ?? {}
    this.#limiter = options.limiter
    this.#emit = options.emit
    this.#watchBreakers = options.watchBreakers
  }

  /** The breaker of `model`, shared through the registry. */
  breaker(model: string): CircuitBreaker {
    const breaker = this.#registry.get(`claude:${model}`, this.#breakerOptions)
    if (this.#watchBreakers && !this.#watched.has(model)) {
      this.#watched.set(
        model,
        breaker.on('stateChange', ({ from, to }) =>
          this.#emit({ type: 'breaker', model, from, to }),
        ),
      )
    }
    return breaker
  }

  /** Stops forwarding breaker state changes. */
  close(): void {
    for (const stop of this.#watched.values()) stop()
    this.#watched.clear()
  }

  /**
   * Runs `call` on each of `models` in turn until one succeeds. Transient and infrastructure
   * failures (and a 404 for the model) move on; others are thrown at once, and so is a full
   * limiter queue: the queue is shared by every model, so the next one would only overflow it
   * too, and local backpressure is not a model's failure. When every model
   * failed, rejects with {@link ClaudeUnavailableError}: permanent when each failure was (no
   * model exists), so neither the cache nor `degrade` stands in for a misnamed model.
   */
  async run<T>(
    models: readonly string[],
    run: ChainRun,
    call: ModelCall<T>,
  ): Promise<{ value: T; model: string; index: number }> {
    const failures: ModelFailure[] = []
    for (const [index, model] of models.entries()) {
      run.models.push(model)
      try {
        const modelsLeft = models.length - index
        return { value: await this.#onModel(model, run, call, modelsLeft), model, index }
      } catch (error) {
        if (run.signal.aborted) throw run.signal.reason
        if (isRateLimitQueueFullError(error)) throw error
        const kind = classifyError(error)
        if (kind !== 'transient' && kind !== 'infrastructure' && !isModelNotFound(error))
          throw error
        failures.push({ model, error })
        const next = models[index + 1]
        if (next !== undefined) this.#emit({ type: 'fallback', from: model, to: next, error })
      }
    }
    const permanent = failures.every((f) => classifyError(f.error) === 'permanent')
    throw new ClaudeUnavailableError(failures, permanent ? 'permanent' : 'transient')
  }

  #onModel<T>(model: string, run: ChainRun, call: ModelCall<T>, modelsLeft: number): Promise<T> {
    const breaker = this.breaker(model)
    const options = this.#retry
    const maxHintMs = options.maxHintMs ?? 60_000
    const ownDeadline = modelDeadline(run.deadline, modelsLeft, options.attemptTimeoutMs)
    const deadline = ownDeadline ?? run.deadline
    return retry(
      async (attempt) => {
        this.#checkPause(model, deadline, maxHintMs)
        await this.#limiter.acquire(run.tokens, run.signal, model)
        const timeoutMs =
          ownDeadline === undefined ? options.attemptTimeoutMs : ownDeadline - Date.now()
        // Queued past this model's share: give the next model its turn without a request.
        if (timeoutMs !== undefined && timeoutMs <= 0) {
          throw new ClaudeAttemptTimeoutError(model, 0)
        }
        try {
          const { value, headers } = await breaker.execute(
            (breakerSignal) => {
              // Counted here, past the breaker: only requests that really go upstream.
              run.attempts += 1
              this.#emit({ type: 'attempt', model, attempt })
              // A half-open probe's own signal aborts on its probe timeout, but stops following
              // ours once the probe settles (a stream outlives it): the request needs both.
              const signal =
                breakerSignal === undefined
                  ? run.signal
                  : AbortSignal.any([breakerSignal, run.signal])
              // The breaker is given the call's signal, not the attempt's: a request aborted by
              // its attempt timeout is a failure of this model, not a caller giving up.
              return withAttemptTimeout(model, timeoutMs, signal, (s) => call(model, s))
            },
            { signal: run.signal },
          )
          this.#limiter.observe(headers, model)
          return value
        } catch (error) {
          this.#afterFailure(error, model)
          throw error
        }
      },
      {
        maxAttempts: options.maxAttempts ?? 3,
        backoff: options.backoff ?? DEFAULT_BACKOFF,
        maxHintMs,
        retryIf: (error) =>
          shouldRetryModel(error) && !this.#hintTooLong(error, deadline, maxHintMs),
        signal: run.signal,
        ...(deadline === undefined ? {} : { maxElapsedMs: deadline - Date.now() }),
        ...(options.budget === undefined ? {} : { budget: options.budget }),
        onRetry: ({ attempt, error, delayMs }) =>
          this.#emit({ type: 'retry', model, attempt, delayMs, error }),
      },
    )
  }

  /**
   * Fails over at once when a 429 holds `model` longer than this call can wait (what is left
   * before its deadline, or `maxHintMs` without one), instead of queueing until the deadline.
   */
  #checkPause(model: string, deadline: number | undefined, maxHintMs: number): void {
    const pausedMs = this.#limiter.pausedMs(model)
    if (pausedMs > 0 && waitTooLong(pausedMs, deadline, maxHintMs)) {
      throw new RateLimitPausedError(model, pausedMs)
    }
  }

  /**
   * A 429 asking for longer than this call can wait: not worth a retry of the same model, so the
   * chain moves on at once instead of sleeping `maxHintMs` only to find the model still paused.
   */
  #hintTooLong(error: unknown, deadline: number | undefined, maxHintMs: number): boolean {
    if ((error as { status?: unknown } | null)?.status !== 429) return false
    const hintMs = retryAfterMs(error)
    return hintMs !== undefined && waitTooLong(hintMs, deadline, maxHintMs)
  }

  #afterFailure(error: unknown, model: string): void {
    const headers = (error as { headers?: { get?: unknown } } | null)?.headers
    if (typeof headers?.get === 'function') {
      this.#limiter.observe(headers as { get(name: string): string | null }, model)
    }
    // A 429 says the whole key is over its limit: hold every caller, not just this one.
    if ((error as { status?: unknown } | null)?.status === 429 && isRetryable(error)) {
      const delayMs = retryAfterMs(error)
      if (delayMs !== undefined && delayMs > 0) {
        this.#limiter.pause(delayMs, model)
        this.#emit({ type: 'rate-limit-pause', delayMs })
      }
    }
  }
}

/** Longer than what is left before `deadline`, or than `maxHintMs` without one. */
function waitTooLong(ms: number, deadline: number | undefined, maxHintMs: number): boolean {
  return deadline === undefined ? ms > maxHintMs : ms >= deadline - Date.now()
}
