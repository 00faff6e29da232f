// Goodput and completion of ResilientClaude vs the raw SDK (default retries), against the fake
// Anthropic server on loopback. Run: npm run bench -w @steadfast/claude-adapter (after a build).
import { setMaxListeners } from 'node:events'
import { writeFileSync } from 'node:fs'
import { Anthropic } from '@anthropic-ai/sdk'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { ResilientClaude } from '@steadfast/claude-adapter'
import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'

const PRIMARY = 'claude-sonnet-5-5'
const FALLBACK = 'claude-haiku-5-5'
const RATE = Number(process.env.BENCH_RATE ?? 20) // requests per second the fake allows
const CALLERS = 50
const WINDOW_MS = Number(process.env.BENCH_WINDOW_MS ?? 10_000)
const GOODPUT_ROUNDS = Number(process.env.BENCH_GOODPUT_ROUNDS ?? 5)
const FAULT_ROUNDS = Number(process.env.BENCH_FAULT_ROUNDS ?? 5)
const FAULT_CALLS = 300

const params = {
  model: PRIMARY,
  max_tokens: 64,
  messages: [{ role: 'user' as const, content: 'Summarise the ticket in one line.' }],
}

type Call = (signal: AbortSignal) => Promise<unknown>

interface Run {
  completed: number
  failed: number
  rejected429: number
  requests: number
  latencies: number[]
}

const sdk = (fake: FakeAnthropic, maxRetries?: number) =>
  new Anthropic({
    apiKey: 'bench',
    baseURL: fake.url,
    ...(maxRetries === undefined ? {} : { maxRetries }),
  })

/** CALLERS loops calling `call` until the window closes; only calls finished inside it count. */
async function closedLoop(fake: FakeAnthropic, call: Call): Promise<Run> {
  const controller = new AbortController()
  // Every caller listens on this one signal.
  setMaxListeners(0, controller.signal)
  const end = Date.now() + WINDOW_MS
  const timer = setTimeout(() => controller.abort(new Error('window closed')), WINDOW_MS)
  const run: Run = { completed: 0, failed: 0, rejected429: 0, requests: 0, latencies: [] }
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (Date.now() < end) {
        const started = Date.now()
        try {
          await call(controller.signal)
          if (Date.now() <= end) {
            run.completed += 1
            run.latencies.push(Date.now() - started)
          }
        } catch {
          if (!controller.signal.aborted) run.failed += 1
        }
      }
    }),
  )
  clearTimeout(timer)
  run.rejected429 = fake.requests.filter((r) => r.status === 429).length
  run.requests = fake.count()
  return run
}

/** FAULT_CALLS calls spread over CALLERS workers; counts how many end with an answer. */
async function fixedCalls(fake: FakeAnthropic, call: Call): Promise<Run> {
  const run: Run = { completed: 0, failed: 0, rejected429: 0, requests: 0, latencies: [] }
  let next = 0
  const signal = new AbortController().signal
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (next < FAULT_CALLS) {
        next += 1
        const started = Date.now()
        try {
          await call(signal)
          run.completed += 1
          run.latencies.push(Date.now() - started)
        } catch {
          run.failed += 1
        }
      }
    }),
  )
  run.requests = fake.count()
  return run
}

const percentile = (values: number[], p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}
const median = (values: number[]): number => percentile(values, 50)

interface Summary {
  completed: number
  failed: number
  rejected429: number
  requests: number
  p50: number
  p99: number
}

const summarise = (runs: Run[]): Summary => ({
  completed: median(runs.map((r) => r.completed)),
  failed: median(runs.map((r) => r.failed)),
  rejected429: median(runs.map((r) => r.rejected429)),
  requests: median(runs.map((r) => r.requests)),
  p50: median(runs.map((r) => percentile(r.latencies, 50))),
  p99: median(runs.map((r) => percentile(r.latencies, 99))),
})

async function goodput(): Promise<{ ours: Summary; raw: Summary; allowed: number }> {
  const ours: Run[] = []
  const raw: Run[] = []
  for (let round = 0; round < GOODPUT_ROUNDS; round++) {
    // Interleaved, each on a fresh fake whose bucket starts full.
    for (const contender of ['ours', 'raw'] as const) {
      const fake = await startFakeAnthropic({ rateLimit: { requestsPerSecond: RATE } })
      if (contender === 'raw') {
        const client = sdk(fake)
        raw.push(await closedLoop(fake, (signal) => client.messages.create(params, { signal })))
      } else {
        const claude = new ResilientClaude({
          client: sdk(fake),
          registry: new BreakerRegistry(),
          rateLimit: { requestsPerMinute: RATE * 60 },
        })
        ours.push(await closedLoop(fake, (signal) => claude.messages.create(params, { signal })))
      }
      await fake.close()
    }
  }
  // A full bucket (RATE) at the start, then RATE per second.
  const allowed = Math.floor(RATE + (RATE * WINDOW_MS) / 1000)
  return { ours: summarise(ours), raw: summarise(raw), allowed }
}

async function overload(): Promise<{ ours: Summary; raw: Summary }> {
  const ours: Run[] = []
  const raw: Run[] = []
  for (let round = 0; round < FAULT_ROUNDS; round++) {
    for (const contender of ['ours', 'raw'] as const) {
      const fake = await startFakeAnthropic({
        seed: 1000 + round,
        faults: [{ status: 529, probability: 0.3 }],
      })
      if (contender === 'raw') {
        const client = sdk(fake)
        raw.push(await fixedCalls(fake, () => client.messages.create(params)))
      } else {
        const claude = new ResilientClaude({
          client: sdk(fake),
          registry: new BreakerRegistry(),
          fallbackModels: [FALLBACK],
        })
        ours.push(await fixedCalls(fake, () => claude.messages.create(params)))
      }
      await fake.close()
    }
  }
  return { ours: summarise(ours), raw: summarise(raw) }
}

const started = Date.now()
const g = await goodput()
const o = await overload()
const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`
const ratio = (a: number, b: number) =>
  b === 0 ? (a === 0 ? '1.00x' : '∞') : `${(a / b).toFixed(2)}x`

/** A markdown table with padded columns, as Biome formats it; column 0 left-aligned, the rest right. */
function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, c) =>
    Math.max(3, ...rows.map((row) => (row[c] ?? '').length)),
  )
  const line = (cells: string[]) => `| ${cells.join(' | ')} |`
  const cell = (text: string, c: number) =>
    c === 0 ? text.padEnd(widths[c] ?? 0) : text.padStart(widths[c] ?? 0)
  const [head = [], ...body] = rows
  return [
    line(head.map(cell)),
    line(widths.map((w, c) => (c === 0 ? '-'.repeat(w) : `${'-'.repeat(w - 1)}:`))),
    ...body.map((row) => line(row.map(cell))),
  ]
}

const lines = [
  `# @steadfast/claude-adapter bench`,
  '',
  `Node ${process.version}, loopback fake server, ${CALLERS} concurrent callers; medians of interleaved rounds.`,
  '',
  `## Goodput under a rate limit (${RATE} req/s, 429 + retry-after above it; ${WINDOW_MS / 1000} s window; ${GOODPUT_ROUNDS} rounds)`,
  '',
  `The fake allows ${g.allowed} requests in the window (a full bucket of ${RATE}, then ${RATE}/s).`,
  '',
  ...table([
    [
      'client',
      'completed',
      'of allowed',
      '429s received',
      'failed calls',
      'requests sent',
      'p50 ms',
      'p99 ms',
    ],
    [
      'raw SDK (maxRetries 2)',
      `${g.raw.completed}`,
      pct(g.raw.completed, g.allowed),
      `${g.raw.rejected429}`,
      `${g.raw.failed}`,
      `${g.raw.requests}`,
      `${g.raw.p50}`,
      `${g.raw.p99}`,
    ],
    [
      `ResilientClaude (rateLimit ${RATE * 60}/min)`,
      `${g.ours.completed}`,
      pct(g.ours.completed, g.allowed),
      `${g.ours.rejected429}`,
      `${g.ours.failed}`,
      `${g.ours.requests}`,
      `${g.ours.p50}`,
      `${g.ours.p99}`,
    ],
    [
      'ratio ours / raw',
      ratio(g.ours.completed, g.raw.completed),
      '',
      ratio(g.ours.rejected429, g.raw.rejected429),
      '',
      ratio(g.ours.requests, g.raw.requests),
      ratio(g.ours.p50, g.raw.p50),
      ratio(g.ours.p99, g.raw.p99),
    ],
  ]),
  '',
  `## Completion with 30% random 529s (${FAULT_CALLS} calls; ${FAULT_ROUNDS} rounds)`,
  '',
  ...table([
    ['client', 'completed', 'completion rate', 'failed calls', 'requests sent', 'p50 ms', 'p99 ms'],
    [
      'raw SDK (maxRetries 2)',
      `${o.raw.completed}`,
      pct(o.raw.completed, FAULT_CALLS),
      `${o.raw.failed}`,
      `${o.raw.requests}`,
      `${o.raw.p50}`,
      `${o.raw.p99}`,
    ],
    [
      `ResilientClaude (+ ${FALLBACK} fallback)`,
      `${o.ours.completed}`,
      pct(o.ours.completed, FAULT_CALLS),
      `${o.ours.failed}`,
      `${o.ours.requests}`,
      `${o.ours.p50}`,
      `${o.ours.p99}`,
    ],
    [
      'ratio ours / raw',
      ratio(o.ours.completed, o.raw.completed),
      '',
      ratio(o.ours.failed, o.raw.failed),
      ratio(o.ours.requests, o.raw.requests),
      ratio(o.ours.p50, o.raw.p50),
      ratio(o.ours.p99, o.raw.p99),
    ],
  ]),
  '',
  `Total bench time: ${((Date.now() - started) / 1000).toFixed(0)} s. Reproduce: \`npm run build -w @steadfast/claude-adapter && npm run bench -w @steadfast/claude-adapter\`.`,
  '',
]
const markdown = lines.join('\n')
process.stdout.write(markdown)
writeFileSync(new URL('./results.md', import.meta.url), markdown)
