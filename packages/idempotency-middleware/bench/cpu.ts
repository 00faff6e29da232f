// CPU per request of the guard on the bench route, in-process and without sockets: real Express 4,
// real IncomingMessage/ServerResponse objects on a null socket, one request after another. No
// kernel and no load generator in the measurement, so it is the one to profile and A/B with;
// on a shared VM compare medians of several runs. It gives no throughput (see index.ts).
// Run: npm run build -w @steadfast/idempotency-middleware && npm run bench:cpu -w @steadfast/idempotency-middleware
// A/B: BENCH_AGAINST=/path/to/other/build/dist/esm/index.js runs one variant (BENCH_VARIANT,
// default ours-memory) from that build (A) and from this one (B) in A B B A cycles: on this VM a
// single pair of runs cannot tell a few µs from drift, and alternating cancels most of it.
import { fork } from 'node:child_process'
import { IncomingMessage, ServerResponse } from 'node:http'
import { Duplex } from 'node:stream'
import { fileURLToPath } from 'node:url'
import express from 'express4'
import { floorGuard } from './floor.js'

// The build under test: this package, or another build's entry point in an A/B child.
const { idempotency, MemoryStore } = (await import(
  process.env.BENCH_PACKAGE ?? '@steadfast/idempotency-middleware'
)) as typeof import('@steadfast/idempotency-middleware')

const VARIANTS = [
  'bare',
  'ours-memory',
  'ours-memory-full',
  'floor-memory',
  'floor-memory-hashed',
] as const
type Variant = (typeof VARIANTS)[number]
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000)
const BODY = Buffer.from(JSON.stringify({ amount: 1999, currency: 'usd' }))

/** A socket that accepts every write and never reads. */
class NullSocket extends Duplex {
  override _read(): void {}
  override _write(_chunk: unknown, _encoding: string, done: () => void): void {
    done()
  }
}

function makeApp(variant: Variant) {
  const app = express()
  app.use(express.json())
  // ours-memory keeps the default bound (10k), so most requests also evict; -full never evicts.
  if (variant === 'ours-memory') app.use(idempotency({ store: new MemoryStore() }))
  if (variant === 'ours-memory-full') {
    app.use(idempotency({ store: new MemoryStore({ maxEntries: 1_000_000 }) }))
  }
  if (variant === 'floor-memory') app.use(floorGuard())
  if (variant === 'floor-memory-hashed') app.use(floorGuard(true))
  app.post('/orders', (req, res) => {
    res.status(201).json({ id: 'ord_123', amount: req.body.amount, currency: 'usd' })
  })
  return app
}

let sent = 0
function request(app: ReturnType<typeof express>): Promise<void> {
  return new Promise((resolve) => {
    const socket = new NullSocket()
    const req = new IncomingMessage(socket as never)
    const key = `key-${sent++}`
    req.method = 'POST'
    req.url = '/orders'
    req.httpVersion = '1.1'
    req.httpVersionMajor = 1
    req.httpVersionMinor = 1
    req.rawHeaders = [
      'Content-Type',
      'application/json',
      'Content-Length',
      String(BODY.length),
      'Idempotency-Key',
      key,
    ]
    req.headers = {
      'content-type': 'application/json',
      'content-length': String(BODY.length),
      'idempotency-key': key,
    }
    const res = new ServerResponse(req)
    res.assignSocket(socket as never)
    res.on('finish', () => resolve())
    app(req as never, res as never)
    req.push(BODY)
    // As Node's parser does: a request that is not complete when it is destroyed counts as aborted,
    // which destroys the socket under the response (an error per request in the measurement).
    req.complete = true
    req.push(null)
  })
}

/** One run in a fresh process: warm up, then CPU µs per request over REQUESTS requests. */
async function run(variant: Variant): Promise<number> {
  const app = makeApp(variant)
  for (let i = 0; i < 5_000; i++) await request(app)
  const before = process.cpuUsage()
  for (let i = 0; i < REQUESTS; i++) await request(app)
  const used = process.cpuUsage(before)
  return (used.user + used.system) / REQUESTS
}

const child = process.argv[2]
if (child) {
  const perRequest = await run(child as Variant)
  // Run on its own (e.g. under node --cpu-prof), it prints what it would report.
  if (process.send) process.send(perRequest)
  else process.stdout.write(`${child}: ${perRequest.toFixed(1)} µs per request\n`)
  process.exit(0)
}

const runOnce = (variant: Variant, buildPackage?: string) =>
  new Promise<number>((resolve, reject) => {
    const worker = fork(fileURLToPath(import.meta.url), [variant], {
      execArgv: ['--import', 'tsx'],
      env: buildPackage ? { ...process.env, BENCH_PACKAGE: buildPackage } : process.env,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    worker.once('message', (value) => resolve(value as number))
    worker.once('error', reject)
  })
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0

const against = process.env.BENCH_AGAINST
const lines: string[] = []
if (against) {
  const variant = (process.env.BENCH_VARIANT ?? 'ours-memory') as Variant
  if (!VARIANTS.includes(variant)) throw new Error(`unknown BENCH_VARIANT ${variant}`)
  lines.push(
    `A/B of ${variant}: CPU µs per request in-process, ${ROUNDS} cycles of A B B A × ${REQUESTS} requests; A = ${against}, B = this build.`,
    '',
    '| cycle | A | B | B − A |',
    '| --- | ---: | ---: | ---: |',
  )
  const deltas: number[] = []
  for (let cycle = 1; cycle <= ROUNDS; cycle++) {
    const a1 = await runOnce(variant, against)
    const b1 = await runOnce(variant)
    const b2 = await runOnce(variant)
    const a2 = await runOnce(variant, against)
    const a = (a1 + a2) / 2
    const b = (b1 + b2) / 2
    deltas.push(b - a)
    lines.push(`| ${cycle} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${(b - a).toFixed(1)} |`)
  }
  const mean = deltas.reduce((sum, d) => sum + d, 0) / deltas.length
  lines.push(
    '',
    `B − A: mean ${mean.toFixed(1)} µs, lower in ${deltas.filter((d) => d < 0).length} of ${deltas.length} cycles.`,
  )
} else {
  const results = new Map<Variant, number[]>(VARIANTS.map((v) => [v, []]))
  for (let round = 0; round < ROUNDS; round++) {
    for (const variant of VARIANTS) results.get(variant)?.push(await runOnce(variant))
  }
  const bare = median(results.get('bare') ?? [])
  lines.push(
    `CPU µs per request, in-process (no sockets), ${ROUNDS} rounds × ${REQUESTS} requests, medians:`,
    '',
    '| variant | µs/req | × bare | + µs over bare |',
    '| --- | ---: | ---: | ---: |',
    ...VARIANTS.map((variant) => {
      const value = median(results.get(variant) ?? [])
      return `| ${variant} | ${value.toFixed(1)} | ${(value / bare).toFixed(2)} | ${(value - bare).toFixed(1)} |`
    }),
  )
}
process.stdout.write(`${lines.join('\n')}\n`)
