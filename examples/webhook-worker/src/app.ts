import type { Anthropic } from '@anthropic-ai/sdk'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { CircuitBreakerMetrics } from '@steadfast/circuit-breaker/prometheus'
import { ResilientClaude } from '@steadfast/claude-adapter'
import { type IdempotencyStore, MemoryStore } from '@steadfast/idempotency-middleware'
import express, { type Express } from 'express'
import { adminRoutes } from './admin.js'
import { BullQueue } from './bullmq-queue.js'
import { MemoryQueue } from './memory-queue.js'
import { Metrics } from './metrics.js'
import { notFound, problemErrors, sendProblem } from './problem.js'
import type { JobQueue } from './queue.js'
import { webhookReceiver } from './receiver.js'
import { claudeWorker } from './worker.js'

/** Configuration of one receiver + worker process. */
export interface AppConfig {
  /** HMAC secret shared with webhook senders. */
  secret: string
  /** Anthropic client (pointed at the fake server in tests and the demo). */
  anthropic: Anthropic
  /** Redis + BullMQ when set; in-process queue and memory stores otherwise. */
  redisUrl?: string
  /** BullMQ queue name. @default 'webhooks' */
  queueName?: string
  /** Idempotency records for the worker. @default MemoryStore, or a RedisStore with `redisUrl` */
  store?: IdempotencyStore
  /** Primary and fallback models. @default ['claude-sonnet-5-5', 'claude-haiku-5-5'] */
  models?: [string, ...string[]]
  /** Most unfinished jobs before the receiver answers 503. @default 1000 */
  maxQueued?: number
  /** Attempts per job before the DLQ. @default 5 */
  attempts?: number
  /** First queue retry delay (doubles): the retries outlast a breaker's open period. @default 500 */
  backoffMs?: number
  /** Jobs processed at once. @default 8 */
  concurrency?: number
  /** Deadline of one Claude call. @default 30_000 */
  claudeTimeoutMs?: number
  /** `max_tokens` of each summary. @default 256 */
  maxTokens?: number
  /** Tries per model inside one Claude call. @default 3 */
  claudeAttempts?: number
  /**
   * Bearer token of the admin routes (`GET /jobs/:id`, `GET /dlq`, `POST /dlq/:id/replay`).
   * Unset or empty, those routes answer 404. @default undefined
   */
  adminToken?: string | undefined
  /** Run the worker in this process. @default true */
  worker?: boolean
  /** Clock for signature checks (tests). @default Date.now */
  now?: () => number
}

/** A running receiver (+ worker): the Express app and the parts the demo and tests inspect. */
export interface WebhookApp {
  app: Express
  queue: JobQueue
  metrics: Metrics
  claude: ResilientClaude
  breakers: BreakerRegistry
  /** Stops accepting, then finishes or returns in-flight jobs within `timeoutMs`, and closes Redis. */
  shutdown(timeoutMs?: number): Promise<void>
}

/** Builds the receiver, the queue and (unless `worker: false`) the Claude worker. */
export async function createApp(config: AppConfig): Promise<WebhookApp> {
  const maxQueued = config.maxQueued ?? 1000
  const queueOptions = {
    maxQueued,
    // 0.5 + 1 + 2 + 4 s: a job failing because every model is down (or the breakers, open for
    // 1 s, turn it away) is retried past the outage before it is dead-lettered.
    attempts: config.attempts ?? 5,
    backoffMs: config.backoffMs ?? 500,
  }
  const queue: JobQueue = config.redisUrl
    ? new BullQueue({
        redisUrl: config.redisUrl,
        ...queueOptions,
        ...(config.queueName ? { name: config.queueName } : {}),
      })
    : new MemoryQueue(queueOptions)
  const owned = config.store ? undefined : await defaultStore(config.redisUrl)
  const store = config.store ?? (owned as OwnedStore).store
  const metrics = new Metrics()
  const breakers = new BreakerRegistry()
  new CircuitBreakerMetrics({ registry: metrics.registry }).instrument(breakers)
  const [model, ...fallbackModels] = config.models ?? ['claude-sonnet-5-5', 'claude-haiku-5-5']
  const claude = new ResilientClaude({
    client: config.anthropic,
    fallbackModels,
    registry: breakers,
    retry: {
      maxAttempts: config.claudeAttempts ?? 3,
      backoff: { initialMs: 100, multiplier: 2, maxMs: 2_000, jitter: 'full' },
    },
    breaker: {
      failureRate: { threshold: 0.5, minimumCalls: 10, window: { kind: 'count', size: 20 } },
      openMs: 1_000,
      halfOpenMaxCalls: 2,
      successThreshold: 1,
    },
    cache: { ttlMs: 3_600_000, mode: 'fallback' },
    // No `degrade`: a placeholder would be stored as the job's result and never redone. When every
    // model fails the job fails, and the queue retries it with backoff, then dead-letters it.
    onEvent: (event) => {
      if (event.type === 'attempt') metrics.claudeAttempts.inc({ model: event.model })
      else if (event.type === 'retry') metrics.claudeRetries.inc()
      else if (event.type === 'fallback') metrics.claudeFallbacks.inc()
      else if (event.type === 'breaker')
        metrics.breakerTransitions.inc({ model: event.model, to: event.to })
    },
  })
  let accepting = true
  const app = express()
  app.disable('x-powered-by')
  app.use((_req, res, next) => {
    if (accepting) return next()
    res.set('Connection', 'close').set('Retry-After', '1')
    sendProblem(
      res,
      503,
      'SHUTTING_DOWN',
      'Shutting down',
      'This instance is shutting down; retry on another.',
    )
  })
  app.use(
    webhookReceiver({
      queue,
      metrics,
      secret: config.secret,
      ...(config.now ? { now: config.now } : {}),
    }),
  )
  app.use(
    adminRoutes({
      queue,
      metrics,
      maxQueued,
      adminToken: config.adminToken,
      accepting: () => accepting,
    }),
  )
  app.use(notFound)
  app.use(problemErrors)
  if (config.worker ?? true) {
    queue.start(
      claudeWorker({
        claude,
        store,
        metrics,
        model,
        maxTokens: config.maxTokens ?? 256,
        timeoutMs: config.claudeTimeoutMs ?? 30_000,
      }),
      { concurrency: config.concurrency ?? 8 },
    )
  }
  return {
    app,
    queue,
    metrics,
    claude,
    breakers,
    async shutdown(timeoutMs = 10_000) {
      accepting = false
      await queue.close(timeoutMs)
      claude.close()
      await owned?.close()
    },
  }
}

interface OwnedStore {
  store: IdempotencyStore
  close(): Promise<void>
}

// Redis libraries load only when Redis is used, so the embedded default never needs them.
async function defaultStore(redisUrl: string | undefined): Promise<OwnedStore> {
  if (!redisUrl) {
    const store = new MemoryStore()
    return { store, close: async () => store.close?.() }
  }
  const [{ Redis }, { RedisStore }] = await Promise.all([
    import('ioredis'),
    import('@steadfast/idempotency-middleware/redis'),
  ])
  const client = new Redis(redisUrl)
  return {
    store: new RedisStore({ client, prefix: 'webhook-worker:idem:' }),
    close: async () => {
      await client.quit().catch(() => {})
    },
  }
}
