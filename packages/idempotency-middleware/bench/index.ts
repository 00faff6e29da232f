// Throughput, latency and server CPU of a bare Express 4 POST vs the same route behind our
// middleware (MemoryStore, RedisStore) and behind two peers, in interleaved rounds, as ratios
// to bare in the same round; driven by wrk, or by autocannon where wrk is not installed
// (bench/load.ts). Run: npm run build -w @steadfast/idempotency-middleware && npm run bench -w @steadfast/idempotency-middleware
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startRedisServer } from '../../../test-support/redis-server.js'
import { driver, load } from './load.js'

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5)
const SECONDS = Number(process.env.BENCH_SECONDS ?? 2)
const CONNECTIONS = 50
const ALL_VARIANTS = [
  'bare',
  'ours-memory',
  'ours-redis',
  'ours-redis-uncoalesced',
  'ours-redis-autopipeline',
  'ours-memory-rawbody',
  'floor-memory',
  'floor-memory-hashed',
  'express-idempotency-memory',
  'express-idempotency-redis',
  'node-idempotency-memory',
  'node-idempotency-redis',
] as const
type Variant = (typeof ALL_VARIANTS)[number]
// BENCH_VARIANTS=ours-memory,ours-redis narrows a run (bare, the baseline, always runs).
const only = process.env.BENCH_VARIANTS?.split(',')
const VARIANTS: readonly Variant[] = only
  ? ALL_VARIANTS.filter((v) => v === 'bare' || only.includes(v))
  : ALL_VARIANTS
type Scenario = 'unique keys' | 'replays'
const SCENARIOS: Scenario[] = ['unique keys', 'replays']
const BODY = JSON.stringify({ amount: 1999, currency: 'usd' })

interface Sample {
  rps: number
  p50: number
  p99: number
  cpuUsPerReq: number
  /** Main-thread (event loop) busy time per request. */
  loopUsPerReq: number
  /** Share of the cell the main thread was busy: below 1, the server waited (on Redis, say). */
  loopBusy: number
  non2xx: number
}

/** What the server reports on `cpu`: its CPU usage and its event-loop utilization so far. */
interface ServerUsage extends NodeJS.CpuUsage {
  loop: { idle: number; active: number }
}

const redisServer = process.env.REDIS_URL ? undefined : await startRedisServer()
const redisUrl = process.env.REDIS_URL ?? (redisServer?.url as string)

const child: ChildProcess = fork(fileURLToPath(new URL('./server.ts', import.meta.url)), {
  execArgv: ['--import', 'tsx', '--expose-gc'],
  env: { ...process.env, REDIS_URL: redisUrl, NODE_ENV: 'development' },
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const replies: ((value: unknown) => void)[] = []
child.on('message', (message) => replies.shift()?.(message))
const ask = <T>(message: object): Promise<T> =>
  new Promise((resolve) => {
    replies.push(resolve as (value: unknown) => void)
    child.send(message)
  })
await new Promise<void>((resolve) => replies.push(() => resolve()))

const post = (port: number, path: string, key: string) =>
  fetch(`http://127.0.0.1:${port}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': key },
    body: BODY,
  })

async function measure(variant: Variant, scenario: Scenario, seconds = SECONDS): Promise<Sample> {
  const { port } = await ask<{ port: number }>({ type: 'use', variant })
  const replayKey = randomUUID()
  if (scenario === 'replays') await (await post(port, '/orders', replayKey)).arrayBuffer()
  const before = await ask<ServerUsage>({ type: 'cpu' })
  const result = await load({
    url: `http://127.0.0.1:${port}/orders`,
    body: BODY,
    connections: CONNECTIONS,
    seconds,
    key: scenario === 'unique keys' ? { unique: randomUUID() } : { fixed: replayKey },
  })
  const after = await ask<ServerUsage>({ type: 'cpu' })
  const cpu = after.user - before.user + (after.system - before.system)
  const active = after.loop.active - before.loop.active
  const idle = after.loop.idle - before.loop.idle
  return {
    rps: result.rps,
    p50: result.p50,
    p99: result.p99,
    cpuUsPerReq: cpu / Math.max(1, result.total),
    loopUsPerReq: (active * 1000) / Math.max(1, result.total),
    loopBusy: active / Math.max(1e-9, active + idle),
    non2xx: result.non2xx,
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const samples = new Map<string, Sample[]>()
const ratios = new Map<string, number[]>()
const cpuRatios = new Map<string, number[]>()
const id = (variant: Variant, scenario: Scenario) => `${variant}|${scenario}`

// Warm-up: JIT and connections, not recorded.
for (const variant of VARIANTS) await measure(variant, 'unique keys', 1)

for (let round = 1; round <= ROUNDS; round++) {
  for (const scenario of SCENARIOS) {
    // Rotate the order each round so no variant always runs first or last.
    const order = VARIANTS.map((_, i) => VARIANTS[(i + round) % VARIANTS.length] as Variant)
    const thisRound = new Map<Variant, Sample>()
    for (const variant of order) {
      const sample = await measure(variant, scenario)
      thisRound.set(variant, sample)
      samples.set(id(variant, scenario), [...(samples.get(id(variant, scenario)) ?? []), sample])
    }
    const bare = thisRound.get('bare') as Sample
    for (const [variant, sample] of thisRound) {
      ratios.set(id(variant, scenario), [
        ...(ratios.get(id(variant, scenario)) ?? []),
        sample.rps / bare.rps,
      ])
      cpuRatios.set(id(variant, scenario), [
        ...(cpuRatios.get(id(variant, scenario)) ?? []),
        sample.cpuUsPerReq / bare.cpuUsPerReq,
      ])
    }
    process.stdout.write(`round ${round}/${ROUNDS} ${scenario} done\n`)
  }
}

// Redis round trips per request, counted by an ioredis sendCommand hook in the server.
async function roundTrips(variant: Variant, scenario: Scenario, count: number): Promise<number> {
  const { port } = await ask<{ port: number }>({ type: 'use', variant })
  const key = randomUUID()
  if (scenario === 'replays') await (await post(port, '/orders', key)).arrayBuffer()
  // A warm-up request loads the Lua scripts (EVALSHA's first NOSCRIPT fallback is not counted).
  await (await post(port, '/orders', randomUUID())).arrayBuffer()
  const before = (await ask<{ roundTrips: number }>({ type: 'stats', variant })).roundTrips
  for (let i = 0; i < count; i++) {
    await (await post(port, '/orders', scenario === 'replays' ? key : randomUUID())).arrayBuffer()
  }
  const after = (await ask<{ roundTrips: number }>({ type: 'stats', variant })).roundTrips
  return (after - before) / count
}

// Races: 50 requests with one key written at the same instant on 50 open sockets, against a
// 50 ms handler; how often did the handler run?
async function race(variant: Variant): Promise<{ runs: number; statuses: string }> {
  const { port } = await ask<{ port: number }>({ type: 'use', variant })
  const key = randomUUID()
  const raw = `POST /race HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nIdempotency-Key: ${key}\r\nContent-Length: ${Buffer.byteLength(BODY)}\r\nConnection: close\r\n\r\n${BODY}`
  const sockets = await Promise.all(
    Array.from(
      { length: 50 },
      () =>
        new Promise<Socket>((resolve, reject) => {
          const socket = connect(port, '127.0.0.1', () => resolve(socket))
          socket.once('error', reject)
        }),
    ),
  )
  const answers = sockets.map(
    (socket) =>
      new Promise<number>((resolve) => {
        let data = ''
        socket.setEncoding('utf8')
        socket.on('data', (chunk: string) => {
          data += chunk
        })
        socket.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d+)/.exec(data)?.[1] ?? 0)))
      }),
  )
  for (const socket of sockets) socket.write(raw)
  const statuses = await Promise.all(answers)
  const { runs } = await ask<{ runs: number }>({ type: 'stats', variant })
  const counts = new Map<number, number>()
  for (const status of statuses) counts.set(status, (counts.get(status) ?? 0) + 1)
  return { runs, statuses: [...counts].map(([s, c]) => `${c}×${s}`).join(', ') }
}

const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
// The spread of a variant's ratio over the rounds: how far one round can be trusted on this box.
const spread = (values: number[]) => `${fmt(Math.min(...values), 2)}–${fmt(Math.max(...values), 2)}`
const lines: string[] = []
lines.push(
  `Express 4.22, Node ${process.version}, ${driver} ${CONNECTIONS} connections, ${ROUNDS} interleaved rounds × ${SECONDS} s per cell, loopback; servers in a child process. Medians over rounds; ratios are to bare Express in the same round.`,
  '',
  '| scenario | variant | req/s | × bare | × bare, lowest–highest round | p50 ms | p99 ms | server CPU µs/req | CPU × bare | main thread µs/req | main thread busy | non-2xx |',
  '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
)
for (const scenario of SCENARIOS) {
  for (const variant of VARIANTS) {
    const s = samples.get(id(variant, scenario)) ?? []
    lines.push(
      `| ${scenario} | ${variant} | ${fmt(median(s.map((x) => x.rps)))} | ${fmt(median(ratios.get(id(variant, scenario)) ?? []), 2)} | ${spread(ratios.get(id(variant, scenario)) ?? [])} | ${fmt(median(s.map((x) => x.p50)), 1)} | ${fmt(median(s.map((x) => x.p99)), 1)} | ${fmt(median(s.map((x) => x.cpuUsPerReq)), 1)} | ${fmt(median(cpuRatios.get(id(variant, scenario)) ?? []), 2)} | ${fmt(median(s.map((x) => x.loopUsPerReq)), 1)} | ${fmt(median(s.map((x) => x.loopBusy)) * 100)}% | ${s.reduce((a, x) => a + x.non2xx, 0)} |`,
    )
  }
}
lines.push(
  '',
  '| Redis round trips per request | first request (claim + complete) | replay |',
  '| --- | ---: | ---: |',
)
for (const variant of VARIANTS.filter((v) => v.includes('redis'))) {
  lines.push(
    `| ${variant} | ${fmt(await roundTrips(variant, 'unique keys', 200), 2)} | ${fmt(await roundTrips(variant, 'replays', 200), 2)} |`,
  )
}
lines.push(
  '',
  '| Race: 50 concurrent requests, one key, 50 ms handler | handler runs | responses |',
  '| --- | ---: | --- |',
)
// The floors claim nothing, so they have no race to win.
for (const variant of VARIANTS.filter((v) => v !== 'bare' && !v.startsWith('floor'))) {
  const { runs, statuses } = await race(variant)
  lines.push(`| ${variant} | ${runs} | ${statuses} |`)
}

const table = lines.join('\n')
process.stdout.write(`\n${table}\n`)
// A narrowed run is a quick check, not the published table.
if (!only)
  writeFileSync(new URL('./results.md', import.meta.url), `# Benchmark results\n\n${table}\n`)
const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
child.send({ type: 'exit' })
await exited
await redisServer?.stop()
// Keep-alive sockets of the load generator and fetch must not keep the run alive.
process.exit(0)
