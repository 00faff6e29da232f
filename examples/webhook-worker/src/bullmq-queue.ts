import { type Job, Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import {
  type DeadLetter,
  type DlqPosition,
  type EnqueueResult,
  type JobData,
  type JobHandler,
  type JobQueue,
  type JobStatus,
  type JobView,
  type QueueDepth,
  QueueFullError,
  type QueueOptions,
} from './queue.js'

/** Options for {@link BullQueue}. */
export interface BullQueueOptions extends QueueOptions {
  redisUrl: string
  /** BullMQ queue name; also the prefix of the duplicate markers. @default 'webhooks' */
  name?: string
  /** Enqueueing, depth and ping fail after this long without Redis. @default 2_000 */
  redisTimeoutMs?: number
}

/** Redis did not answer within `redisTimeoutMs` (down, or unreachable). */
export class QueueUnavailableError extends Error {
  override readonly name = 'QueueUnavailableError'
}

/**
 * BullMQ on Redis: many receivers and workers share it. Retries use BullMQ's exponential
 * backoff, and its failed set is the dead-letter queue (`removeOnFail: false`).
 */
export class BullQueue implements JobQueue {
  readonly kind = 'bullmq' as const
  private readonly queue: Queue<JobData>
  private readonly client: Redis
  private worker: Worker<JobData> | undefined
  private workerClient: Redis | undefined
  private readonly maxQueued: number
  private readonly attempts: number
  private readonly backoffMs: number
  private readonly dedupeTtlMs: number
  private readonly name: string
  private readonly redisTimeoutMs: number

  constructor(options: BullQueueOptions) {
    this.name = options.name ?? 'webhooks'
    this.maxQueued = options.maxQueued ?? 1000
    this.attempts = options.attempts ?? 3
    this.backoffMs = options.backoffMs ?? 200
    this.dedupeTtlMs = options.dedupeTtlMs ?? 24 * 60 * 60 * 1000
    this.redisTimeoutMs = options.redisTimeoutMs ?? 2_000
    // BullMQ's blocking worker connection requires maxRetriesPerRequest: null, so commands wait
    // for Redis for ever: the request paths bound them with redisTimeoutMs instead.
    this.client = new Redis(options.redisUrl, { maxRetriesPerRequest: null })
    this.client.on('error', warnOnce)
    this.queue = new Queue<JobData>(this.name, { connection: this.client })
    // BullMQ prints a connection error itself unless someone listens.
    this.queue.on('error', warnOnce)
  }

  enqueue(id: string, data: JobData): Promise<EnqueueResult> {
    // A late add after a timeout is harmless: the retry's job id is the same.
    return this.bounded(this.add(id, data), 'enqueue')
  }

  private async add(id: string, data: JobData): Promise<EnqueueResult> {
    const counts = await this.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized')
    const pending = Object.values(counts).reduce((sum, n) => sum + n, 0)
    if (pending >= this.maxQueued) {
      // A redelivery of a job already taken is answered as one: a 503 would deny it was accepted.
      const seen = await this.client.exists(this.seenKey(id))
      if (seen === 1) return { id, duplicate: true }
      throw new QueueFullError(this.maxQueued, 1000)
    }
    // The add is idempotent by jobId; the marker only tells the receiver whether it was first.
    // Adding before marking means a crash in between can never leave a marker without a job.
    await this.queue.add('webhook', data, {
      jobId: id,
      attempts: this.attempts,
      backoff: { type: 'exponential', delay: this.backoffMs },
      removeOnComplete: { age: Math.ceil(this.dedupeTtlMs / 1000) },
      removeOnFail: false,
    })
    const first = await this.client.set(this.seenKey(id), '1', 'PX', this.dedupeTtlMs, 'NX')
    return { id, duplicate: first === null }
  }

  /** The marker saying a delivery of job `id` was accepted (kept for the dedupe TTL). */
  private seenKey(id: string): string {
    return `${this.name}:seen:${id}`
  }

  start(handler: JobHandler, options: { concurrency: number }): void {
    this.workerClient = this.client.duplicate()
    this.workerClient.on('error', warnOnce)
    this.worker = new Worker<JobData>(
      this.name,
      (job: Job<JobData>) =>
        handler({ id: job.id ?? '', data: job.data, attempt: job.attemptsMade + 1 }),
      { connection: this.workerClient, concurrency: options.concurrency },
    )
    // BullMQ emits worker errors (lost connection and the like); it reconnects on its own.
    this.worker.on('error', () => {})
  }

  async get(id: string): Promise<JobView | undefined> {
    // State first, then the job: read the other way round, a job finishing in between would
    // show as completed without its return value.
    const state = await this.queue.getJobState(id)
    const job = await this.queue.getJob(id)
    return job ? toView(job as Job<JobData>, state) : undefined
  }

  async deadLetters(after: DlqPosition | undefined, count: number): Promise<DeadLetter[]> {
    const positions = await this.failedPositions(after, count)
    const jobs = await Promise.all(positions.map(({ id }) => this.queue.getJob(id)))
    const letters: DeadLetter[] = []
    jobs.forEach((job, i) => {
      const position = positions[i] as DlqPosition
      // A job replayed (or removed) between the two reads is no longer a dead letter.
      if (job) letters.push({ ...toView(job as Job<JobData>, 'failed'), ...position })
    })
    return letters
  }

  /**
   * Reads the failed set, a sorted set scored by the time each job failed, by keyset: the score
   * and id of the last job seen, not an offset, so jobs added or removed meanwhile shift nothing.
   */
  private async failedPositions(
    after: DlqPosition | undefined,
    count: number,
  ): Promise<DlqPosition[]> {
    const key = this.queue.toKey('failed')
    if (!after) return positions(await this.client.zrevrange(key, 0, count - 1, 'WITHSCORES'))
    // Jobs that failed in the cursor's millisecond share its score; Redis lists them by id,
    // descending, so those before the cursor's id were on earlier pages. They are few: one
    // millisecond's failures.
    const ties = await this.client.zrevrangebyscore(key, after.failedAt, after.failedAt)
    const sameMs = ties
      .filter((id) => Buffer.compare(Buffer.from(id), Buffer.from(after.id)) < 0)
      .slice(0, count)
      .map((id) => ({ failedAt: after.failedAt, id }))
    if (sameMs.length === count) return sameMs
    const older = await this.client.zrevrangebyscore(
      key,
      `(${after.failedAt}`,
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      count - sameMs.length,
    )
    return [...sameMs, ...positions(older)]
  }

  async replay(id: string): Promise<boolean> {
    const job = await this.queue.getJob(id)
    if (!job || (await job.getState()) !== 'failed') return false
    await (job as Job<JobData>).retry('failed', {
      resetAttemptsMade: true,
      resetAttemptsStarted: true,
    })
    return true
  }

  async depth(): Promise<QueueDepth> {
    const c = await this.bounded(
      this.queue.getJobCounts('waiting', 'delayed', 'prioritized', 'active', 'completed', 'failed'),
      'depth',
    )
    return {
      waiting: (c.waiting ?? 0) + (c.delayed ?? 0) + (c.prioritized ?? 0),
      active: c.active ?? 0,
      completed: c.completed ?? 0,
      failed: c.failed ?? 0,
    }
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.bounded(this.client.ping(), 'ping')) === 'PONG'
    } catch {
      return false
    }
  }

  private bounded<T>(op: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new QueueUnavailableError(`Redis did not answer ${what} in ${this.redisTimeoutMs} ms`),
          ),
        this.redisTimeoutMs,
      )
    })
    return Promise.race([op, timeout]).finally(() => clearTimeout(timer))
  }

  /**
   * Deletes the queue (every job, any state) and its seen-markers from Redis: the demo's
   * cleanup, so a run leaves nothing in the Redis it was pointed at. Nothing may run on it.
   */
  async obliterate(): Promise<void> {
    await this.queue.obliterate({ force: true })
    let cursor = '0'
    do {
      const [next, keys] = await this.client.scan(cursor, 'MATCH', this.seenKey('*'), 'COUNT', 500)
      if (keys.length > 0) await this.client.unlink(...keys)
      cursor = next
    } while (cursor !== '0')
  }

  async close(timeoutMs: number): Promise<void> {
    if (this.worker) {
      const worker = this.worker
      const graceful = worker.close()
      const timedOut = await Promise.race([
        graceful.then(() => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(true), timeoutMs).unref()),
      ])
      // Jobs still running keep their lock until it expires; BullMQ's stalled-job check then moves
      // them back to waiting for another worker, so they are returned to the queue, not lost.
      // Worker.close() caches its first call, so close(true) would only wait on the graceful
      // close again: cut the worker's connections instead.
      if (timedOut) {
        graceful.catch(() => {})
        await worker.disconnect().catch(() => {})
      }
    }
    // Without Redis a graceful close would wait for it for ever.
    await this.bounded(this.queue.close(), 'close').catch(() => this.queue.disconnect())
    for (const client of [this.workerClient, this.client]) {
      if (client?.status === 'ready') await client.quit().catch(() => {})
      else client?.disconnect()
    }
  }
}

function toView(job: Job<JobData>, state: string): JobView {
  const status: JobStatus =
    state === 'completed' || state === 'failed' || state === 'active' || state === 'delayed'
      ? state
      : 'waiting'
  return {
    id: job.id ?? '',
    status,
    attempts: job.attemptsMade,
    data: job.data,
    ...(job.returnvalue !== undefined && job.returnvalue !== null
      ? { result: job.returnvalue }
      : {}),
    ...(job.failedReason ? { error: job.failedReason } : {}),
    ...(status === 'failed' && job.finishedOn ? { failedAt: job.finishedOn } : {}),
  }
}

/** `[id, score, id, score, …]` (a WITHSCORES reply) as positions. */
function positions(reply: string[]): DlqPosition[] {
  const out: DlqPosition[] = []
  for (let i = 0; i + 1 < reply.length; i += 2) {
    out.push({ id: reply[i] as string, failedAt: Number(reply[i + 1]) })
  }
  return out
}

/** One line per distinct Redis error, not one per reconnect attempt (ioredis retries for ever). */
let lastWarning = ''
function warnOnce(error: Error): void {
  if (error.message === lastWarning) return
  lastWarning = error.message
  console.warn(`[webhook-worker] Redis: ${error.message}`)
}
