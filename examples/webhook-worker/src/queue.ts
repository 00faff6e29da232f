/** What the receiver hands to the worker for one webhook event. */
export interface JobData {
  source: string
  /** The delivery's idempotency key (the signed event id, or a hash of the body). */
  key: string
  event: unknown
  receivedAt: number
}

/** Where a job stands. `failed` means it is in the dead-letter queue. */
export type JobStatus = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed'

/** A job as `GET /jobs/:id` and `GET /dlq` show it. */
export interface JobView {
  id: string
  status: JobStatus
  attempts: number
  data: JobData
  result?: unknown
  error?: string
  /** When the job last failed for good (ms since the epoch); set while it is dead-lettered. */
  failedAt?: number
}

/** Where a page of the dead-letter queue resumes: strictly after job `id`, which failed at `failedAt`. */
export interface DlqPosition {
  failedAt: number
  id: string
}

/** A dead-lettered job; its `failedAt` and `id` are its place in the DLQ order. */
export interface DeadLetter extends JobView {
  failedAt: number
}

/**
 * The DLQ order of both queues: newest failure first, then id descending by UTF-8 bytes, which is
 * how Redis orders members of a sorted set with equal scores (jobs that failed in the same ms).
 */
export function compareDlqPositions(a: DlqPosition, b: DlqPosition): number {
  return b.failedAt - a.failedAt || Buffer.compare(Buffer.from(b.id), Buffer.from(a.id))
}

/** Outcome of {@link JobQueue.enqueue}: a duplicate delivery gets the first delivery's job. */
export interface EnqueueResult {
  id: string
  duplicate: boolean
}

/** What a worker does with one job; a rejection counts as a failed attempt. */
export type JobHandler = (job: { id: string; data: JobData; attempt: number }) => Promise<unknown>

/** Counts of jobs by state, for readiness and metrics. */
export interface QueueDepth {
  waiting: number
  active: number
  completed: number
  failed: number
}

/** The queue is at `maxQueued`: the receiver answers 503 with Retry-After instead of dropping. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError'
  readonly code = 'ERR_QUEUE_FULL'
  constructor(
    readonly maxQueued: number,
    readonly retryAfterMs: number,
  ) {
    super(`queue is full (${maxQueued} jobs waiting)`)
  }
}

/** Options shared by both queue implementations. */
export interface QueueOptions {
  /** Most jobs waiting (not yet finished) before enqueue refuses. @default 1000 */
  maxQueued?: number
  /** Attempts per job before it goes to the dead-letter queue. @default 3 */
  attempts?: number
  /** First retry delay; doubles on each further attempt. @default 200 */
  backoffMs?: number
  /** How long a completed job (and so its dedupe) is kept; dead letters stay. @default 24 h */
  dedupeTtlMs?: number
}

/** The small interface the receiver and the worker share; BullMQ or in-process behind it. */
export interface JobQueue {
  readonly kind: 'memory' | 'bullmq'
  /** Adds a job under `id` unless that id already exists; throws {@link QueueFullError}. */
  enqueue(id: string, data: JobData): Promise<EnqueueResult>
  /** Starts processing with `concurrency` jobs at a time. */
  start(handler: JobHandler, options: { concurrency: number }): void
  get(id: string): Promise<JobView | undefined>
  /**
   * Up to `count` of the jobs that exhausted their attempts, in {@link compareDlqPositions} order,
   * strictly after `after` (from the newest when undefined): a keyset, so jobs dead-lettered or
   * replayed meanwhile shift nothing.
   */
  deadLetters(after: DlqPosition | undefined, count: number): Promise<DeadLetter[]>
  /** Moves a dead-lettered job back to the queue with fresh attempts; false if it is not there. */
  replay(id: string): Promise<boolean>
  depth(): Promise<QueueDepth>
  /** True when the backing service answers (always true in-process). */
  ping(): Promise<boolean>
  /**
   * Stops taking jobs, waits up to `timeoutMs` for active ones, and returns any still running to
   * the queue, so that no accepted job is lost.
   */
  close(timeoutMs: number): Promise<void>
}
