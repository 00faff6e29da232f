import { estimateTokens, type FakeRequestBody, inputText } from './fake-responses.js'

type Headers = Record<string, string>

/** The fake's request-rate limit: a token bucket refilled continuously. */
export class RequestBucket {
  readonly #rate: number
  readonly #capacity: number
  #tokens: number
  #at = Date.now()

  constructor({ requestsPerSecond, burst }: { requestsPerSecond: number; burst?: number }) {
    this.#rate = requestsPerSecond
    this.#capacity = Math.max(1, burst ?? Math.ceil(requestsPerSecond))
    this.#tokens = this.#capacity
  }

  /** The rate as Anthropic reports it, per minute. */
  get perMinute(): number {
    return Math.round(this.#rate * 60)
  }

  /** Whole requests left in the bucket now. */
  remaining(): number {
    this.#refill()
    return Math.max(0, Math.floor(this.#tokens))
  }

  /** Milliseconds until the bucket is full again (Anthropic's `-reset` meaning). */
  resetMs(): number {
    this.#refill()
    return Math.ceil(((this.#capacity - this.#tokens) / this.#rate) * 1000)
  }

  /** Takes one request's token; false when the bucket is empty. */
  take(): boolean {
    this.#refill()
    if (this.#tokens < 1) return false
    this.#tokens -= 1
    return true
  }

  /** Whole seconds until one token is back, as Anthropic's `retry-after` is in whole seconds. */
  retryAfterSeconds(): number {
    this.#refill()
    return Math.max(1, Math.ceil((1 - this.#tokens) / this.#rate))
  }

  #refill(): void {
    const now = Date.now()
    this.#tokens = Math.min(this.#capacity, this.#tokens + ((now - this.#at) / 1000) * this.#rate)
    this.#at = now
  }
}

const UNLIMITED = 1_000_000

/** Headers of every answer: `request-id` and Anthropic's `anthropic-ratelimit-*` family. */
export function baseHeaders(
  id: string,
  bucket: RequestBucket | undefined,
  body: FakeRequestBody | undefined,
): Headers {
  const now = Date.now()
  const inputTokens = body ? estimateTokens(inputText(body)) : 0
  const tokenReset = new Date(now + 60_000).toISOString()
  return {
    'request-id': `req_fake_${id}`,
    'anthropic-ratelimit-requests-limit': String(bucket?.perMinute ?? UNLIMITED),
    'anthropic-ratelimit-requests-remaining': String(bucket ? bucket.remaining() : UNLIMITED - 1),
    'anthropic-ratelimit-requests-reset': new Date(now + (bucket?.resetMs() ?? 0)).toISOString(),
    'anthropic-ratelimit-tokens-limit': String(UNLIMITED),
    'anthropic-ratelimit-tokens-remaining': String(UNLIMITED - inputTokens),
    'anthropic-ratelimit-tokens-reset': tokenReset,
    'anthropic-ratelimit-input-tokens-limit': String(UNLIMITED),
    'anthropic-ratelimit-input-tokens-remaining': String(UNLIMITED - inputTokens),
    'anthropic-ratelimit-input-tokens-reset': tokenReset,
    'anthropic-ratelimit-output-tokens-limit': String(UNLIMITED),
    'anthropic-ratelimit-output-tokens-remaining': String(UNLIMITED),
    'anthropic-ratelimit-output-tokens-reset': tokenReset,
  }
}
