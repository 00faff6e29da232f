/**
 * Success-path overhead per call of retry() and of a method decorated with @Retry +
 * @CircuitBreaker, side by side with p-retry 7, cockatiel 3 `retry` and `wrap(retry, breaker)`
 * and a bare call, in one process, in interleaved rounds. Imports the BUILT package.
 * Run: npm run bench -w @steadfast/retry-decorators (after building with tshy).
 */
import { writeFileSync } from 'node:fs'
import { BreakerRegistry } from '@steadfast/circuit-breaker'
import { CircuitBreaker, Retry, retry } from '@steadfast/retry-decorators'
import {
  ConsecutiveBreaker,
  circuitBreaker,
  retry as cockatielRetry,
  ExponentialBackoff,
  handleAll,
  wrap,
} from 'cockatiel'
import pRetry from 'p-retry'

const ROUNDS = 7
const OPS = 200_000

type Op = () => Promise<unknown>
interface Candidate {
  name: string
  op: Op
  target?: number
}

const work = async (): Promise<number> => 1

const retryOptions = { maxAttempts: 3 }
const registry = new BreakerRegistry()

class Service {
  @Retry({ maxAttempts: 3 })
  @CircuitBreaker('bench', { failureThreshold: 5, openMs: 60_000, registry })
  async call(): Promise<number> {
    return 1
  }

  async bare(): Promise<number> {
    return 1
  }
}
const service = new Service()

const cockatielRetryPolicy = cockatielRetry(handleAll, {
  maxAttempts: 2,
  backoff: new ExponentialBackoff(),
})
const cockatielBreaker = circuitBreaker(handleAll, {
  halfOpenAfter: 60_000,
  breaker: new ConsecutiveBreaker(5),
})
const cockatielWrap = wrap(cockatielRetryPolicy, cockatielBreaker)

const candidates: Candidate[] = [
  { name: 'bare `await fn()`', op: () => work() },
  { name: 'bare method `await obj.m()`', op: () => service.bare() },
  { name: '@steadfast `retry(fn)`', op: () => retry(work, retryOptions), target: 2.5 },
  { name: '@steadfast `@Retry @CircuitBreaker` method', op: () => service.call(), target: 4 },
  { name: 'p-retry 7 `pRetry(fn)`', op: () => pRetry(work, { retries: 2 }) },
  { name: 'cockatiel 3 `retry`', op: () => cockatielRetryPolicy.execute(work) },
  { name: 'cockatiel 3 `wrap(retry, breaker)`', op: () => cockatielWrap.execute(work) },
]

async function measure(op: Op, ops: number): Promise<number> {
  const start = process.hrtime.bigint()
  for (let i = 0; i < ops; i++) await op()
  return Number(process.hrtime.bigint() - start) / ops
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

// Before anything calls retry(): Node 20 has not yet installed AsyncLocalStorage's promise hooks.
const bareBeforeHooks: number[] = []
for (let i = 0; i < 4; i++) bareBeforeHooks.push(await measure(work, OPS))
bareBeforeHooks.shift()

const samples = new Map<string, number[]>(candidates.map((c) => [c.name, []]))
// Warm-up, so every candidate is optimised before the first timed round.
for (const candidate of candidates) await measure(candidate.op, OPS / 4)
for (let round = 0; round < ROUNDS; round++) {
  // Rotate the order each round so no candidate always runs first or last.
  for (let i = 0; i < candidates.length; i++) {
    const candidate = candidates[(i + round) % candidates.length] as Candidate
    samples.get(candidate.name)?.push(await measure(candidate.op, OPS))
  }
}

const bare = median(samples.get(candidates[0]?.name as string) as number[])
const format = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`)
const rows = candidates.map((candidate) => {
  const ns = median(samples.get(candidate.name) as number[])
  const ratio = ns / bare
  const target =
    candidate.target === undefined
      ? '—'
      : `≤ ${candidate.target}× ${ratio <= candidate.target ? '✓' : '✗'}`
  return { name: candidate.name, ns, ratio, target }
})

const beforeHooks = median(bareBeforeHooks)
// The second target: the decorated method at least 3× faster than cockatiel's wrap.
// Taken round by round (both ran back to back in each), so a load change between rounds on a
// shared machine moves both sides of a ratio, not one.
const ours = samples.get(candidates[3]?.name as string) as number[]
const theirs = samples.get(candidates[6]?.name as string) as number[]
const speedups = ours.map((ns, round) => (theirs[round] as number) / ns)
const speedup = median(speedups)
const cells = [
  ['success path, per call', 'median', 'ratio to bare', 'target'],
  [
    'bare `await fn()`, before AsyncLocalStorage hooks',
    format(beforeHooks),
    `${(beforeHooks / bare).toFixed(2)}×`,
    '—',
  ],
  ...rows.map((r) => [r.name, format(r.ns), `${r.ratio.toFixed(2)}×`, r.target]),
]
// Aligned columns, as the repository's markdown formatter writes tables.
const widths = [0, 1, 2, 3].map((i) => Math.max(...cells.map((row) => [...(row[i] ?? '')].length)))
const line = (row: string[]) =>
  `| ${row.map((cell, i) => cell + ' '.repeat((widths[i] ?? 0) - [...cell].length)).join(' | ')} |`
const lines = [
  line(cells[0] as string[]),
  line(widths.map((w) => '-'.repeat(w))),
  ...cells.slice(1).map(line),
  '',
  `Node ${process.version}, ${ROUNDS} interleaved rounds of ${OPS.toLocaleString('en')} sequential awaited calls, medians. ` +
    `The decorated retry + breaker method is ${speedup.toFixed(1)}× faster than cockatiel's wrap(retry, breaker) ` +
    `(median of the rounds' ratios; ${Math.min(...speedups).toFixed(1)}–${Math.max(...speedups).toFixed(1)}× over the rounds; ` +
    `target: 3× faster, ${speedup >= 3 ? 'met' : 'missed'}). ` +
    'Ratios are to the bare call measured in the same rounds, after retry() has enabled AsyncLocalStorage, ' +
    'whose promise hooks (Node 20) slow every promise in the process; the first row is the same bare call ' +
    'measured once before the hooks existed.',
]
const table = lines.join('\n')
console.log(table)
writeFileSync(new URL('./results.md', import.meta.url), `${table}\n`)
