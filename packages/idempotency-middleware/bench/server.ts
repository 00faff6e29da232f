// Bench servers, one per variant, in a child process so the load generator never shares their
// event loop. Reports ports and CPU usage over IPC. Imports the BUILT package by name.
import type { Server } from 'node:http'
import { performance } from 'node:perf_hooks'
import { Idempotency } from '@node-idempotency/core'
import { MemoryStorageAdapter } from '@node-idempotency/storage-adapter-memory'
import { RedisStorageAdapter } from '@node-idempotency/storage-adapter-redis'
import { idempotency, keepRawBody, MemoryStore } from '@steadfast/idempotency-middleware'
import { RedisStore } from '@steadfast/idempotency-middleware/redis'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  idempotency as expressIdempotency,
  getSharedIdempotencyService,
  type IdempotencyResource,
  type IIdempotencyDataAdapter,
} from 'express-idempotency'
import express from 'express4'
import { Redis, type RedisOptions } from 'ioredis'
import { floorGuard } from './floor.js'

const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const TTL_MS = 86_400_000
const clients: Redis[] = []
const roundTrips: Record<string, number> = {}

/** An ioredis client whose commands are counted per variant (the round trips). */
function redis(variant: string, options: RedisOptions = {}): Redis {
  const client = new Redis(redisUrl, options)
  const send = client.sendCommand.bind(client)
  roundTrips[variant] = 0
  client.sendCommand = ((...args: Parameters<typeof send>) => {
    roundTrips[variant] = (roundTrips[variant] ?? 0) + 1
    return send(...args)
  }) as typeof client.sendCommand
  clients.push(client)
  return client
}

/** express-idempotency data adapter on Redis, the way its interface invites (get, then set). */
class RedisDataAdapter implements IIdempotencyDataAdapter {
  constructor(private readonly client: Redis) {}
  async findByIdempotencyKey(key: string): Promise<IdempotencyResource | null> {
    const raw = await this.client.get(`ei:${key}`)
    return raw ? (JSON.parse(raw) as IdempotencyResource) : null
  }
  async create(resource: IdempotencyResource): Promise<void> {
    await this.client.set(`ei:${resource.idempotencyKey}`, JSON.stringify(resource), 'PX', TTL_MS)
  }
  async update(resource: IdempotencyResource): Promise<void> {
    await this.client.set(`ei:${resource.idempotencyKey}`, JSON.stringify(resource), 'PX', TTL_MS)
  }
  async delete(key: string): Promise<void> {
    await this.client.del(`ei:${key}`)
  }
}

/** The operations @node-idempotency/core calls on its storage adapter. */
interface NodeIdemStorage {
  setIfNotExists(key: string, value: string, options?: { ttl?: number }): Promise<boolean>
  set(key: string, value: string, options: { ttl?: number }): Promise<void>
  get(key: string): Promise<string | undefined>
}

/** Counts `adapter`'s calls as `variant`'s round trips (each is one Redis command). */
function counted<T extends NodeIdemStorage>(variant: string, adapter: T): T {
  roundTrips[variant] = 0
  const counting =
    <A extends unknown[], R>(call: (...args: A) => R) =>
    (...args: A): R => {
      roundTrips[variant] = (roundTrips[variant] ?? 0) + 1
      return call.apply(adapter, args)
    }
  adapter.setIfNotExists = counting(adapter.setIfNotExists)
  adapter.set = counting(adapter.set)
  adapter.get = counting(adapter.get)
  return adapter
}

// The published adapter keeps a node-redis 4 client, which pipelines the commands of one tick
// on its own; one per process, connected once.
let nodeIdemRedisAdapter: Promise<RedisStorageAdapter> | undefined
async function nodeIdemRedis(): Promise<RedisStorageAdapter> {
  nodeIdemRedisAdapter ??= (async () => {
    const adapter = counted('node-idempotency-redis', new RedisStorageAdapter({ url: redisUrl }))
    await adapter.connect()
    return adapter
  })()
  return nodeIdemRedisAdapter
}

/** Glues @node-idempotency/core into Express (its Express package is not on npm). */
function nodeIdempotencyMiddleware(idem: Idempotency): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const params = {
      headers: req.headers as Record<string, unknown>,
      path: req.originalUrl,
      body: req.body as Record<string, unknown>,
      method: req.method,
    }
    idem.onRequest<unknown, unknown>(params).then(
      (cached) => {
        if (cached) {
          res.status((cached.additional?.status as number) ?? 200).json(cached.body)
          return
        }
        const json = res.json.bind(res)
        res.json = (body: unknown) => {
          const done = () => json(body)
          idem.onResponse(params, { body, additional: { status: res.statusCode } }).then(done, done)
          return res
        }
        next()
      },
      (error: { code?: string }) => {
        const status =
          error.code === 'REQUEST_IN_PROGRESS'
            ? 409
            : error.code === 'IDEMPOTENCY_FINGERPRINT_MISSMATCH'
              ? 422
              : 400
        res.status(status).json({ error: error.code })
      },
    )
  }
}

const runs: Record<string, number> = {}

function app(
  variant: string,
  guard?: RequestHandler,
  isHit?: (req: Request) => boolean,
  rawBody = false,
) {
  const a = express()
  a.use(rawBody ? express.json({ verify: keepRawBody }) : express.json())
  if (guard) a.use(guard)
  runs[variant] = 0
  a.post('/orders', (req, res) => {
    if (isHit?.(req)) return
    res.status(201).json({ id: 'ord_123', amount: req.body.amount, currency: 'usd' })
  })
  // The race route: a 50 ms handler counting its runs.
  a.post('/race', (req, res) => {
    if (isHit?.(req)) return
    runs[variant] = (runs[variant] ?? 0) + 1
    setTimeout(() => res.status(201).json({ id: 'ord_race' }), 50)
  })
  a.use((error: Error, _req: Request, res: Response, _next: NextFunction) => {
    if (!res.headersSent)
      res.status(res.statusCode >= 400 ? res.statusCode : 500).json({ error: error.message })
  })
  return a
}

const hit = (req: Request) => getSharedIdempotencyService().isHit(req)

// express-idempotency keeps one shared service per process, so each of its variants is set up
// lazily, right before it is measured (see the `use` message).
const variants: Record<
  string,
  () => ReturnType<typeof express> | Promise<ReturnType<typeof express>>
> = {
  bare: () => app('bare'),
  'ours-memory': () => app('ours-memory', idempotency({ store: new MemoryStore() })),
  'ours-redis': () =>
    app('ours-redis', idempotency({ store: new RedisStore({ client: redis('ours-redis') }) })),
  // Same, hashing the raw request bytes instead of canonical JSON (README: fingerprint).
  'ours-memory-rawbody': () =>
    app('ours-memory-rawbody', idempotency({ store: new MemoryStore() }), undefined, true),
  // Same, each script written to the socket on its own (the store's default holds the writes of
  // one loop phase together).
  'ours-redis-uncoalesced': () =>
    app(
      'ours-redis-uncoalesced',
      idempotency({
        store: new RedisStore({ client: redis('ours-redis-uncoalesced'), coalesceWrites: false }),
      }),
    ),
  // Same, with ioredis batching the commands issued in one loop phase into one pipeline instead.
  'ours-redis-autopipeline': () =>
    app(
      'ours-redis-autopipeline',
      idempotency({
        store: new RedisStore({
          client: redis('ours-redis-autopipeline', { enableAutoPipelining: true }),
        }),
      }),
    ),
  'floor-memory': () => app('floor-memory', floorGuard()),
  'floor-memory-hashed': () => app('floor-memory-hashed', floorGuard(true)),
  'express-idempotency-memory': () => app('express-idempotency-memory', expressIdempotency(), hit),
  'express-idempotency-redis': () =>
    app(
      'express-idempotency-redis',
      expressIdempotency({ dataAdapter: new RedisDataAdapter(redis('express-idempotency-redis')) }),
      hit,
    ),
  'node-idempotency-memory': () =>
    app(
      'node-idempotency-memory',
      nodeIdempotencyMiddleware(
        new Idempotency(new MemoryStorageAdapter(), { cacheTTLMS: TTL_MS }),
      ),
    ),
  'node-idempotency-redis': async () =>
    app(
      'node-idempotency-redis',
      nodeIdempotencyMiddleware(new Idempotency(await nodeIdemRedis(), { cacheTTLMS: TTL_MS })),
    ),
}

let current: Server | undefined

type Message =
  | { type: 'use'; variant: string }
  | { type: 'cpu' }
  | { type: 'stats'; variant: string }
  | { type: 'exit' }

process.on('message', (message: Message) => {
  const reply = (value: unknown) => process.send?.(value)
  switch (message.type) {
    case 'use': {
      const listen = async () => {
        const factory = variants[message.variant]
        if (!factory) throw new Error(`unknown variant ${message.variant}`)
        // The previous cell's app, store and records are garbage now: collect them here, so
        // the next cell does not pay for them (each variant would pay for its predecessor's).
        globalThis.gc?.()
        current = (await factory()).listen(0, '127.0.0.1', () => {
          const address = current?.address()
          reply({ port: typeof address === 'object' && address ? address.port : 0 })
        })
      }
      if (current) current.close(() => void listen())
      else void listen()
      current?.closeAllConnections()
      return
    }
    case 'cpu':
      // Event-loop utilization: how busy the main thread was (cpuUsage also counts GC helpers).
      return reply({ ...process.cpuUsage(), loop: performance.eventLoopUtilization() })
    case 'stats':
      return reply({
        runs: runs[message.variant] ?? 0,
        roundTrips: roundTrips[message.variant] ?? 0,
      })
    case 'exit':
      current?.close()
      for (const client of clients) client.disconnect()
      void Promise.resolve(nodeIdemRedisAdapter?.then((adapter) => adapter.disconnect())).finally(
        () => process.exit(0),
      )
      return
  }
})
process.send?.({ ready: true })
