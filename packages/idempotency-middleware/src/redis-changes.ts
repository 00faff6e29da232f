import { IdempotencyStoreError } from './errors.js'

/** What the feed uses of its subscriber connection: an ioredis `Redis` or `Cluster` duplicate. */
interface Subscriber {
  subscribe(channel: string): Promise<unknown>
  unsubscribe(channel: string): Promise<unknown>
  on(event: 'message', listener: (channel: string) => void): unknown
  on(event: 'error' | 'close' | 'ready', listener: () => void): unknown
  disconnect(): void
}

/** What the feed reads of the store's client (an ioredis 5/6 `Redis` or `Cluster`). */
export interface ChangeSource {
  duplicate?(): Subscriber
  once?(event: 'end', listener: () => void): unknown
  removeListener?(event: 'end', listener: () => void): unknown
}

/** The waiters of one channel, and the SUBSCRIBE made for them. */
interface Channel {
  readonly wakers: Set<() => void>
  readonly subscribed: Promise<unknown>
}

const ignore = (): void => {}

/**
 * Wakes callers waiting for a record to change, from one subscriber connection made on the first
 * wait (`client.duplicate()`) and shared by every waiter: a channel is subscribed to while
 * someone waits on it. A message only wakes; the engine reads the record again. Whenever the
 * feed cannot be trusted (no subscriber, connection lost, closed), waits end at once and the
 * engine falls back to its bounded poll.
 */
export class ChangeFeed {
  readonly #source: ChangeSource
  #subscriber: Subscriber | undefined
  readonly #channels = new Map<string, Channel>()
  // From a lost connection until it is ready again: messages published meanwhile are gone.
  #down = false
  #closed = false
  readonly #onClientEnd = (): void => {
    void this.close()
  }

  constructor(source: ChangeSource) {
    this.#source = source
  }

  /**
   * Resolves on a message on `channel`, after `timeoutMs`, when `signal` aborts, or when
   * `inFlight()`, asked once the subscription is live, finds the record changed already: it may
   * have changed between the caller's read and the SUBSCRIBE, and that message was missed.
   * Rejects with {@link IdempotencyStoreError} when the SUBSCRIBE or that read fails.
   */
  wait(
    channel: string,
    timeoutMs: number,
    inFlight: () => Promise<boolean>,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const subscriber = this.#connect()
    if (subscriber === undefined || this.#down || signal?.aborted) return Promise.resolve()
    return new Promise((resolve, reject) => {
      let channelWaiters = this.#channels.get(channel)
      if (channelWaiters === undefined) {
        channelWaiters = { wakers: new Set(), subscribed: subscriber.subscribe(channel) }
        this.#channels.set(channel, channelWaiters)
      }
      const entry = channelWaiters
      const finish = (error?: IdempotencyStoreError): void => {
        if (!entry.wakers.delete(wake)) return
        clearTimeout(timer)
        signal?.removeEventListener('abort', wake)
        if (entry.wakers.size === 0 && this.#channels.get(channel) === entry) {
          this.#channels.delete(channel)
          if (!this.#closed) subscriber.unsubscribe(channel).catch(ignore)
        }
        if (error === undefined) resolve()
        else reject(error)
      }
      const wake = (): void => finish()
      const timer = setTimeout(wake, timeoutMs)
      timer.unref()
      signal?.addEventListener('abort', wake, { once: true })
      entry.wakers.add(wake)
      entry.subscribed
        .then(() => (entry.wakers.has(wake) ? inFlight() : true))
        .then(
          (still) => {
            if (!still) wake()
          },
          (error: unknown) =>
            finish(new IdempotencyStoreError('Store waitForChange failed', { cause: error })),
        )
    })
  }

  /** True once closed (by its last store, or because the client ended). */
  get closed(): boolean {
    return this.#closed
  }

  /** Wakes every waiter and disconnects the subscriber; later waits end at once. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#source.removeListener?.('end', this.#onClientEnd)
    this.#wakeAll()
    this.#subscriber?.disconnect()
  }

  /** The subscriber, made on first use; undefined once closed or without `duplicate()`. */
  #connect(): Subscriber | undefined {
    if (this.#subscriber !== undefined || this.#closed) return this.#subscriber
    const source = this.#source
    if (typeof source.duplicate !== 'function') return undefined
    const subscriber = source.duplicate()
    subscriber.on('message', (channel) => this.#wake(channel))
    // Without a listener ioredis logs every failed reconnect; the 'close' before it wakes waiters.
    subscriber.on('error', ignore)
    subscriber.on('close', () => {
      this.#down = true
      this.#wakeAll()
    })
    subscriber.on('ready', () => {
      this.#down = false
    })
    // The store never owns the client, but its subscriber must not outlive it: an app that quits
    // its client at shutdown expects the process to exit.
    source.once?.('end', this.#onClientEnd)
    this.#subscriber = subscriber
    return subscriber
  }

  #wake(channel: string): void {
    const entry = this.#channels.get(channel)
    if (entry === undefined) return
    for (const wake of [...entry.wakers]) wake()
  }

  #wakeAll(): void {
    for (const channel of [...this.#channels.keys()]) this.#wake(channel)
  }
}

/** One store's use of the feed of its client: `close()` ends this store's waits only. */
export interface ChangeFeedHandle {
  /** As {@link ChangeFeed.wait}; ends at once once this handle is closed. */
  wait(
    channel: string,
    timeoutMs: number,
    inFlight: () => Promise<boolean>,
    signal: AbortSignal | undefined,
  ): Promise<void>
  /** Wakes this store's waiters; the last handle of a client closes its feed. */
  close(): Promise<void>
}

// Stores on one client (one per tenant, say) share its feed: a subscriber connection and an
// 'end' listener per store would multiply connections and trip MaxListenersExceededWarning.
const feeds = new WeakMap<ChangeSource, { feed: ChangeFeed; users: number }>()

/** A handle on the feed of `source`, made with the first store on that client. */
export function changeFeedFor(source: ChangeSource): ChangeFeedHandle {
  let shared = feeds.get(source)
  if (shared === undefined || shared.feed.closed) {
    shared = { feed: new ChangeFeed(source), users: 0 }
    feeds.set(source, shared)
  }
  const entry = shared
  entry.users++
  const closing = new AbortController()
  return {
    wait(channel, timeoutMs, inFlight, signal) {
      if (closing.signal.aborted) return Promise.resolve()
      const until = signal ? AbortSignal.any([signal, closing.signal]) : closing.signal
      return entry.feed.wait(channel, timeoutMs, inFlight, until)
    },
    async close() {
      if (closing.signal.aborted) return
      closing.abort()
      entry.users--
      if (entry.users === 0) {
        if (feeds.get(source) === entry) feeds.delete(source)
        await entry.feed.close()
      }
    },
  }
}
