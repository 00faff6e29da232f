import { createHash } from 'node:crypto'
import { classifyError, type ResilientClaude } from '@steadfast/claude-adapter'
import { CircuitBreaker, Fallback, Retry, retryContext, Timeout } from '@steadfast/retry-decorators'

/** A summary and where it came from. */
export interface Summary {
  text: string
  source: 'claude' | 'cache' | 'extract'
  model?: string
  /** Why the fallback answered, when it did. */
  reason?: string
}

/** The name of the breaker the service's calls share (any class naming it shares it too). */
export const summaryBreaker = 'summary-service'

function keyOf(text: string): string {
  return createHash('sha256').update(text).digest('hex')
}

/**
 * Whether the fallback may answer for `error`: an outage (429, 529, 5xx, a timeout, an open
 * breaker), as `classifyError` of @steadfast/claude-adapter sorts them. A rejected call (400,
 * 401, 403) is the caller's or the deployment's mistake, which stale content would hide.
 */
export function isOutage(error: unknown): boolean {
  const kind = classifyError(error)
  return kind === 'transient' || kind === 'infrastructure'
}

/**
 * Summaries from Claude with the resilience policies declared on the method. Read the stack top
 * down, outermost first: an outage that survives the retries (or an open breaker) falls back to
 * the last good summary of the same text, else to an extract of its first sentence; any other
 * error (see {@link isOutage}) is thrown.
 */
export class SummaryService {
  // Last good summaries by text hash, least recently stored first: bounded, as every distinct
  // text a client sends would otherwise stay in memory for the life of the process.
  private readonly recent = new Map<string, Summary>()

  /** `maxRecent`: how many last good summaries the fallback keeps (the oldest go first). */
  constructor(
    private readonly claude: ResilientClaude,
    private readonly model = 'claude-sonnet-5-5',
    private readonly maxRecent = 1_000,
  ) {}

  /** Summarizes `text` in one or two sentences. */
  @Fallback('fromCache', { on: isOutage })
  @Retry({ maxAttempts: 2, backoff: { initialMs: 50, multiplier: 2, maxMs: 400, jitter: 'full' } })
  @CircuitBreaker(summaryBreaker, { failureThreshold: 3, openMs: 10_000 })
  @Timeout(1_500)
  async summarize(text: string): Promise<Summary> {
    // The attempt's signal: @Timeout aborts it, so the HTTP request stops with the attempt.
    const signal = retryContext()?.signal
    const message = await this.claude.messages.create(
      {
        model: this.model,
        max_tokens: 200,
        messages: [{ role: 'user', content: `Summarize in one or two sentences:\n\n${text}` }],
      },
      // Inside @Timeout's 1.5 s, so a hanging primary leaves the fallback model its share of it.
      signal ? { signal, timeoutMs: 1_400 } : { timeoutMs: 1_400 },
    )
    const summary: Summary = {
      text: message.content.map((block) => (block.type === 'text' ? block.text : '')).join(''),
      source: 'claude',
      model: message.model,
    }
    const key = keyOf(text)
    this.recent.delete(key)
    this.recent.set(key, summary)
    if (this.recent.size > this.maxRecent) {
      this.recent.delete(this.recent.keys().next().value as string)
    }
    return summary
  }

  /** The fallback: gets `summarize`'s arguments, then the error. */
  fromCache(text: string, error: unknown): Summary {
    const reason = error instanceof Error ? error.name : 'Error'
    const cached = this.recent.get(keyOf(text))
    if (cached) return { ...cached, source: 'cache', reason }
    const firstSentence = /^.*?[.!?](\s|$)/s.exec(text)?.[0]?.trim() ?? text.slice(0, 200)
    return { text: firstSentence, source: 'extract', reason }
  }
}
