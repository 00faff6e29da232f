import { STATUS_CODES } from 'node:http'
import { InvalidOrderError } from './orders.js'

/** An RFC 9457 problem details body. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
}

/** Builds the problem+json body the orders API answers errors with. */
export function problem(status: number, title: string, detail: string): Problem {
  return { type: `https://steadfast.dev/problems/orders/${status}`, title, status, detail }
}

/** Largest JSON body both apps parse; a bigger one is answered 413. */
export const jsonLimit = '100kb'

/** The problem for a request no route answered: 404, or 405 when only the method is wrong. */
export function noRoute(status = 404): Problem {
  const detail =
    status === 405
      ? 'This route does not accept that method; the Allow header lists those it does.'
      : 'No route answers this request.'
  return problem(status, STATUS_CODES[status] ?? 'Not Found', detail)
}

/** The problem for an error thrown by a body parser, the order book or a handler. */
export function problemFor(error: unknown): Problem {
  if (error instanceof InvalidOrderError) return problem(400, 'Invalid order', error.message)
  const { status, type } = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown
    type?: unknown
  }
  // body-parser (Express) and raw-body (under Koa's co-body) tag their errors with `type`.
  if (type === 'entity.too.large') {
    return problem(413, 'Payload Too Large', `The request body is larger than ${jsonLimit}.`)
  }
  // co-body (Koa) marks a JSON SyntaxError with status 400 only. The parser's message quotes
  // the body, so it is not passed on.
  if (type === 'entity.parse.failed' || (error instanceof SyntaxError && status === 400)) {
    return problem(400, 'Invalid JSON', 'The request body is not valid JSON.')
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    return problem(status, title, error instanceof Error ? error.message : title)
  }
  return problem(500, 'Internal Server Error', 'Unexpected error.')
}
