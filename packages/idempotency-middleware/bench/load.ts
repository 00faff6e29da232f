// The load generator: wrk when it is installed (the baselines were taken with wrk), else
// autocannon. wrk is C and spends a fraction of autocannon's CPU per request, which matters on a
// small box where the load generator, the server and redis-server share the cores: with
// autocannon, redis-server's share is taken from the same budget the ratios are measured against.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { delimiter, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import autocannon from 'autocannon'

/** One load run's result. Latencies are in milliseconds. */
export interface LoadResult {
  rps: number
  p50: number
  p99: number
  total: number
  non2xx: number
}

/** A POST with one JSON body; `key` is the fixed Idempotency-Key, or `unique` for a fresh one per request. */
export interface LoadOptions {
  url: string
  body: string
  connections: number
  seconds: number
  key: { fixed: string } | { unique: string }
}

const BENCH_DRIVER = process.env.BENCH_DRIVER
const onPath = (command: string) =>
  (process.env.PATH ?? '').split(delimiter).some((dir) => existsSync(join(dir, command)))

/** `wrk` unless BENCH_DRIVER=autocannon or wrk is not installed. */
export const driver: 'wrk' | 'autocannon' =
  BENCH_DRIVER === 'autocannon' || (BENCH_DRIVER !== 'wrk' && !onPath('wrk')) ? 'autocannon' : 'wrk'

const script = fileURLToPath(new URL('./wrk.lua', import.meta.url))
const run = promisify(execFile)

async function withWrk(options: LoadOptions): Promise<LoadResult> {
  const [mode, key] =
    'unique' in options.key ? ['unique', options.key.unique] : ['fixed', options.key.fixed]
  // One thread: a single Node server tops out far below what one wrk thread can send, and the
  // second core is left to the server's kernel work and redis-server.
  const { stdout } = await run('wrk', [
    '-t1',
    `-c${options.connections}`,
    `-d${options.seconds}s`,
    '-s',
    script,
    options.url,
    '--',
    mode,
    key,
    options.body,
  ])
  const line = stdout.split('\n').find((l) => l.startsWith('{"requests"'))
  if (!line) throw new Error(`wrk printed no result:\n${stdout}`)
  const result = JSON.parse(line) as {
    requests: number
    durationUs: number
    errors: number
    p50Us: number
    p99Us: number
  }
  return {
    rps: result.requests / (result.durationUs / 1e6),
    p50: result.p50Us / 1000,
    p99: result.p99Us / 1000,
    total: result.requests,
    non2xx: result.errors,
  }
}

async function withAutocannon(options: LoadOptions): Promise<LoadResult> {
  const unique = 'unique' in options.key ? options.key.unique : undefined
  let n = 0
  const result = await autocannon({
    url: options.url,
    connections: options.connections,
    duration: options.seconds,
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': 'fixed' in options.key ? options.key.fixed : '',
    },
    body: options.body,
    requests: [
      {
        setupRequest: (request) => {
          if (unique !== undefined) request.headers['idempotency-key'] = `${unique}-${n++}`
          return request
        },
      },
    ],
  })
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    total: result.requests.total,
    non2xx: result.non2xx + result.errors,
  }
}

/** Drives `options.url` for `options.seconds` with the chosen driver. */
export const load = (options: LoadOptions): Promise<LoadResult> =>
  driver === 'wrk' ? withWrk(options) : withAutocannon(options)
