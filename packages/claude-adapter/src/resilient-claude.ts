import type { Anthropic } from '@anthropic-ai/sdk'
import { defaultRegistry } from '@steadfast/circuit-breaker'
import { type CacheStore, MemoryCacheStore } from './cache.js'
import { asTimeout, type CallScope, openScope } from './call-scope.js'
import { paramsHash } from './canonical.js'
import { classifyError } from './classify.js'
import { degradedMessage } from './degrade.js'
import { ResponseValidationError } from './errors.js'
import { IdempotentCalls, type KeyRef } from './idempotent-calls.js'
import { ModelChain } from './model-chain.js'
import type {
  CallMeta,
  CallOptions,
  ClaudeEvent,
  CreateParams,
  MessageWithMeta,
  ResilientClaudeOptions,
  StreamParams,
} from './options.js'
import { RateLimiter } from './rate-limiter.js'
import { ResilientStream } from './resilient-stream.js'
import { stopReasonError } from './stop-reasons.js'
import { continueStream, readAhead } from './stream-read-ahead.js'

// Stop reasons of a finished turn; others (max_tokens, pause_turn…) are not worth replaying.
const CACHEABLE_STOPS = new Set(['end_turn', 'stop_sequence', 'tool_use'])

/**
 * A Claude client that classifies failures, retries transient ones, fails over to fallback
 * models through per-model circuit breakers, paces calls, and falls back to a cache or a
 * degraded answer, over the official `@anthropic-ai/sdk` client.
 * @example
 * const claude = new ResilientClaude({ client: new Anthropic(), fallbackModels: ['claude-haiku-5-5'] })
 * const message = await claude.messages.create({ model: 'claude-sonnet-5-5', max_tokens: 256, messages })
 */
export class ResilientClaude {
  /** The Messages API, made resilient. */
  readonly messages: {
    /** Resolves to the SDK `Message` (a degraded answer is a `Message` too; see `isDegraded`). */
    create(params: CreateParams, options?: CallOptions): Promise<Anthropic.Message>
    /** Like `create`, with per-call metadata (model, attempts, source, latency, usage). */
    createWithMeta(params: CreateParams, options?: CallOptions): Promise<MessageWithMeta>
    /** An async iterable of the SDK's raw stream events, failed over until the first content event. */
    stream(params: StreamParams, options?: CallOptions): ResilientStream
  }

  readonly #options: ResilientClaudeOptions
  readonly #client: Anthropic
  readonly #chain: ModelChain
  readonly #limiter: RateLimiter
  readonly #cache: CacheStore | undefined
  readonly #idempotent: IdempotentCalls

  constructor(options: ResilientClaudeOptions) {
    this.#options = options
    this.#client = options.client
    this.#limiter = new RateLimiter(options.rateLimit)
    this.#cache = options.cache ? (options.cache.store ?? new MemoryCacheStore()) : undefined
    this.#idempotent = new IdempotentCalls(options.idempotency)
    this.#chain = new ModelChain({
      registry: options.registry ?? defaultRegistry,
      breaker: options.breaker,
      retry: options.retry,
      limiter: this.#limiter,
      emit: (event) => this.#emit(event),
      watchBreakers: options.onEvent !== undefined,
    })
    this.messages = {
      create: async (params, callOptions) =>
        (await this.#createWithMeta(params, callOptions ?? {})).message,
      createWithMeta: (params, callOptions) => this.#createWithMeta(params, callOptions ?? {}),
      stream: (params, callOptions) =>
        new ResilientStream((events) => this.#openStream(params, callOptions ?? {}, events)),
    }
  }

  /**
   * Stops forwarding breaker state changes to `onEvent` (the breakers live on in the registry).
   * Call it when discarding an instance that has `onEvent`: its listeners on the shared breakers
   * otherwise keep it alive.
   */
  close(): void {
    this.#chain.close()
  }

  #createWithMeta(params: CreateParams, options: CallOptions): Promise<MessageWithMeta> {
    const key = options.idempotencyKey
    if (key === undefined) return this.#call(params, options, undefined)
    const ref = this.#idempotent.ref(key, params)
    const startedAt = Date.now()
    const models: string[] = []
    return this.#idempotent.run(
      ref,
      params,
      options,
      // A degraded answer is not stored: the next call with this key should try the API again.
      (shared) => this.#call(params, shared, ref, false, models),
      async (error, attempts, shared) => {
        if (!this.#options.degrade || !isFallbackable(error, shared.signal)) throw error
        const degraded = await this.#degrade(params, error, { startedAt, attempts, models })
        degraded.meta.idempotency = {
          key,
          replayed: false,
          keyAttempts: this.#idempotent.attempts(ref),
        }
        return degraded
      },
    )
  }

  async #call(
    params: CreateParams,
    options: CallOptions,
    key: KeyRef | undefined,
    allowDegrade = true,
    models?: string[],
  ): Promise<MessageWithMeta> {
    const scope = openScope(params, options, models)
    const cacheKey = this.#cache ? `claude:${paramsHash(params)}` : undefined
    try {
      if (cacheKey !== undefined && this.#options.cache?.mode === 'first') {
        const hit = await this.#cacheGet(cacheKey)
        if (hit !== undefined) {
          this.#emit({ type: 'cache-hit', mode: 'first' })
          return this.#result(hit, 'cache', scope, key)
        }
      }
      try {
        const { message, model } = await this.#answer(params, scope)
        if (
          cacheKey !== undefined &&
          message.stop_reason &&
          CACHEABLE_STOPS.has(message.stop_reason)
        ) {
          await this.#cacheSet(cacheKey, message)
        }
        return this.#result(message, 'api', scope, key, model)
      } catch (thrown) {
        const error = asTimeout(thrown, scope, options)
        if (!isFallbackable(error, options.signal)) throw error
        if (cacheKey !== undefined) {
          const hit = await this.#cacheGet(cacheKey)
          if (hit !== undefined) {
            this.#emit({ type: 'cache-hit', mode: 'fallback' })
            return this.#result(hit, 'cache', scope, key)
          }
        }
        if (!allowDegrade || !this.#options.degrade) throw error
        return this.#degrade(params, error, { ...scope, key })
      }
    } finally {
      scope.dispose()
      if (key !== undefined) this.#idempotent.record(key, scope.attempts)
    }
  }

  // The cache is an optimisation: a failing store (Redis down) must neither fail the call nor
  // throw away a billed answer, so a failed read is a miss and a failed write is dropped.
  async #cacheGet(key: string): Promise<Anthropic.Message | undefined> {
    try {
      return await this.#cache?.get(key)
    } catch (error) {
      this.#emit({ type: 'cache-error', operation: 'get', error })
      return undefined
    }
  }

  async #cacheSet(key: string, message: Anthropic.Message): Promise<void> {
    try {
      await this.#cache?.set(key, message, this.#options.cache?.ttlMs ?? 3_600_000)
    } catch (error) {
      this.#emit({ type: 'cache-error', operation: 'set', error })
    }
  }

  /** API answers for `params`: the model chain, then stop-reason rules and validation. */
  async #answer(
    params: CreateParams,
    scope: CallScope,
  ): Promise<{ message: Anthropic.Message; model: string }> {
    const maxValidations = this.#options.validateAttempts ?? 2
    for (let validation = 1; ; validation++) {
      let models = this.#models(params.model)
      for (;;) {
        const {
          value: message,
          model,
          index,
        } = await this.#chain.run(models, scope, async (model, signal) => {
          const { data, response } = await this.#client.messages
            .create({ ...params, model, stream: false }, { maxRetries: 0, signal })
            .withResponse()
          return { value: data, headers: response.headers }
        })
        if (message.stop_reason === 'model_context_window_exceeded') {
          const larger = this.#options.largerContextModels ?? []
          const next = models.findIndex((m, i) => i > index && larger.includes(m))
          if (next >= 0) {
            this.#emit({
              type: 'fallback',
              from: model,
              to: models[next] as string,
              error: message.stop_reason,
            })
            models = models.slice(next)
            continue
          }
        }
        const stopped = stopReasonError(message, this.#options.onTruncated)
        if (stopped) throw stopped
        if (this.#options.validate) {
          try {
            await this.#options.validate(message)
          } catch (error) {
            if (validation >= maxValidations)
              throw new ResponseValidationError(message, validation, error)
            break
          }
        }
        return { message, model }
      }
    }
  }

  async #openStream(
    params: StreamParams,
    options: CallOptions,
    events: { meta?: CallMeta },
  ): Promise<{ stream: AsyncGenerator<Anthropic.RawMessageStreamEvent, void>; model: string }> {
    const scope = openScope(params, options)
    try {
      const { value, model } = await this.#chain.run(
        this.#models(params.model),
        scope,
        async (model, signal) => {
          const { data, response } = await this.#client.messages
            .create({ ...params, model, stream: true }, { maxRetries: 0, signal })
            .withResponse()
          return { value: await readAhead(model, data), headers: response.headers }
        },
      )
      events.meta = this.#meta(
        value.buffered[0]?.type === 'message_start' ? value.buffered[0].message.usage : undefined,
        'api',
        scope,
        undefined,
        model,
      )
      const rules = { signal: options.signal, onTruncated: this.#options.onTruncated }
      return { stream: continueStream(model, value, rules), model }
    } catch (error) {
      throw asTimeout(error, scope, options)
    } finally {
      // The deadline bounds the wait for the first content event; the user's signal still applies.
      scope.dispose()
    }
  }

  async #degrade(
    params: CreateParams,
    error: unknown,
    scope: { startedAt: number; attempts: number; models: string[]; key?: KeyRef | undefined },
  ): Promise<MessageWithMeta> {
    const degrade = this.#options.degrade
    if (!degrade) throw error
    const message = degradedMessage(params, await degrade(params, error))
    this.#emit({ type: 'degraded', error })
    return this.#result(message, 'degraded', scope, scope.key)
  }

  #result(
    message: Anthropic.Message,
    source: CallMeta['source'],
    scope: { startedAt: number; attempts: number; models: string[] },
    key: KeyRef | undefined,
    model: string = message.model,
  ): MessageWithMeta {
    return {
      message,
      meta: this.#meta(source === 'api' ? message.usage : undefined, source, scope, key, model),
    }
  }

  #meta(
    usage: Anthropic.Usage | undefined,
    source: CallMeta['source'],
    scope: { startedAt: number; attempts: number; models: string[] },
    key: KeyRef | undefined,
    model: string,
  ): CallMeta {
    const meta: CallMeta = {
      model,
      attempts: scope.attempts,
      source,
      latencyMs: Date.now() - scope.startedAt,
      usage,
      models: [...scope.models],
    }
    if (key !== undefined) {
      meta.idempotency = {
        key: key.key,
        replayed: false,
        keyAttempts: this.#idempotent.attempts(key) + scope.attempts,
      }
    }
    return meta
  }

  #models(primary: string): string[] {
    return [...new Set([primary, ...(this.#options.fallbackModels ?? [])])]
  }

  #emit(event: ClaudeEvent): void {
    try {
      this.#options.onEvent?.(event)
    } catch {
      // An observer must never break the call it observes.
    }
  }
}

/** May the cache or the degrade handler stand in for this failure? Not for a caller's own abort. */
function isFallbackable(error: unknown, signal: AbortSignal | undefined): boolean {
  if (signal?.aborted) return false
  const kind = classifyError(error)
  return kind === 'transient' || kind === 'infrastructure'
}
