import { randomBytes } from 'node:crypto'
import { Anthropic } from '@anthropic-ai/sdk'
import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import type { Counter } from 'prom-client'
import { createApp, type WebhookApp } from './app.js'
import { BullQueue } from './bullmq-queue.js'
import { type Delivery, generateDeliveries } from './deliveries.js'
import { type Serving, serve } from './serve.js'
import type { JobResult } from './worker.js'

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /** Deliveries to send. @default 300 (30 with the real API) */
  deliveries?: number
  /** Receiver + worker instances (each its own queue connection and worker). @default 1 */
  instances?: number
  /** Use Redis + BullMQ. @default in-process queue and memory store */
  redisUrl?: string
  /** Call the real API with this key instead of the fake server. */
  apiKey?: string
  /** Deliveries in flight at once. @default 16 */
  sendConcurrency?: number
  /** Deliveries sent per second, so the outage and the breakers' recovery play out. @default 30 */
  ratePerSecond?: number
  /** Give up waiting for jobs after this long. @default 120_000 */
  timeoutMs?: number
  /** Called about every 100 ms with progress. */
  onProgress?: (progress: DemoProgress) => void
  seed?: number
}

/** Progress of a running demo. */
export interface DemoProgress {
  sent: number
  total: number
  finished: number
  expected: number
}

/** The demo's numbers; `ok` is true when they reconcile. */
export interface DemoReport {
  claude: 'fake' | 'api'
  queue: 'memory' | 'bullmq'
  /** The BullMQ queue of this run (deleted when it ends). */
  queueName?: string
  instances: number
  delivered: number
  accepted: number
  rejectedBadSignature: number
  duplicatesSuppressed: number
  uniqueEvents: number
  jobsExecuted: number
  jobsCompleted: number
  deadLettered: number
  claudeAttempts: number
  claudeRetries: number
  fallbacks: number
  breakerTransitions: number
  p50Ms: number
  p99Ms: number
  elapsedMs: number
  /** Each reconciliation check and whether it held. */
  checks: Array<{ name: string; ok: boolean; detail: string }>
  ok: boolean
}

const secret = `whsec_demo_${randomBytes(8).toString('hex')}`

async function sum(counters: Array<Counter<string>>): Promise<number> {
  let total = 0
  for (const counter of counters) {
    for (const value of (await counter.get()).values) total += value.value
  }
  return total
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0
}

/**
 * Runs the whole pipeline: the fake Claude server with a fault mix (20% 529 on the primary
 * model, some 429 with retry-after, a short full outage), receivers and workers, and a stream of
 * signed deliveries with duplicates, forged signatures and poison events; then reconciles.
 */
export async function runDemo(options: DemoOptions = {}): Promise<DemoReport> {
  const started = Date.now()
  const real = options.apiKey !== undefined
  const count = options.deliveries ?? (real ? 30 : 300)
  const instances = options.redisUrl ? Math.max(1, options.instances ?? 1) : 1
  let fake: FakeAnthropic | undefined
  if (!real) {
    fake = await startFakeAnthropic({
      seed: options.seed ?? 42,
      latencyMs: 25,
      faults: [
        { model: 'claude-sonnet-5-5', status: 529, probability: 0.2 },
        { status: 429, retryAfter: 1, probability: 0.02 },
      ],
    })
  }
  const anthropic = fake
    ? new Anthropic({ apiKey: 'fake', baseURL: fake.url })
    : new Anthropic({ apiKey: options.apiKey ?? '' })
  const apps: WebhookApp[] = []
  const servers: Serving[] = []
  const runId = randomBytes(4).toString('hex')
  // Its own queue, deleted at the end: on the default one, workers of a real deployment on the
  // same Redis would take the demo's jobs, and every run would leave its jobs behind.
  const queueName = options.redisUrl ? `webhooks-demo-${runId}` : undefined
  try {
    for (let i = 0; i < instances; i++) {
      const app = await createApp({
        secret,
        anthropic,
        ...(options.redisUrl && queueName ? { redisUrl: options.redisUrl, queueName } : {}),
        // 0.25 + 0.5 + 1 + 2 s of retries: past the injected outage and the breakers' 1 s.
        attempts: 5,
        backoffMs: 250,
        concurrency: 8,
        claudeTimeoutMs: 20_000,
        // Against the real API the demo sends fewer deliveries and asks for short answers.
        maxTokens: real ? 64 : 256,
      })
      apps.push(app)
      servers.push(await serve(app))
    }
    const deliveries = generateDeliveries(secret, {
      count,
      idPrefix: `evt_${runId}`,
      ...(options.seed !== undefined ? { seed: options.seed } : {}),
    })
    const expectedIds = new Set<string>()
    const statuses = { accepted: 0, duplicate: 0, rejected: 0, other: 0 }
    let sent = 0
    let finished = 0
    const report = () =>
      options.onProgress?.({ sent, total: deliveries.length, finished, expected: expectedIds.size })
    const ticker = setInterval(() => {
      void Promise.all([
        sum(apps.map((app) => app.metrics.completed)),
        (apps[0] as WebhookApp).queue.depth(),
      ]).then(([done, depth]) => {
        finished = done + depth.failed
        report()
      })
    }, 100)
    ticker.unref()

    // A full outage of every model, a third of the way in, for a short while.
    const outageAt = Math.floor(deliveries.length / 3)
    const send = async (delivery: Delivery, index: number) => {
      if (fake && index === outageAt) fake.script({ status: 503, times: 15 })
      const target = servers[index % servers.length] as Serving
      const res = await fetch(`${target.url}/webhooks/demo`, {
        method: 'POST',
        headers: delivery.headers,
        body: delivery.body,
      })
      const body = (await res.json()) as { jobId?: string; duplicate?: boolean }
      if (res.status === 202 && body.jobId) {
        if (body.duplicate) statuses.duplicate++
        else statuses.accepted++
        expectedIds.add(body.jobId)
      } else if (res.status === 400 || res.status === 401) statuses.rejected++
      else statuses.other++
      sent++
    }
    let next = 0
    const rate = options.ratePerSecond ?? 30
    const sendStart = Date.now()
    await Promise.all(
      Array.from({ length: options.sendConcurrency ?? 16 }, async () => {
        while (next < deliveries.length) {
          const index = next++
          const due = sendStart + (index * 1000) / rate - Date.now()
          if (due > 0) await new Promise((resolve) => setTimeout(resolve, due))
          await send(deliveries[index] as Delivery, index)
        }
      }),
    )

    const queue = (apps[0] as WebhookApp).queue
    const deadline = Date.now() + (options.timeoutMs ?? 120_000)
    const latencies: number[] = []
    let completed = 0
    let dead = 0
    for (;;) {
      completed = 0
      dead = 0
      latencies.length = 0
      for (const id of expectedIds) {
        const job = await queue.get(id)
        if (job?.status === 'completed') {
          completed++
          const result = job.result as JobResult | undefined
          if (result) latencies.push(result.completedAt - job.data.receivedAt)
        } else if (job?.status === 'failed') dead++
      }
      finished = completed + dead
      if (finished >= expectedIds.size || Date.now() > deadline) break
      await new Promise((resolve) => setTimeout(resolve, 200))
    }
    clearInterval(ticker)
    report()
    latencies.sort((a, b) => a - b)

    const m = apps.map((app) => app.metrics)
    const executed = await sum(m.map((x) => x.executed))
    const byKind = (kind: Delivery['kind']) => deliveries.filter((d) => d.kind === kind).length
    const unique = byKind('unique') + byKind('poison')
    const checks = [
      {
        name: 'every unique event accepted once',
        ok: statuses.accepted === unique && expectedIds.size === unique,
        detail: `${statuses.accepted} accepted for ${unique} unique events`,
      },
      {
        name: 'every duplicate suppressed',
        ok: statuses.duplicate === byKind('duplicate'),
        detail: `${statuses.duplicate} of ${byKind('duplicate')}`,
      },
      {
        name: 'every forged signature rejected',
        ok: statuses.rejected === byKind('bad-signature') && statuses.other === 0,
        detail: `${statuses.rejected} of ${byKind('bad-signature')}, ${statuses.other} unexpected`,
      },
      {
        name: 'executed exactly once per completed job',
        ok: executed === completed,
        detail: `${executed} executions, ${completed} completed jobs`,
      },
      {
        name: 'nothing lost: completed + dead-lettered = unique events',
        ok: completed + dead === unique,
        detail: `${completed} + ${dead} = ${completed + dead} of ${unique}`,
      },
      {
        name: 'only poison events dead-lettered',
        ok: dead === byKind('poison'),
        detail: `${dead} in the DLQ, ${byKind('poison')} poison events`,
      },
    ]
    return {
      claude: fake ? 'fake' : 'api',
      queue: queue.kind,
      ...(queueName ? { queueName } : {}),
      instances,
      delivered: deliveries.length,
      accepted: statuses.accepted,
      rejectedBadSignature: statuses.rejected,
      duplicatesSuppressed: statuses.duplicate,
      uniqueEvents: unique,
      jobsExecuted: executed,
      jobsCompleted: completed,
      deadLettered: dead,
      claudeAttempts: fake ? fake.requests.length : await sum(m.map((x) => x.claudeAttempts)),
      claudeRetries: await sum(m.map((x) => x.claudeRetries)),
      fallbacks: await sum(m.map((x) => x.claudeFallbacks)),
      breakerTransitions: await sum(m.map((x) => x.breakerTransitions)),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      elapsedMs: Date.now() - started,
      checks,
      ok: checks.every((c) => c.ok),
    }
  } finally {
    await Promise.all(servers.map((s) => s.stop(5_000)))
    await fake?.close()
    if (options.redisUrl && queueName) {
      const leftovers = new BullQueue({ redisUrl: options.redisUrl, name: queueName })
      try {
        await leftovers.obliterate()
      } finally {
        await leftovers.close(1_000)
      }
    }
  }
}

/** The report as a table for the terminal. */
export function formatReport(r: DemoReport): string {
  const rows: Array<[string, string | number]> = [
    ['Claude', r.claude === 'fake' ? 'bundled fake server (faults injected)' : 'Anthropic API'],
    ['queue', `${r.queue} x ${r.instances} receiver+worker`],
    ['deliveries sent', r.delivered],
    ['rejected (bad signature)', r.rejectedBadSignature],
    ['duplicates suppressed', r.duplicatesSuppressed],
    ['unique events', r.uniqueEvents],
    ['jobs executed (Claude called)', r.jobsExecuted],
    ['jobs completed', r.jobsCompleted],
    ['dead-lettered (DLQ)', r.deadLettered],
    ['Claude attempts', r.claudeAttempts],
    ['retries', r.claudeRetries],
    ['fallbacks to another model', r.fallbacks],
    ['breaker transitions', r.breakerTransitions],
    ['end-to-end latency p50', `${r.p50Ms} ms`],
    ['end-to-end latency p99', `${r.p99Ms} ms`],
    ['wall time', `${(r.elapsedMs / 1000).toFixed(1)} s`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  const lines = rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)
  const checks = r.checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.name} (${c.detail})`)
  return [
    ...lines,
    '',
    ...checks,
    '',
    r.ok ? '  all numbers reconcile' : '  NUMBERS DO NOT RECONCILE',
  ].join('\n')
}
