/**
 * Success path, open (fast-fail) path and retained memory per breaker for a bare call, our
 * breaker, opossum 9 and cockatiel 3, side by side in one process, in interleaved rounds.
 * Run: npm run bench -w @steadfast/circuit-breaker (after building with tshy).
 */
import { writeFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { CircuitBreaker } from '@steadfast/circuit-breaker'
import { ConsecutiveBreaker, circuitBreaker, handleAll } from 'cockatiel'
import Opossum from 'opossum'

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void

const ROUNDS = 15
const SUCCESS_OPS = 200_000
const OPEN_OPS = 10_000
const MEMORY_INSTANCES = 2_000

type Op = () => Promise<unknown>
interface Candidate {
  name: string
  success?: Op
  open?: Op
  create?: () => object
}

const work = async (): Promise<number> => 1
const onValue = (value: number): number => value
const onError = (error: unknown): never => {
  throw error
}

const ours = new CircuitBreaker({ name: 'bench', failureThreshold: 5, openMs: 60_000 })
const oursOpen = new CircuitBreaker({ name: 'bench-open', openMs: 60_000 })
oursOpen.isolate()

const opossum = new Opossum(work, { resetTimeout: 60_000 })
const opossumOpen = new Opossum(work, { resetTimeout: 60_000 })
opossumOpen.open()

const cockatiel = circuitBreaker(handleAll, {
  halfOpenAfter: 60_000,
  breaker: new ConsecutiveBreaker(5),
})
const cockatielOpen = circuitBreaker(handleAll, {
  halfOpenAfter: 60_000,
  breaker: new ConsecutiveBreaker(5),
})
cockatielOpen.isolate()

/** Runs `op` from 12 frames down: real services call a breaker from deep stacks, where V8's
 * 10-frame stack capture is saturated and the breaker's own frame replaces a caller's frame. */
function deep(depth: number, op: Op): Promise<unknown> {
  return depth === 0 ? op() : deep(depth - 1, op)
}
const DEPTH = 12
const deepen =
  (op: Op): Op =>
  () =>
    deep(DEPTH, op)

const candidates: Candidate[] = [
  {
    name: 'bare `await fn()`',
    success: () => work(),
    open: async () => {
      throw new Error('Circuit is open')
    },
  },
  { name: 'bare `fn().then()` wrapper', success: () => work().then(onValue, onError) },
  {
    name: '@steadfast/circuit-breaker',
    success: () => ours.execute(work),
    open: () => oursOpen.execute(work),
    create: () => new CircuitBreaker({ name: 'b', failureThreshold: 5, openMs: 30_000 }),
  },
  {
    name: 'opossum 9',
    success: () => opossum.fire(),
    open: () => opossumOpen.fire(),
    create: () => {
      const breaker = new Opossum(work, { resetTimeout: 30_000 })
      return { dispose: () => breaker.shutdown() }
    },
  },
  {
    name: 'cockatiel 3',
    success: () => cockatiel.execute(work),
    open: () => cockatielOpen.execute(work),
    create: () =>
      circuitBreaker(handleAll, { halfOpenAfter: 30_000, breaker: new ConsecutiveBreaker(5) }),
  },
]

async function timeOps(op: Op, ops: number, expectReject: boolean): Promise<number> {
  const start = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) {
    try {
      await op()
      if (expectReject) throw new Error('expected a rejection')
    } catch (error) {
      if (!expectReject) throw error
    }
  }
  return Number(process.hrtime.bigint() - start) / ops
}

function retainedBytes(create: NonNullable<Candidate['create']>): number {
  const kept: ReturnType<typeof create>[] = new Array(MEMORY_INSTANCES)
  gc()
  gc()
  const before = process.memoryUsage().heapUsed
  for (let i = 0; i < MEMORY_INSTANCES; i++) kept[i] = create()
  gc()
  gc()
  const after = process.memoryUsage().heapUsed
  for (const item of kept) (item as { dispose?: () => void } | undefined)?.dispose?.()
  return (after - before) / MEMORY_INSTANCES
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

interface Samples {
  success: number[]
  open: number[]
  openDeep: number[]
  memory: number[]
}
const results = new Map<string, Samples>()
for (const c of candidates) results.set(c.name, { success: [], open: [], openDeep: [], memory: [] })

// Warm-up so every candidate runs optimised code before the first measured round.
for (const c of candidates) {
  if (c.success) await timeOps(c.success, SUCCESS_OPS / 3, false)
  if (c.open) await timeOps(c.open, OPEN_OPS / 3, true)
  if (c.open) await timeOps(deepen(c.open), OPEN_OPS / 3, true)
}

for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no candidate always runs first or last.
  const order = candidates.map((_, i) => candidates[(i + round) % candidates.length] as Candidate)
  for (const c of order) {
    const r = results.get(c.name)
    if (!r) continue
    if (c.success) r.success.push(await timeOps(c.success, SUCCESS_OPS, false))
    if (c.open) r.open.push(await timeOps(c.open, OPEN_OPS, true))
    if (c.open) r.openDeep.push(await timeOps(deepen(c.open), OPEN_OPS, true))
    if (c.create) r.memory.push(retainedBytes(c.create))
  }
  process.stdout.write(`round ${round + 1}/${ROUNDS} done\n`)
}

const bare = results.get('bare `await fn()`') as Samples
/** Median of the per-round ratios: each round's sample over the baseline's sample of that round,
 * which cancels load that drifts between rounds on a shared machine. */
const ratio = (samples: number[], baseline: number[]): number =>
  median(samples.map((value, i) => value / (baseline[i] as number)))
const fmtNs = (ns: number): string =>
  ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`
const cell = (samples: number[], baseline: number[]): string =>
  samples.length === 0 ? '—' : `${fmtNs(median(samples))} (${ratio(samples, baseline).toFixed(2)}×)`
const rows = candidates.map((c) => {
  const r = results.get(c.name) as Samples
  return [
    c.name,
    cell(r.success, bare.success),
    cell(r.open, bare.open),
    cell(r.openDeep, bare.openDeep),
    r.memory.length ? `${Math.round(median(r.memory))} B` : '—',
  ]
})
const header = [
  '',
  'success path / call',
  'open path / call',
  `open path, ${DEPTH} frames deep`,
  'retained per breaker',
]
// Columns padded as the repo's Markdown formatter (Biome) writes them, so lint stays clean.
const widths = header.map((h, i) => Math.max(3, h.length, ...rows.map((r) => (r[i] ?? '').length)))
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`
const table = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
const oursSamples = results.get('@steadfast/circuit-breaker') as Samples
const versusCockatiel = ratio((results.get('cockatiel 3') as Samples).success, oursSamples.success)
const note = `Node ${process.version}, ${ROUNDS} interleaved rounds; times are medians, ratios are medians of per-round ratios to the bare \`await fn()\` (open path: to a bare \`throw new Error\` from the same depth). On the success path ours is ${versusCockatiel.toFixed(2)}× faster than cockatiel.`
const markdown = `${table}\n\n${note}\n`
process.stdout.write(`\n${markdown}`)
writeFileSync(new URL('./results.md', import.meta.url), markdown)
opossum.shutdown()
opossumOpen.shutdown()
