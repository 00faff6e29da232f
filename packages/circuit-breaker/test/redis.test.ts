import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { type RedisServer, startRedisServer } from '../../../test-support/redis-server.js'
import { BreakerRegistry, CircuitBreaker } from '../src/index.js'
import { RedisBreakerSync } from '../src/redis.js'
import { uniquePrefix, waitFor } from './helpers.js'

const packageDir = fileURLToPath(new URL('..', import.meta.url))
const workerFile = fileURLToPath(new URL('./fixtures/fleet-worker.ts', import.meta.url))

interface Worker {
  child: ChildProcess
  ask(command: Record<string, unknown>): Promise<unknown>
}

const running: Worker[] = []
const servers: RedisServer[] = []
afterEach(async () => {
  for (const worker of running.splice(0)) worker.child.kill('SIGKILL')
  for (const server of servers.splice(0)) await server.kill()
})

function startWorker(env: Record<string, string>): Promise<Worker> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--conditions=@steadfast/source', workerFile],
    {
      cwd: packageDir,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  )
  let nextId = 0
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  const worker: Worker = {
    child,
    ask(command) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        child.send({ id, command })
      })
    },
  }
  running.push(worker)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`fleet worker exited with ${code}`)))
    child.on(
      'message',
      (message: { ready?: true; id?: number; result?: unknown; error?: string }) => {
        if (message.ready) return resolve(worker)
        const pending = waiting.get(message.id ?? -1)
        waiting.delete(message.id ?? -1)
        if (message.error !== undefined) pending?.reject(new Error(message.error))
        else pending?.resolve(message.result)
      },
    )
  })
}

function startFleet(options: { url?: string; quorum?: number; openMs?: number } = {}) {
  const env = {
    REDIS_URL: options.url ?? redisUrl,
    PREFIX: uniquePrefix(),
    BREAKER: 'claude',
    QUORUM: String(options.quorum ?? 1),
    OPEN_MS: String(options.openMs ?? 30_000),
  }
  return Promise.all([startWorker(env), startWorker(env), startWorker(env)])
}

async function eventually<T>(
  read: () => Promise<T>,
  expected: T,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let last: T | undefined
  while (Date.now() < deadline) {
    last = await read()
    if (JSON.stringify(last) === JSON.stringify(expected)) return
    await new Promise((r) => setTimeout(r, 25))
  }
  expect(last).toEqual(expected)
}

const states = (fleet: Worker[]) => () => Promise.all(fleet.map((w) => w.ask({ cmd: 'state' })))

/**
 * Every instance tries to start a probe at the same time, until one is admitted (the lease is
 * taken asynchronously at the end of the open period). Never more than one may be admitted.
 */
async function probeOnce(fleet: Worker[]): Promise<Worker> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const outcomes = await Promise.all(fleet.map((w) => w.ask({ cmd: 'hold' })))
    const admitted = outcomes.filter((o) => o === 'admitted')
    expect(admitted.length).toBeLessThanOrEqual(1)
    if (admitted.length === 1) return fleet[outcomes.indexOf('admitted')] as Worker
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new Error('no instance was admitted to probe within 10 s')
}

describe.skipIf(noRedis)('RedisBreakerSync (three processes, real Redis)', () => {
  describe('when quorum is 1', () => {
    it('opens every instance when one trips, with no Redis call per execute', async () => {
      const fleet = await startFleet()
      const [a, b, c] = fleet as [Worker, Worker, Worker]
      expect(await b.ask({ cmd: 'burst', n: 500 })).toBe(0)
      expect(await a.ask({ cmd: 'fail', n: 2 })).toBe('open')
      await eventually(states(fleet), ['open', 'open', 'open'])
      expect(await c.ask({ cmd: 'ok' })).toBe('rejected')
      expect(await c.ask({ cmd: 'burst', n: 500 })).toBe(0)
    })
  })

  describe('when quorum is 2', () => {
    it('keeps healthy instances closed until two instances tripped within openMs', async () => {
      const fleet = await startFleet({ quorum: 2 })
      const [a, b, c] = fleet as [Worker, Worker, Worker]
      await a.ask({ cmd: 'fail', n: 2 })
      await new Promise((r) => setTimeout(r, 300))
      expect(await states(fleet)()).toEqual(['open', 'closed', 'closed'])
      expect(await c.ask({ cmd: 'ok' })).toBe('ok')
      await b.ask({ cmd: 'fail', n: 2 })
      await eventually(states(fleet), ['open', 'open', 'open'])
    })

    it('does not count a trip older than openMs toward the quorum', async () => {
      const fleet = await startFleet({ quorum: 2, openMs: 400 })
      const [a, b, c] = fleet as [Worker, Worker, Worker]
      await a.ask({ cmd: 'fail', n: 2 })
      await new Promise((r) => setTimeout(r, 1_200))
      expect(await b.ask({ cmd: 'fail', n: 2 })).toBe('open')
      await new Promise((r) => setTimeout(r, 300))
      expect(await c.ask({ cmd: 'state' })).toBe('closed')
      expect(await c.ask({ cmd: 'ok' })).toBe('ok')
    })
  })

  describe('when the fleet is half-open', () => {
    it('lets halfOpenMaxCalls probes through across the fleet, then closes every instance', async () => {
      const fleet = await startFleet({ openMs: 1_000 })
      const [a] = fleet as [Worker, Worker, Worker]
      await a.ask({ cmd: 'fail', n: 2 })
      await eventually(states(fleet), ['open', 'open', 'open'])
      await eventually(states(fleet), ['half-open', 'half-open', 'half-open'], 5_000)
      const prober = await probeOnce(fleet)
      expect(await prober.ask({ cmd: 'release', fail: false })).toBe('closed')
      await eventually(states(fleet), ['closed', 'closed', 'closed'])
    })

    it('reopens every instance when the fleet probe fails', async () => {
      const fleet = await startFleet({ openMs: 800 })
      const [a] = fleet as [Worker, Worker, Worker]
      await a.ask({ cmd: 'fail', n: 2 })
      await eventually(states(fleet), ['half-open', 'half-open', 'half-open'], 5_000)
      const prober = await probeOnce(fleet)
      expect(await prober.ask({ cmd: 'release', fail: true })).toBe('open')
      await eventually(states(fleet), ['open', 'open', 'open'])
    })
  })

  describe('when Redis is unreachable', () => {
    it('keeps each breaker working locally and shares a trip once Redis is back', async () => {
      const server = await startRedisServer()
      servers.push(server)
      const fleet = await startFleet({ url: server.url })
      const [a, b, c] = fleet as [Worker, Worker, Worker]
      await server.stop()
      expect(await b.ask({ cmd: 'ok' })).toBe('ok')
      expect(await a.ask({ cmd: 'fail', n: 2 })).toBe('open')
      expect(await a.ask({ cmd: 'ok' })).toBe('rejected')
      expect(await states(fleet)()).toEqual(['open', 'closed', 'closed'])
      servers.push(await startRedisServer({ port: server.port }))
      await eventually(states(fleet), ['open', 'open', 'open'], 15_000)
      expect(await c.ask({ cmd: 'ok' })).toBe('rejected')
    })
  })
})

describe.skipIf(noRedis)('RedisBreakerSync (in process)', () => {
  it('adopts an open fleet when attached and detaches cleanly', async () => {
    const prefix = uniquePrefix()
    const client = new Redis(redisUrl)
    const first = new RedisBreakerSync({ client, prefix })
    const second = new RedisBreakerSync({ client, prefix })
    await Promise.all([first.ready(), second.ready()])
    const tripped = new CircuitBreaker({ name: 'svc', failureThreshold: 1, openMs: 5_000 })
    first.attach(tripped)
    await tripped.execute(async () => Promise.reject(new Error('down'))).catch(() => {})
    await eventually(() => client.pttl(`${prefix}{svc}:open`).then((ttl) => ttl > 0), true)
    const late = new CircuitBreaker({ name: 'svc' })
    const detach = second.attach(late)
    await eventually(async () => late.state, 'open')
    expect(late.snapshot().retryAfterMs).toBeGreaterThan(3_000)
    detach()
    late.reset()
    expect(() => first.attach(new CircuitBreaker({ name: 'svc' }))).toThrow(/already attached/)
    await first.close()
    await second.close()
    await client.quit()
  })

  it('reports the connection errors of the subscriber it created to onError', async () => {
    const server = await startRedisServer()
    servers.push(server)
    const client = new Redis(server.url, { retryStrategy: () => 50 })
    client.on('error', () => {})
    const errors: unknown[] = []
    const sync = new RedisBreakerSync({
      client,
      prefix: uniquePrefix(),
      onError: (error) => errors.push(error),
    })
    await sync.ready()
    // ioredis prints an 'error' event nobody listens to with console.error.
    const printed = vi.spyOn(console, 'error')
    try {
      await server.stop()
      // The command connection has its own listener, and no command is sent: these are the
      // subscriber's reconnection errors.
      const refused = () => errors.some((e) => (e as { code?: unknown }).code === 'ECONNREFUSED')
      expect(await waitFor(refused, 3_000)).toBe(true)
      const unhandled = printed.mock.calls.filter(([first]) =>
        String(first).includes('[ioredis] Unhandled error event'),
      )
      expect(unhandled).toEqual([])
    } finally {
      printed.mockRestore()
    }
    servers.push(await startRedisServer({ port: server.port }))
    await sync.close()
    await client.quit()
  })

  describe('when a registry forgets a breaker', () => {
    // A linked breaker publishes its trip on the command connection at once, so a PTTL sent
    // after the trip on that connection sees the key exactly when the breaker is linked.
    async function tripAndReadOpenKey(breaker: CircuitBreaker, client: Redis, prefix: string) {
      await breaker.execute(async () => Promise.reject(new Error('down'))).catch(() => {})
      expect(breaker.state).toBe('open')
      return client.pttl(`${prefix}{${breaker.name}}:open`)
    }

    it('links the breaker get() creates after delete() and clear(), and unlinks the old ones', async () => {
      const prefix = uniquePrefix()
      const client = new Redis(redisUrl)
      const sync = new RedisBreakerSync({ client, prefix })
      await sync.ready()
      const registry = new BreakerRegistry({ defaults: { failureThreshold: 1, openMs: 5_000 } })
      sync.attach(registry)
      const first = registry.get('svc')
      registry.delete('svc')
      const second = registry.get('svc')
      expect(second).not.toBe(first)
      expect(await tripAndReadOpenKey(first, client, prefix)).toBe(-2)
      registry.clear()
      const third = registry.get('svc')
      expect(await tripAndReadOpenKey(second, client, prefix)).toBe(-2)
      expect(await tripAndReadOpenKey(third, client, prefix)).toBeGreaterThan(0)
      await sync.close()
      await client.quit()
    })

    it('replaces the old link when an observer re-creates the breaker before the sync hears of it', async () => {
      const prefix = uniquePrefix()
      const client = new Redis(redisUrl)
      const sync = new RedisBreakerSync({ client, prefix })
      await sync.ready()
      const registry = new BreakerRegistry({ defaults: { failureThreshold: 1, openMs: 5_000 } })
      // Observes first, so its onRemove runs before the sync's.
      registry.observe(
        () => {},
        (breaker) => registry.get(breaker.name),
      )
      sync.attach(registry)
      const first = registry.get('svc')
      registry.delete('svc')
      const second = registry.get('svc')
      expect(second).not.toBe(first)
      expect(await tripAndReadOpenKey(first, client, prefix)).toBe(-2)
      expect(await tripAndReadOpenKey(second, client, prefix)).toBeGreaterThan(0)
      await sync.close()
      await client.quit()
    })
  })
})
