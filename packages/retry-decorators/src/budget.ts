/** Options of {@link RetryBudget}. */
export interface RetryBudgetOptions {
  /** Retries allowed per first attempt (0.1 = at most 10% extra load). @default 0.1 */
  ratio?: number | undefined
  /** Retries always allowed per second, so low-traffic callers can still retry. @default 10 */
  minPerSecond?: number | undefined
  /** Window over which first attempts and retries are counted. @default 10_000 */
  windowMs?: number | undefined
}

const SLOTS = 10

/**
 * A token bucket shared by many {@link retry} calls: each first attempt deposits `ratio` of a
 * token and each retry spends one, so during an outage a fleet adds at most about `ratio` extra
 * load. Over the window, retries ≤ ratio × first attempts + minPerSecond × windowMs / 1000
 * (Finagle's retry budget), approximately: counts live in `windowMs / 10` slots, so a full window
 * straddling a slot boundary can see up to twice that.
 * @example const budget = new RetryBudget({ ratio: 0.1 }); await retry(call, { budget })
 */
export class RetryBudget {
  /** Retries earned per first attempt. */
  readonly ratio: number
  /** Retries always allowed per second. */
  readonly minPerSecond: number
  /** Window over which first attempts and retries are counted. */
  readonly windowMs: number
  readonly #slotMs: number
  // Per-slot counts in a ring; `#slot` is the absolute index (time / slotMs) of the newest slot.
  readonly #deposits = new Float64Array(SLOTS)
  readonly #withdrawals = new Float64Array(SLOTS)
  #slot = Number.NEGATIVE_INFINITY

  constructor(options: RetryBudgetOptions = {}) {
    const { ratio = 0.1, minPerSecond = 10, windowMs = 10_000 } = options
    if (!(ratio >= 0)) throw new RangeError(`ratio must be >= 0, got ${ratio}`)
    if (!(minPerSecond >= 0)) throw new RangeError(`minPerSecond must be >= 0, got ${minPerSecond}`)
    if (!(windowMs > 0)) throw new RangeError(`windowMs must be > 0, got ${windowMs}`)
    this.ratio = ratio
    this.minPerSecond = minPerSecond
    this.windowMs = windowMs
    this.#slotMs = windowMs / SLOTS
  }

  /** Records a first attempt, earning `ratio` of a retry. */
  deposit(): void {
    const index = this.#advance()
    this.#deposits[index] = (this.#deposits[index] as number) + 1
  }

  /** Spends one retry if the budget allows it; false means "do not retry". */
  tryWithdraw(): boolean {
    const index = this.#advance()
    if (this.#balance() < 1) return false
    this.#withdrawals[index] = (this.#withdrawals[index] as number) + 1
    return true
  }

  /** Retries that could be spent right now. */
  get available(): number {
    this.#advance()
    return Math.max(0, Math.floor(this.#balance()))
  }

  #balance(): number {
    let deposits = 0
    let withdrawals = 0
    for (let i = 0; i < SLOTS; i++) {
      deposits += this.#deposits[i] as number
      withdrawals += this.#withdrawals[i] as number
    }
    return deposits * this.ratio + (this.minPerSecond * this.windowMs) / 1000 - withdrawals
  }

  // Clears the slots that fell out of the window and returns the ring index of the current one.
  #advance(): number {
    const slot = Math.floor(Date.now() / this.#slotMs)
    if (slot !== this.#slot) {
      const stale = Math.min(SLOTS, slot - this.#slot)
      for (let i = 0; i < stale; i++) {
        const index = mod(slot - i)
        this.#deposits[index] = 0
        this.#withdrawals[index] = 0
      }
      this.#slot = slot
    }
    return mod(slot)
  }
}

function mod(slot: number): number {
  return ((slot % SLOTS) + SLOTS) % SLOTS
}
