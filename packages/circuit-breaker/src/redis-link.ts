import type { CircuitBreaker } from './circuit-breaker.js'
import { CircuitRedisTimeoutError } from './errors.js'
import type { StateChangeEvent } from './events.js'
import { CLOSE, LEASE, leaseSlots, TRIP } from './redis-scripts.js'
import type { ProbeGate } from './types.js'

/** What a {@link FleetLink} needs from its owner: the client, names and settings. */
export interface FleetContext {
  readonly instanceId: string
  readonly channel: string
  readonly prefix: string
  readonly leaseRetryMs: number
  /** True while the command connection is ready; Redis is never waited for on the call path. */
  connected(): boolean
  eval(script: string, keys: string[], args: (string | number)[]): Promise<unknown>
  pttl(key: string): Promise<number>
  zrem(key: string, members: string[]): Promise<unknown>
  /** Reports a Redis error that the link survived by staying local. */
  onError(error: unknown): void
}

/** A fleet message on the channel. */
export interface FleetMessage {
  t: 'open' | 'close'
  /** Breaker name. */
  n: string
  /** Open time, for 'open'. */
  ms?: number
  /** Instance that sent it. */
  o: string
}

/** Lease basis of a breaker whose probes have no timeout (`probeTimeoutMs: Infinity`). */
const UNBOUNDED_PROBE_LEASE_MS = 10_000

/**
 * Ties one local breaker to its fleet: publishes local trips, applies remote ones, and gates
 * half-open probes behind fleet-wide leases, taken only when a call wants to probe. Redis is only
 * touched on state changes, never per call; while Redis is unreachable, or does not answer a lease
 * request within `probeTimeoutMs`, the breaker runs on its own and the link resyncs on reconnect.
 */

export class FleetLink implements ProbeGate {
  readonly breaker: CircuitBreaker
  readonly #ctx: FleetContext
  readonly #quorum: number
  readonly #leaseMs: number
  /** How long a lease request may go unanswered before this instance probes locally. */
  readonly #answerMs: number
  readonly #keys: { open: string; trips: string; probes: string }
  /** The current open episode is fleet-wide, so half-open probing is leased. */
  #fleetOpen = false
  /** Our breaker's state change came from the fleet: do not echo it back. */
  #applying = false
  /** A local trip that could not be reported while Redis was down. */
  #pendingTrip: { force: boolean } | undefined
  #held = 0
  #inFlight = 0
  #leaseUntil = 0
  /** A probe started on the lease we hold since it was granted. */
  #leaseUsed = false
  /** Bumped whenever our view of the lease is dropped, so that a late LEASE answer is given back. */
  #epoch = 0
  /** Start of the lease request in flight (one at a time), or 0. */
  #acquiringSince = 0
  /** The last lease request failed: probe locally, as without Redis, until one succeeds. */
  #leaseFailed = false
  #nextAttemptAt = 0
  #idleTimer: ReturnType<typeof setTimeout> | undefined
  #deadlineTimer: ReturnType<typeof setTimeout> | undefined
  readonly #off: () => void

  constructor(ctx: FleetContext, breaker: CircuitBreaker, quorum: number) {
    this.#ctx = ctx
    this.breaker = breaker
    this.#quorum = quorum
    // A lease must lapse some time, even for probes allowed to run for ever, or a dead instance
    // would hold the fleet's slots.
    const probeMs = breaker.options.probeTimeoutMs
    this.#answerMs = probeMs === Number.POSITIVE_INFINITY ? UNBOUNDED_PROBE_LEASE_MS : probeMs
    this.#leaseMs = this.#answerMs + 1_000
    // The hash tag puts all of one breaker's keys in one Redis Cluster slot, as the scripts touch
    // several at once, while different breakers still spread over the cluster.
    const base = `${ctx.prefix}{${breaker.name}}`
    this.#keys = { open: `${base}:open`, trips: `${base}:trips`, probes: `${base}:probes` }
    this.#off = breaker.on('stateChange', (e) => this.#onStateChange(e))
    breaker.setProbeGate(this)
  }

  /** Stops linking: the breaker goes back to purely local behaviour. */
  detach(): void {
    this.#off()
    this.breaker.setProbeGate(undefined)
    clearTimeout(this.#deadlineTimer)
    this.#release()
  }

  tryTake(): boolean {
    // Without Redis, or when only this instance tripped, probing is a local affair.
    if (!this.#fleetOpen || !this.#ctx.connected()) return true
    const now = Date.now()
    if (now >= this.#leaseUntil) this.#held = 0
    if (this.#inFlight < this.#held) {
      this.#inFlight++
      this.#leaseUsed = true
      if (this.#leaseUntil - now < this.#leaseMs / 2) this.#acquire(now)
      return true
    }
    // Leases are taken here, on demand: an instance without traffic must not sit on the fleet's
    // probe slots, and so delay its recovery, for a whole lease.
    this.#acquire(now)
    // A Redis that is connected but failing or silent (frozen, overloaded) must not stop this
    // instance from ever probing: past the deadline, do as when it is down and probe locally.
    const since = this.#acquiringSince
    return this.#leaseFailed || (since > 0 && now - since >= this.#answerMs)
  }

  give(): void {
    if (this.#inFlight > 0) this.#inFlight--
  }

  retryAfterMs(): number {
    return Math.max(this.#ctx.leaseRetryMs, this.#nextAttemptAt - Date.now())
  }

  /** Applies a message from the channel. */
  onMessage(message: FleetMessage): void {
    if (message.t === 'open' && typeof message.ms === 'number') this.#applyOpen(message.ms)
    else if (message.t === 'close' && message.o !== this.#ctx.instanceId) this.#applyClose()
  }

  /** After (re)connecting: reports a trip missed while down, then adopts the fleet's state. */
  async resync(): Promise<void> {
    const pending = this.#pendingTrip
    this.#pendingTrip = undefined
    if (pending !== undefined && this.breaker.state === 'open') {
      const remaining = this.breaker.snapshot().retryAfterMs
      if (Number.isFinite(remaining) && remaining > 0)
        await this.#reportTrip(pending.force, remaining)
    }
    const ttl = await this.#ctx.pttl(this.#keys.open)
    if (ttl > 0) this.#applyOpen(ttl)
  }

  #onStateChange(e: StateChangeEvent): void {
    if (this.#applying) return
    if (e.to === 'open' && e.reason !== 'isolate') {
      // A failed fleet probe reopens the fleet directly; a local trip counts toward the quorum.
      const force = e.from === 'half-open' && this.#fleetOpen
      this.#release()
      void this.#reportTrip(force, e.openMs ?? this.breaker.options.openMs)
    } else if (e.to === 'closed') {
      const fleet = this.#fleetOpen && e.reason === 'probes-succeeded'
      this.#fleetOpen = false
      this.#release()
      void this.#reportClose(fleet)
    }
  }

  async #reportTrip(force: boolean, openMs: number): Promise<void> {
    if (!this.#ctx.connected()) {
      this.#pendingTrip = { force: force || this.#pendingTrip?.force === true }
      return
    }
    const ctx = this.#ctx
    const ms = Math.max(1, Math.ceil(openMs))
    try {
      await ctx.eval(
        TRIP,
        [this.#keys.open, this.#keys.trips],
        [ctx.instanceId, ms, this.#quorum, force ? '1' : '0', ctx.channel, this.breaker.name],
      )
    } catch (error) {
      this.#pendingTrip = { force }
      ctx.onError(error)
    }
  }

  async #reportClose(fleet: boolean): Promise<void> {
    const ctx = this.#ctx
    if (!ctx.connected()) return
    const { open, trips, probes } = this.#keys
    try {
      if (fleet)
        await ctx.eval(
          CLOSE,
          [open, trips, probes],
          [ctx.channel, this.breaker.name, ctx.instanceId],
        )
      else await ctx.zrem(trips, [ctx.instanceId])
    } catch (error) {
      ctx.onError(error)
    }
  }

  #applyOpen(ms: number): void {
    this.#fleetOpen = true
    this.#dropLease()
    // Redis just answered (a message or a PTTL), so an older lease failure no longer applies.
    this.#leaseFailed = false
    this.#applying = true
    try {
      this.breaker.trip({ openMs: ms })
    } finally {
      this.#applying = false
    }
  }

  #applyClose(): void {
    if (!this.#fleetOpen) return
    this.#fleetOpen = false
    this.#dropLease()
    if (this.breaker.isolated || this.breaker.state === 'closed') return
    this.#applying = true
    try {
      this.breaker.reset()
    } finally {
      this.#applying = false
    }
  }

  #acquire(now: number): void {
    // One request at a time: a silent Redis would otherwise pile them up in the client's queue.
    if (this.#acquiringSince > 0 || now < this.#nextAttemptAt || !this.#ctx.connected()) return
    const ctx = this.#ctx
    const max = this.breaker.options.halfOpenMaxCalls
    const answerMs = this.#answerMs
    this.#acquiringSince = now
    this.#nextAttemptAt = now + ctx.leaseRetryMs
    const epoch = this.#epoch
    this.#deadlineTimer = setTimeout(
      () => ctx.onError(new CircuitRedisTimeoutError(this.breaker.name, answerMs)),
      answerMs,
    )
    this.#deadlineTimer.unref?.()
    ctx
      .eval(LEASE, [this.#keys.probes], [ctx.instanceId, max, this.#leaseMs])
      .then(
        (held) => {
          this.#leaseFailed = false
          // Our view was dropped meanwhile (a trip, a close, a detach): hand the slots back.
          if (epoch === this.#epoch) this.#leased(Number(held), now)
          else this.#giveBack(Number(held))
        },
        (error: unknown) => {
          this.#leaseFailed = true
          ctx.onError(error)
        },
      )
      .finally(() => {
        clearTimeout(this.#deadlineTimer)
        this.#acquiringSince = 0
      })
  }

  #leased(held: number, requestedAt: number): void {
    this.#held = held
    // Expire our view a little early so we never probe on a lease Redis already dropped.
    this.#leaseUntil = requestedAt + this.#leaseMs - 500
    this.#leaseUsed = false
    clearTimeout(this.#idleTimer)
    if (held === 0) return
    // The call that asked was told to retry after leaseRetryMs. If no probe starts within twice
    // that, nobody here needs the slots: give them back so that another instance may probe.
    this.#idleTimer = setTimeout(() => {
      if (!this.#leaseUsed && this.#inFlight === 0) this.#release()
    }, 2 * this.#ctx.leaseRetryMs)
    this.#idleTimer.unref?.()
  }

  /** Forgets our lease without telling Redis; returns how many slots we held. */
  #dropLease(): number {
    const held = this.#held
    this.#epoch++
    this.#held = 0
    this.#inFlight = 0
    this.#leaseUntil = 0
    clearTimeout(this.#idleTimer)
    return held
  }

  #release(): void {
    this.#giveBack(this.#dropLease())
  }

  #giveBack(held: number): void {
    if (held === 0 || !this.#ctx.connected()) return
    const slots = leaseSlots(this.#ctx.instanceId, this.breaker.options.halfOpenMaxCalls)
    this.#ctx.zrem(this.#keys.probes, slots).catch((error: unknown) => this.#ctx.onError(error))
  }
}
