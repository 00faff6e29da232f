import type { Anthropic } from '@anthropic-ai/sdk'
import type { ResilientClaude } from '@steadfast/claude-adapter'
import { type IdempotencyStore, idempotent } from '@steadfast/idempotency-middleware'
import type { Metrics } from './metrics.js'
import type { JobData, JobHandler } from './queue.js'

/** What a processed job stores as its result. */
export interface JobResult {
  summary: string
  model: string
  source: 'api' | 'cache' | 'degraded'
  claudeAttempts: number
  /** When the Claude answer was stored (end of the job's work). */
  completedAt: number
}

/** A delivery the worker cannot turn into a prompt; it fails every attempt and ends in the DLQ. */
export class PoisonEventError extends Error {
  override readonly name = 'PoisonEventError'
}

/** What the worker needs. */
export interface WorkerOptions {
  claude: ResilientClaude
  /** Idempotency records: a redelivered job whose Claude call completed is not run again. */
  store: IdempotencyStore
  metrics: Metrics
  /** @default 'claude-sonnet-5-5' */
  model?: string
  /** @default 256 */
  maxTokens?: number
  /** Deadline of one Claude call, fallbacks included. @default 30_000 */
  timeoutMs?: number
}

function promptFor(data: JobData): string {
  const event = data.event as { type?: unknown; data?: unknown } | null
  if (event === null || typeof event !== 'object' || typeof event.type !== 'string') {
    throw new PoisonEventError('event has no string `type`')
  }
  return `Summarize this ${data.source} webhook event (${event.type}) in one sentence for an operator:\n${JSON.stringify(event.data ?? {})}`
}

function textOf(message: Anthropic.Message): string {
  return message.content.map((block) => (block.type === 'text' ? block.text : '')).join('')
}

/**
 * The job handler: one Claude call per job, guarded by `idempotent()` so that a job redelivered
 * after a crash (or retried after the call completed) returns the stored result instead of
 * calling Claude again.
 */
export function claudeWorker(options: WorkerOptions): JobHandler {
  const { claude, store, metrics } = options
  const model = options.model ?? 'claude-sonnet-5-5'
  const maxTokens = options.maxTokens ?? 256
  const timeoutMs = options.timeoutMs ?? 30_000
  return async ({ id, data }) => {
    let ran = false
    try {
      const result = await idempotent<JobResult>(
        store,
        id,
        async () => {
          ran = true
          const { message, meta } = await claude.messages.createWithMeta(
            {
              model,
              max_tokens: maxTokens,
              messages: [{ role: 'user', content: promptFor(data) }],
            },
            { timeoutMs, idempotencyKey: id },
          )
          metrics.executed.inc()
          return {
            summary: textOf(message),
            model: meta.model,
            source: meta.source,
            claudeAttempts: meta.attempts,
            completedAt: Date.now(),
          }
        },
        // A second worker holding the same job (a stalled lock taken over) waits for the first.
        { scope: 'webhook-jobs', onConcurrent: { waitMs: timeoutMs } },
      )
      if (ran) metrics.idempotencyMisses.inc()
      else metrics.idempotencyHits.inc()
      metrics.completed.inc()
      return result
    } catch (error) {
      metrics.failed.inc()
      throw error
    }
  }
}
