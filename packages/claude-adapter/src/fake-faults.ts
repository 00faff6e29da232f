/** Stop reasons the fake can force on an otherwise successful answer. */
export type FakeStopReason =
  | 'max_tokens'
  | 'refusal'
  | 'model_context_window_exceeded'
  | 'pause_turn'
  | 'stop_sequence'

/** One scripted fault of the fake Anthropic server; fields combine (e.g. a delay then a status). */
export interface FakeFault {
  /** Only requests for this model match. @default every model */
  model?: string | undefined
  /** Only streaming (`true`) or only JSON (`false`) requests match. @default both */
  stream?: boolean | undefined
  /** How many matching requests this fault answers; `Infinity` for an outage. @default 1, or Infinity with `probability` */
  times?: number | undefined
  /** Applies to each matching request with this probability (seeded, see `seed`). @default 1 */
  probability?: number | undefined
  /** Wait this long before answering (or before dropping). @default 0 */
  delayMs?: number | undefined
  /** Answer with this HTTP status and Anthropic's error JSON for it. */
  status?: number | undefined
  /** `error.type` of the error body. @default the type Anthropic uses for `status` */
  errorType?: string | undefined
  /** `error.details.error_code`, e.g. `'enforced_spend_limit_reached'`. @default none */
  errorCode?: string | undefined
  /** `error.message`. @default a fixed text per status */
  message?: string | undefined
  /** `retry-after` header: seconds, or an HTTP date string. @default none */
  retryAfter?: number | string | undefined
  /** `retry-after-ms` header. @default none */
  retryAfterMs?: number | undefined
  /** `x-should-retry` header. @default none */
  shouldRetry?: boolean | undefined
  /** Destroy the connection without any answer. @default false */
  drop?: boolean | undefined
  /** Streaming: send this many SSE events, then destroy the connection. JSON: send half the body, then destroy. */
  cutAfterEvents?: number | undefined
  /** Streaming: send this many SSE events, then an `error` event of type `overloaded_error`. */
  overloadedAfterEvents?: number | undefined
  /** Answer normally but with this `stop_reason`. */
  stopReason?: FakeStopReason | undefined
}

/** Picks, for each request, the first scripted fault that matches and still has uses left. */
export class FaultSchedule {
  readonly #entries: Array<{ fault: FakeFault; left: number }> = []
  readonly #random: () => number

  constructor(faults: readonly FakeFault[], seed: number) {
    this.#random = mulberry32(seed)
    this.add(faults)
  }

  /** Appends faults after those already scripted. */
  add(faults: readonly FakeFault[]): void {
    for (const fault of faults) {
      const left = fault.times ?? (fault.probability === undefined ? 1 : Number.POSITIVE_INFINITY)
      this.#entries.push({ fault, left })
    }
  }

  /** Drops every scripted fault. */
  clear(): void {
    this.#entries.length = 0
  }

  /** The fault for this request, consuming one use of it, or undefined for a normal answer. */
  next(model: string, stream: boolean): FakeFault | undefined {
    for (const entry of this.#entries) {
      const { fault } = entry
      if (entry.left <= 0) continue
      if (fault.model !== undefined && fault.model !== model) continue
      if (fault.stream !== undefined && fault.stream !== stream) continue
      // Roll only for matching faults so that a seed replays the same sequence for the same traffic.
      if (fault.probability !== undefined && this.#random() >= fault.probability) continue
      entry.left -= 1
      return fault
    }
    return undefined
  }
}

/** A small seeded PRNG (mulberry32): the same seed gives the same fault sequence. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
