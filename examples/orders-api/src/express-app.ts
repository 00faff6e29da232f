import { type IdempotencyStore, idempotency, MemoryStore } from '@steadfast/idempotency-middleware'
import express, {
  type ErrorRequestHandler,
  type Express,
  type Request,
  type RequestHandler,
} from 'express'
import { OrderBook, type OrderInput } from './orders.js'
import { apiKeyHeader, principalId } from './principal.js'
import { jsonLimit, noRoute, type Problem, problem, problemFor } from './problem.js'

/** What both app factories accept. */
export interface OrdersAppOptions {
  /** The orders "database"; pass one in to inspect its side effects. @default new OrderBook() */
  book?: OrderBook
  /** Idempotency records. @default new MemoryStore() */
  store?: IdempotencyStore
  /** Simulated processing time per write, used when no `book` is given. @default 0 */
  processingMs?: number
}

function sendProblem(res: express.Response, body: Problem): void {
  res
    .status(body.status)
    .type('application/problem+json')
    .set('Cache-Control', 'no-store')
    .json(body)
}

const requireApiKey: RequestHandler = (req, res, next) => {
  if (req.get(apiKeyHeader)) return next()
  sendProblem(
    res,
    problem(
      401,
      'API_KEY_REQUIRED',
      'Unauthorized',
      `Send your API key in the ${apiKeyHeader} header.`,
    ),
  )
}

const principalOf = (req: Request): string => principalId(req.get(apiKeyHeader) ?? '')

/** The orders API on Express 5, with Idempotency-Key required on POST and PATCH. */
export function createExpressApp(options: OrdersAppOptions = {}): Express {
  const book = options.book ?? new OrderBook(options.processingMs)
  const app = express()
  app.disable('x-powered-by')
  // Before the body parser, as on Koa: an anonymous body is never parsed.
  app.use(requireApiKey)
  app.use(express.json({ limit: jsonLimit }))
  app.use(
    idempotency({
      store: options.store ?? new MemoryStore(),
      required: true,
      // One client's key can never replay another client's order.
      scope: principalOf,
    }),
  )

  app.post('/orders', async (req, res) => {
    const order = await book.create(principalOf(req), (req.body ?? {}) as OrderInput)
    res.status(201).location(`/orders/${order.id}`).json(order)
  })

  app.patch('/orders/:id', async (req, res) => {
    const order = await book.update(
      principalOf(req),
      req.params.id ?? '',
      (req.body ?? {}) as OrderInput,
    )
    if (!order)
      return sendProblem(res, problem(404, 'ORDER_NOT_FOUND', 'Not Found', 'No such order.'))
    res.json(order)
  })

  app.get('/orders/:id', (req, res) => {
    const order = book.get(principalOf(req), req.params.id)
    if (!order)
      return sendProblem(res, problem(404, 'ORDER_NOT_FOUND', 'Not Found', 'No such order.'))
    res.json(order)
  })

  // Express's own 404 is an HTML page.
  app.use((_req, res) => sendProblem(res, noRoute()))
  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    sendProblem(res, problemFor(error))
  }
  app.use(onError)
  return app
}
