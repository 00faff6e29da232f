import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import { MemoryStore } from '@steadfast/idempotency-middleware'
import { koaIdempotency } from '@steadfast/idempotency-middleware/koa'
import Koa from 'koa'
import type { OrdersAppOptions } from './express-app.js'
import { InvalidOrderError, OrderBook, type OrderInput } from './orders.js'
import { apiKeyHeader, type Problem, problem } from './problem.js'

function sendProblem(ctx: Koa.Context, body: Problem): void {
  ctx.status = body.status
  ctx.set('Cache-Control', 'no-store')
  ctx.type = 'application/problem+json'
  ctx.body = body
}

/** The orders API on Koa 3, with Idempotency-Key required on POST and PATCH. */
export function createKoaApp(options: OrdersAppOptions = {}): Koa {
  const book = options.book ?? new OrderBook(options.processingMs)
  const app = new Koa()
  const router = new Router()

  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      if (error instanceof InvalidOrderError) {
        return sendProblem(ctx, problem(400, 'Invalid order', error.message))
      }
      const status = (error as { status?: unknown }).status
      if (typeof status === 'number' && status < 500) {
        return sendProblem(ctx, problem(status, 'Bad Request', (error as Error).message))
      }
      sendProblem(ctx, problem(500, 'Internal Server Error', 'Unexpected error.'))
    }
  })
  app.use(async (ctx, next) => {
    if (ctx.get(apiKeyHeader)) return next()
    sendProblem(
      ctx,
      problem(401, 'Unauthorized', `Send your API key in the ${apiKeyHeader} header.`),
    )
  })
  app.use(bodyParser())
  app.use(
    koaIdempotency({
      store: options.store ?? new MemoryStore(),
      required: true,
      scope: (ctx) => ctx.get(apiKeyHeader),
    }),
  )

  router.post('/orders', async (ctx) => {
    const order = await book.create(ctx.get(apiKeyHeader), (ctx.request.body ?? {}) as OrderInput)
    ctx.status = 201
    ctx.set('Location', `/orders/${order.id}`)
    ctx.body = order
  })
  router.patch('/orders/:id', async (ctx) => {
    const order = await book.update(
      ctx.get(apiKeyHeader),
      ctx.params.id ?? '',
      (ctx.request.body ?? {}) as OrderInput,
    )
    if (!order) return sendProblem(ctx, problem(404, 'Not Found', 'No such order.'))
    ctx.body = order
  })
  router.get('/orders/:id', (ctx) => {
    const order = book.get(ctx.get(apiKeyHeader), ctx.params.id ?? '')
    if (!order) return sendProblem(ctx, problem(404, 'Not Found', 'No such order.'))
    ctx.body = order
  })
  app.use(router.routes())
  app.use(router.allowedMethods())
  return app
}
