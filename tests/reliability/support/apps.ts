import { bodyParser } from '@koa/bodyparser'
import {
  type IdempotencyEvent,
  type IdempotencyStore,
  idempotency,
  keepRawBody,
} from '@steadfast/idempotency-middleware'
import { koaIdempotency } from '@steadfast/idempotency-middleware/koa'
import express, { type ErrorRequestHandler, type Express } from 'express'
import Koa from 'koa'

/** The side effect of the guarded handler: where it counts its runs. */
export interface WorkEffects {
  /** Marks that the handler started for `key` (before its slow part). */
  started(key: string): Promise<void>
  /** The side effect itself; resolves with how many times it ran for `key`. */
  commit(key: string): Promise<number>
}

/** Options of the test apps. */
export interface WorkAppOptions {
  /** Where the middleware keeps its records. */
  store: IdempotencyStore
  /** The handler's side effect. */
  effects: WorkEffects
  /** Passed to the middleware. @default the middleware's (60_000) */
  leaseMs?: number
  /** Passed to the middleware. @default the middleware's (2_000) */
  storeTimeoutMs?: number
  /** Passed to the middleware. @default 'fail-closed' */
  onStoreError?: 'fail-closed' | 'fail-open'
  /** Passed to the middleware. @default none */
  onEvent?: (event: IdempotencyEvent) => void
  /** Handler time when the request does not ask for one (`?delayMs=`). @default 0 */
  handlerDelayMs?: number
  /** Echo the client's key in the response body. @default true */
  echoKey?: boolean
  /** Express: keep the raw body (`verify: keepRawBody`) so fingerprints match Koa's. @default false */
  keepRawBody?: boolean
}

/** Counts runs in this process only (for tests where Redis itself goes away). */
export function localEffects(): WorkEffects {
  const runs = new Map<string, number>()
  return {
    started: async () => {},
    commit: async (key) => {
      const run = (runs.get(key) ?? 0) + 1
      runs.set(key, run)
      return run
    },
  }
}

/** The part of an ioredis client the Redis effects use. */
export interface CounterClient {
  incr(key: string): Promise<number>
}

/** Counts runs in Redis, so that every process of a fleet adds to one counter per key. */
export function redisEffects(client: CounterClient, prefix: string): WorkEffects {
  return {
    started: async (key) => {
      await client.incr(`${prefix}started:${key}`)
    },
    commit: (key) => client.incr(`${prefix}effect:${key}`),
  }
}

const problemBody = (status: number, detail: string) => ({
  type: `urn:reliability:problem:${status}`,
  title: status === 500 ? 'Internal Server Error' : 'Bad Request',
  status,
  detail,
})

const delayOf = (raw: unknown, fallback = 0): number => {
  const ms = Number(raw)
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, 60_000) : fallback
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * `POST /work?delayMs=N` on Express 5 behind `express.json()` and `idempotency()`: marks the
 * start, waits `delayMs`, commits the side effect and answers 201 `{ key, run, pid }` with a
 * `Set-Cookie`. Errors are problem+json, as a production app would answer them.
 */
export function createExpressApp(options: WorkAppOptions): Express {
  const app = express()
  app.disable('x-powered-by')
  app.use(express.json({ limit: '256kb', ...(options.keepRawBody ? { verify: keepRawBody } : {}) }))
  app.use(
    idempotency({
      store: options.store,
      scope: (req) => req.get('x-tenant') ?? '',
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: options.storeTimeoutMs }),
      ...(options.onStoreError === undefined ? {} : { onStoreError: options.onStoreError }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    }),
  )
  app.post('/work', async (req, res) => {
    const key = req.get('idempotency-key') ?? ''
    await options.effects.started(key)
    await sleep(delayOf(req.query.delayMs, options.handlerDelayMs))
    const run = await options.effects.commit(key)
    res.cookie('session', `pid-${process.pid}`)
    res
      .status(201)
      .json(options.echoKey === false ? { run, pid: process.pid } : { key, run, pid: process.pid })
  })
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    const raw = (error as { status?: unknown }).status
    const status = typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : 500
    res
      .status(status)
      .type('application/problem+json')
      .json(problemBody(status, status === 500 ? 'Unexpected error.' : String(error.message)))
  }
  app.use(onError)
  return app
}

/** The same `POST /work` on Koa 3 behind `@koa/bodyparser` and `koaIdempotency()`. */
export function createKoaApp(options: WorkAppOptions): Koa {
  const app = new Koa()
  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      const raw = (error as { status?: unknown }).status
      const status = typeof raw === 'number' && raw >= 400 && raw < 500 ? raw : 500
      ctx.status = status
      ctx.type = 'application/problem+json'
      ctx.body = problemBody(
        status,
        status === 500 ? 'Unexpected error.' : (error as Error).message,
      )
    }
  })
  app.use(bodyParser({ jsonLimit: '256kb' }))
  app.use(
    koaIdempotency({
      store: options.store,
      scope: (ctx) => ctx.get('x-tenant'),
      ...(options.leaseMs === undefined ? {} : { leaseMs: options.leaseMs }),
      ...(options.storeTimeoutMs === undefined ? {} : { storeTimeoutMs: options.storeTimeoutMs }),
      ...(options.onStoreError === undefined ? {} : { onStoreError: options.onStoreError }),
      ...(options.onEvent === undefined ? {} : { onEvent: options.onEvent }),
    }),
  )
  app.use(async (ctx) => {
    if (ctx.method !== 'POST' || ctx.path !== '/work') {
      ctx.status = 404
      ctx.type = 'application/problem+json'
      ctx.body = problemBody(404, 'Not found.')
      return
    }
    const key = ctx.get('idempotency-key')
    await options.effects.started(key)
    await sleep(delayOf(ctx.query.delayMs, options.handlerDelayMs))
    const run = await options.effects.commit(key)
    ctx.cookies.set('session', `pid-${process.pid}`)
    ctx.status = 201
    ctx.body =
      options.echoKey === false ? { run, pid: process.pid } : { key, run, pid: process.pid }
  })
  return app
}
