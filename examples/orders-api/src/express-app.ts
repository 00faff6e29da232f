import { type IdempotencyStore, idempotency, MemoryStore } from '@steadfast/idempotency-middleware'
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express'
import { InvalidOrderError, OrderBook, type OrderInput } from './orders.js'
import { apiKeyHeader, type Problem, problem } from './problem.js'

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
  sendProblem(res, problem(401, 'Unauthorized', `Send your API key in the ${apiKeyHeader} header.`))
}

/** The orders API on Express 5, with Idempotency-Key required on POST and PATCH. */
export function createExpressApp(options: OrdersAppOptions = {}): Express {
  const book = options.book ?? new OrderBook(options.processingMs)
  const app = express()
  app.disable('x-powered-by')
  app.use(express.json())
  app.use(requireApiKey)
  app.use(
    idempotency({
      store: options.store ?? new MemoryStore(),
      required: true,
      // One client's key can never replay another client's order.
      scope: (req) => req.get(apiKeyHeader) ?? '',
    }),
  )

  app.post('/orders', async (req, res) => {
    const order = await book.create(req.get(apiKeyHeader) ?? '', (req.body ?? {}) as OrderInput)
    res.status(201).location(`/orders/${order.id}`).json(order)
  })

  app.patch('/orders/:id', async (req, res) => {
    const order = await book.update(
      req.get(apiKeyHeader) ?? '',
      req.params.id ?? '',
      (req.body ?? {}) as OrderInput,
    )
    if (!order) return sendProblem(res, problem(404, 'Not Found', 'No such order.'))
    res.json(order)
  })

  app.get('/orders/:id', (req, res) => {
    const order = book.get(req.get(apiKeyHeader) ?? '', req.params.id)
    if (!order) return sendProblem(res, problem(404, 'Not Found', 'No such order.'))
    res.json(order)
  })

  const onError: ErrorRequestHandler = (error, _req, res, _next) => {
    if (error instanceof InvalidOrderError) {
      return sendProblem(res, problem(400, 'Invalid order', error.message))
    }
    const status = typeof error?.status === 'number' && error.status < 500 ? error.status : 500
    sendProblem(
      res,
      problem(
        status,
        status === 500 ? 'Internal Server Error' : 'Bad Request',
        status === 500 ? 'Unexpected error.' : String(error.message),
      ),
    )
  }
  app.use(onError)
  return app
}
