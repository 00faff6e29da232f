import {
  compareDlqPositions,
  type DeadLetter,
  type DlqPosition,
  type EnqueueResult,
  type JobData,
  type JobHandler,
  type JobQueue,
  type JobView,
  type QueueDepth,
  QueueFullError,
  type QueueOptions,
} from './queue.js'

interface Entry extends JobView {
  readyAt: number
}

/**
 * The embedded default: an in-process queue with the same semantics as the BullMQ one (dedupe
 * by job id, bounded, exponential retries, dead letters, completed jobs kept for `dedupeTtlMs`).
 * Unfinished and dead-lettered jobs live as long as the process.
 */
export class MemoryQueue implements JobQueue {
  readonly kind = 'memory' as const
  private readonly jobs = new Map<string, Entry>()
  private readonly waiting: string[] = []
  private readonly running = new Map<string, Promise<void>>()
  private handler: JobHandler | undefined
  private concurrency = 1
  private closed = false
  private wakeTimer: NodeJS.Timeout | undefined
  private readonly maxQueued: number
  private readonly attempts: number
  private readonly backoffMs: number
  private readonly dedupeTtlMs: number
  // Completed jobs in completion order, so the oldest are forgotten first, as BullMQ's
  // removeOnComplete age does: a long-running receiver must not keep every job it ever ran.
  private readonly completedAt: { id: string; at: number }[] = []

  constructor(options: QueueOptions = {}) {
    this.maxQueued = options.maxQueued ?? 1000
    this.attempts = options.attempts ?? 3
    this.backoffMs = options.backoffMs ?? 200
    this.dedupeTtlMs = options.dedupeTtlMs ?? 24 * 60 * 60 * 1000
  }

  async enqueue(id: string, data: JobData): Promise<EnqueueResult> {
    this.forgetExpired()
    if (this.jobs.has(id)) return { id, duplicate: true }
    if (this.closed || this.waiting.length + this.running.size >= this.maxQueued) {
      throw new QueueFullError(this.maxQueued, 1000)
    }
    this.jobs.set(id, { id, status: 'waiting', attempts: 0, data, readyAt: 0 })
    this.waiting.push(id)
    this.pump()
    return { id, duplicate: false }
  }

  start(handler: JobHandler, options: { concurrency: number }): void {
    this.handler = handler
    this.concurrency = options.concurrency
    this.pump()
  }

  async get(id: string): Promise<JobView | undefined> {
    this.forgetExpired()
    const entry = this.jobs.get(id)
    return entry && view(entry)
  }

  async deadLetters(after: DlqPosition | undefined, count: number): Promise<DeadLetter[]> {
    const dead: DeadLetter[] = []
    for (const entry of this.jobs.values()) {
      if (entry.status !== 'failed' || entry.failedAt === undefined) continue
      const letter = { ...view(entry), failedAt: entry.failedAt }
      if (!after || compareDlqPositions(letter, after) > 0) dead.push(letter)
    }
    return dead.sort(compareDlqPositions).slice(0, count)
  }

  async replay(id: string): Promise<boolean> {
    const entry = this.jobs.get(id)
    if (entry?.status !== 'failed') return false
    entry.status = 'waiting'
    entry.attempts = 0
    entry.readyAt = 0
    delete entry.error
    delete entry.failedAt
    this.waiting.push(id)
    this.pump()
    return true
  }

  async depth(): Promise<QueueDepth> {
    this.forgetExpired()
    let completed = 0
    let failed = 0
    for (const entry of this.jobs.values()) {
      if (entry.status === 'completed') completed++
      else if (entry.status === 'failed') failed++
    }
    return { waiting: this.waiting.length, active: this.running.size, completed, failed }
  }

  async ping(): Promise<boolean> {
    return true
  }

  async close(timeoutMs: number): Promise<void> {
    this.closed = true
    clearTimeout(this.wakeTimer)
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref())
    await Promise.race([Promise.allSettled(this.running.values()), deadline])
    // Whatever still runs goes back to the front of the queue: it is not lost, only unfinished.
    for (const id of this.running.keys()) {
      const entry = this.jobs.get(id)
      if (entry && entry.status === 'active') {
        entry.status = 'waiting'
        this.waiting.unshift(id)
      }
    }
    this.running.clear()
  }

  private forgetExpired(): void {
    const before = Date.now() - this.dedupeTtlMs
    let expired = 0
    while (expired < this.completedAt.length && (this.completedAt[expired]?.at ?? 0) <= before) {
      const { id } = this.completedAt[expired] as { id: string }
      if (this.jobs.get(id)?.status === 'completed') this.jobs.delete(id)
      expired++
    }
    if (expired > 0) this.completedAt.splice(0, expired)
  }

  private pump(): void {
    if (this.closed || !this.handler) return
    const now = Date.now()
    let nextReady = Number.POSITIVE_INFINITY
    for (let i = 0; i < this.waiting.length && this.running.size < this.concurrency; ) {
      const id = this.waiting[i] as string
      const entry = this.jobs.get(id) as Entry
      if (entry.readyAt > now) {
        nextReady = Math.min(nextReady, entry.readyAt)
        i++
        continue
      }
      this.waiting.splice(i, 1)
      this.run(entry, this.handler)
    }
    if (nextReady !== Number.POSITIVE_INFINITY && this.running.size < this.concurrency) {
      clearTimeout(this.wakeTimer)
      this.wakeTimer = setTimeout(() => this.pump(), nextReady - now)
      this.wakeTimer.unref()
    }
  }

  private run(entry: Entry, handler: JobHandler): void {
    entry.status = 'active'
    entry.attempts++
    const done = handler({ id: entry.id, data: entry.data, attempt: entry.attempts }).then(
      (result) => {
        if (entry.status !== 'active') return
        entry.status = 'completed'
        entry.result = result
        this.completedAt.push({ id: entry.id, at: Date.now() })
      },
      (error: unknown) => {
        if (entry.status !== 'active') return
        entry.error = error instanceof Error ? error.message : String(error)
        if (entry.attempts >= this.attempts) {
          entry.status = 'failed'
          entry.failedAt = Date.now()
        } else {
          entry.status = 'delayed'
          entry.readyAt = Date.now() + this.backoffMs * 2 ** (entry.attempts - 1)
          this.waiting.push(entry.id)
        }
      },
    )
    this.running.set(
      entry.id,
      done.finally(() => {
        this.running.delete(entry.id)
        this.pump()
      }),
    )
  }
}

function view(entry: Entry): JobView {
  const { readyAt: _readyAt, ...rest } = entry
  return { ...rest }
}
