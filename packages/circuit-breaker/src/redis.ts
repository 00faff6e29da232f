import { randomUUID } from 'node:crypto'
import type { CircuitBreaker } from './circuit-breaker.js'
import type { CircuitRedisTimeoutError } from './errors.js'
import { type FleetContext, FleetLink, type FleetMessage } from './redis-link.js'
import type { BreakerRegistry } from './registry.js'

/**
 * The part of an ioredis client (5.x or 6.x) this adapter uses; pass a real `Redis` instance.
 * Typed structurally so that either major version fits.
 */
export interface RedisClient {
  /** Connection status; `'ready'` when commands can be sent. */
  readonly status: string
  /** Runs a Lua script (EVAL). */
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>
  /** A key's remaining time to live in ms (PTTL). */
  pttl(key: string): Promise<number>
  /** Removes members from a sorted set (ZREM). */
  zrem(key: string, ...members: string[]): Promise<number>
  /** Subscribes to channels (SUBSCRIBE). */
  subscribe(...channels: string[]): Promise<unknown>
  /** Unsubscribes from channels (UNSUBSCRIBE). */
  unsubscribe(...channels: string[]): Promise<unknown>
  /** Adds a listener (`'message'`, `'ready'`, and `'error'` on a subscriber created here). */
  on(event: string, listener: (...args: unknown[]) => void): unknown
  /** Removes a listener. */
  off(event: string, listener: (...args: unknown[]) => void): unknown
  /** A new connection with the same settings (for pub/sub). */
  duplicate(): RedisClient
  /** Closes the connection. */
  quit(): Promise<unknown>
}

/** Options of {@link RedisBreakerSync}. */
export interface RedisBreakerSyncOptions {
  /** Connection for commands (scripts, PTTL). Not closed by {@link RedisBreakerSync.close}. */
  client: RedisClient
  /** Connection for pub/sub; closed by `close()` only when created here. @default client.duplicate() */
  subscriber?: RedisClient | undefined
  /** Prefix of every key and of the channel. @default 'steadfast:cb:' */
  prefix?: string | undefined
  /** Instances that must trip within `openMs` before the whole fleet opens. @default 1 */
  quorum?: number | undefined
  /** This instance's id in trip records and probe leases. @default a random UUID */
  instanceId?: string | undefined
  /**
   * Least time between two probe-lease requests of one breaker while half-open; a lease that no
   * probe uses within twice this time is given back to the fleet. @default 250
   */
  leaseRetryMs?: number | undefined
  /**
   * Called with Redis errors, including the connection errors of a subscriber created here and a
   * {@link CircuitRedisTimeoutError} for a lease request unanswered within `probeTimeoutMs`; the
   * breakers keep working locally meanwhile. @default ignore
   */
  onError?: ((error: unknown) => void) | undefined
}

/**
 * Shares breaker state across processes through Redis: a trip is published (pub/sub) and recorded
 * as a key with a PX expiry, `quorum` instances must trip within `openMs` before the fleet opens,
 * and half-open probes are leased so the fleet sends `halfOpenMaxCalls` probes in all. There is
 * no Redis call per `execute()`. When Redis is unreachable, or stops answering, each breaker
 * keeps working locally, and resyncs on reconnect. Works with a Redis Cluster client too: each
 * breaker's keys share a hash tag, `<prefix>{<name>}:…`.
 *
 * @example
 * const sync = new RedisBreakerSync({ client: new Redis(url), quorum: 2 })
 * sync.attach(defaultRegistry) // every breaker, by name, now and later
 */
export class RedisBreakerSync {
  /** This instance's id. */
  readonly instanceId: string
  readonly #client: RedisClient
  readonly #subscriber: RedisClient
  readonly #ownsSubscriber: boolean
  readonly #ctx: FleetContext
  readonly #quorum: number
  readonly #links = new Map<string, Linked>()
  readonly #subscribed: Promise<unknown>
  readonly #onMessage: (...args: unknown[]) => void
  readonly #onReady: () => void
  readonly #onSubscriberReady: () => void
  readonly #onSubscriberError: (error: unknown) => void
  #closed = false

  constructor(options: RedisBreakerSyncOptions) {
    const { client } = options
    this.#client = client
    this.#ownsSubscriber = options.subscriber === undefined
    this.#subscriber = options.subscriber ?? client.duplicate()
    this.#quorum = options.quorum ?? 1
    if (!Number.isInteger(this.#quorum) || this.#quorum < 1) {
      throw new RangeError('RedisBreakerSync: quorum must be an integer >= 1')
    }
    this.instanceId = options.instanceId ?? randomUUID()
    const prefix = options.prefix ?? 'steadfast:cb:'
    const onError = options.onError ?? (() => {})
    this.#ctx = {
      instanceId: this.instanceId,
      prefix,
      channel: `${prefix}events`,
      leaseRetryMs: options.leaseRetryMs ?? 250,
      connected: () => client.status === 'ready',
      eval: (script, keys, args) => client.eval(script, keys.length, ...keys, ...args),
      pttl: (key) => client.pttl(key),
      zrem: (key, members) => client.zrem(key, ...members),
      onError,
    }
    this.#onMessage = (channel, raw) => {
      if (channel !== this.#ctx.channel || typeof raw !== 'string') return
      let message: FleetMessage
      try {
        message = JSON.parse(raw) as FleetMessage
      } catch (error) {
        onError(error)
        return
      }
      this.#links.get(message.n)?.link.onMessage(message)
    }
    this.#onReady = () => this.#resyncAll()
    this.#onSubscriberReady = () => {
      // ioredis emits 'ready' before it resubscribes: subscribe (idempotent) and only then read
      // the fleet state, so a trip published meanwhile is either received or already in Redis.
      this.#subscriber.subscribe(this.#ctx.channel).then(() => this.#resyncAll(), onError)
    }
    // Only a subscriber created here: without a listener, ioredis prints its connection errors as
    // unhandled and onError never hears of them. A caller's own subscriber is the caller's to watch.
    this.#onSubscriberError = onError
    if (this.#ownsSubscriber) this.#subscriber.on('error', this.#onSubscriberError)
    this.#subscriber.on('message', this.#onMessage)
    this.#subscribed = this.#subscriber.subscribe(this.#ctx.channel).catch(onError)
    client.on('ready', this.#onReady)
    this.#subscriber.on('ready', this.#onSubscriberReady)
  }

  /** Resolves once the channel subscription is in place. */
  ready(): Promise<void> {
    return this.#subscribed.then(() => {})
  }

  /**
   * Shares `target`'s state with the fleet: one breaker, or every breaker of a registry, now and
   * later (a breaker the registry forgets through `delete()`/`clear()` is detached). Breakers are
   * matched across processes by name. Returns a function that detaches.
   * @throws Error when another breaker of the same name is attached, unless it came from a
   * registry that no longer holds it (then the new breaker replaces it).
   */
  attach(
    target: CircuitBreaker | BreakerRegistry,
    options: { quorum?: number | undefined } = {},
  ): () => void {
    if ('execute' in target) return this.#attach(target, options, undefined)
    const registry = target
    const detachers = new Map<CircuitBreaker, () => void>()
    const stop = registry.observe(
      (breaker) => detachers.set(breaker, this.#attach(breaker, options, registry)),
      (breaker) => {
        detachers.get(breaker)?.()
        detachers.delete(breaker)
      },
    )
    return () => {
      stop()
      for (const detach of detachers.values()) detach()
      detachers.clear()
    }
  }

  #attach(
    breaker: CircuitBreaker,
    options: { quorum?: number | undefined },
    registry: BreakerRegistry | undefined,
  ): () => void {
    if (this.#closed) throw new Error('RedisBreakerSync: closed')
    const { name } = breaker
    const existing = this.#links.get(name)
    if (existing !== undefined) {
      if (existing.link.breaker === breaker) return () => this.#detach(name, existing.link)
      if (!isForgotten(existing)) {
        throw new Error(`RedisBreakerSync: a breaker named "${name}" is already attached`)
      }
      // Its registry replaced it (e.g. an observer re-created it before we heard of the removal).
      this.#detach(name, existing.link)
    }
    const link = new FleetLink(this.#ctx, breaker, options.quorum ?? this.#quorum)
    this.#links.set(name, { link, registry })
    if (this.#ctx.connected()) this.#resync(link)
    return () => this.#detach(name, link)
  }

  /** Detaches every breaker, unsubscribes, and closes the subscriber if it was created here. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const [name, { link }] of this.#links) this.#detach(name, link)
    this.#client.off('ready', this.#onReady)
    this.#subscriber.off('ready', this.#onSubscriberReady)
    this.#subscriber.off('message', this.#onMessage)
    if (this.#ownsSubscriber) {
      await this.#subscriber.quit().catch(this.#ctx.onError)
      // Only now: errors while the connection closes still reach onError.
      this.#subscriber.off('error', this.#onSubscriberError)
    } else await this.#subscriber.unsubscribe(this.#ctx.channel).catch(this.#ctx.onError)
  }

  #detach(name: string, link: FleetLink): void {
    if (this.#links.get(name)?.link !== link) return
    this.#links.delete(name)
    link.detach()
  }

  #resyncAll(): void {
    if (!this.#ctx.connected()) return
    for (const { link } of this.#links.values()) this.#resync(link)
  }

  #resync(link: FleetLink): void {
    link.resync().catch(this.#ctx.onError)
  }
}

/** A linked breaker and the registry it was attached through, if any. */
interface Linked {
  readonly link: FleetLink
  readonly registry: BreakerRegistry | undefined
}

// Only a registry tells us a breaker was let go of; one attached on its own never is.
function isForgotten({ link, registry }: Linked): boolean {
  if (registry === undefined) return false
  for (const breaker of registry.values()) if (breaker === link.breaker) return false
  return true
}
