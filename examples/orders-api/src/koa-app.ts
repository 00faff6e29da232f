import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import { MemoryStore } from '@steadfast/idempotency-middleware'
import { koaIdempotency } from '@steadfast/idempotency-middleware/koa'
import Koa from 'koa'
import type { OrdersAppOptions } from './express-app.js'
import { OrderBook, type OrderInput } from './orders.js'
import { apiKeyHeader, principalId } from './principal.js'
import { jsonLimit, noRoute, type Problem, problem, problemFor } from './problem.js'

function sendProblem(ctx: Koa.Context, body: Problem): void {
  ctx.status = body.status
  ctx.set('Cache-Control', 'no-store')
  ctx.type = 'application/problem+json'
  ctx.body = body
}

const principalOf = (ctx: Koa.Context): string => principalId(ctx.get(apiKeyHeader))

/** The orders API on Koa 3, with Idempotency-Key required on POST and PATCH. */
export function createKoaApp(options: OrdersAppOptions = {}): Koa {
  const book = options.book ?? new OrderBook(options.processingMs)
  const app = new Koa()
  const router = new Router()

  app.use(async (ctx, next) => {
    try {
      await next()
    } catch (error) {
      return sendProblem(ctx, problemFor(error))
    }
    // Nothing answered (no route, or allowedMethods()' 405): Koa would send plain text.
    if (ctx.body == null && ctx.status >= 400) sendProblem(ctx, noRoute(ctx.status))
  })
  app.use(async (ctx, next) => {
    if (ctx.get(apiKeyHeader)) return next()
    sendProblem(
      ctx,
      problem(
        401,
        'API_KEY_REQUIRED',
        'Unauthorized',
        `Send your API key in the ${apiKeyHeader} header.`,
      ),
    )
  })
  // The same limit as express.json() on the Express app (co-body's default is 1mb).
  app.use(bodyParser({ jsonLimit }))
  app.use(
    koaIdempotency({
      store: options.store ?? new MemoryStore(),
      required: true,
      scope: principalOf,
    }),
  )

  router.post('/orders', async (ctx) => {
    const order = await book.create(principalOf(ctx), (ctx.request.body ?? {}) as OrderInput)
    ctx.status = 201
    ctx.set('Location', `/orders/${order.id}`)
    ctx.body = order
  })
  router.patch('/orders/:id', async (ctx) => {
    const order = await book.update(
      principalOf(ctx),
      ctx.params.id ?? '',
      (ctx.request.body ?? {}) as OrderInput,
    )
    if (!order)
      return sendProblem(ctx, problem(404, 'ORDER_NOT_FOUND', 'Not Found', 'No such order.'))
    ctx.body = order
  })
  router.get('/orders/:id', (ctx) => {
    const order = book.get(principalOf(ctx), ctx.params.id ?? '')
    if (!order)
      return sendProblem(ctx, problem(404, 'ORDER_NOT_FOUND', 'Not Found', 'No such order.'))
    ctx.body = order
  })
  app.use(router.routes())
  app.use(router.allowedMethods())
  return app
}
