import { STATUS_CODES } from 'node:http'
import { InvalidOrderError } from './orders.js'

/** The stable `code` of each problem the orders API answers itself (the middleware adds its own). */
export type OrdersProblemCode =
  | 'API_KEY_REQUIRED'
  | 'ORDER_INVALID'
  | 'ORDER_NOT_FOUND'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'METHOD_NOT_IMPLEMENTED'
  | 'REQUEST_BODY_TOO_LARGE'
  | 'REQUEST_BODY_INVALID'
  | 'REQUEST_INVALID'
  | 'INTERNAL_ERROR'

/** An RFC 9457 problem details body, with the machine-readable `code` clients branch on. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: OrdersProblemCode
}

/** Builds the problem+json body the orders API answers errors with. */
export function problem(
  status: number,
  code: OrdersProblemCode,
  title: string,
  detail: string,
): Problem {
  return { type: `https://steadfast.dev/problems/orders/${status}`, title, status, detail, code }
}

/** Largest JSON body both apps parse; a bigger one is answered 413. */
export const jsonLimit = '100kb'

/** The problem for a request no route answered: 404, or 405 / 501 when only the method is wrong. */
export function noRoute(status = 404): Problem {
  const title = STATUS_CODES[status] ?? 'Not Found'
  if (status === 405) {
    const detail = 'This route does not accept that method; the Allow header lists those it does.'
    return problem(status, 'METHOD_NOT_ALLOWED', title, detail)
  }
  if (status === 501) {
    return problem(status, 'METHOD_NOT_IMPLEMENTED', title, 'No route accepts that method.')
  }
  return problem(status, 'NOT_FOUND', title, 'No route answers this request.')
}

/** The problem for an error thrown by a body parser, the order book or a handler. */
export function problemFor(error: unknown): Problem {
  if (error instanceof InvalidOrderError) {
    return problem(400, 'ORDER_INVALID', 'Invalid order', error.message)
  }
  const { status, type } = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown
    type?: unknown
  }
  // body-parser (Express) and raw-body (under Koa's co-body) tag their errors with `type`.
  if (type === 'entity.too.large') {
    const detail = `The request body is larger than ${jsonLimit}.`
    return problem(413, 'REQUEST_BODY_TOO_LARGE', 'Payload Too Large', detail)
  }
  // co-body (Koa) marks a JSON SyntaxError with status 400 only. The parser's message quotes
  // the body, so it is not passed on.
  if (type === 'entity.parse.failed' || (error instanceof SyntaxError && status === 400)) {
    return problem(
      400,
      'REQUEST_BODY_INVALID',
      'Invalid JSON',
      'The request body is not valid JSON.',
    )
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    return problem(status, 'REQUEST_INVALID', title, error instanceof Error ? error.message : title)
  }
  return problem(500, 'INTERNAL_ERROR', 'Internal Server Error', 'Unexpected error.')
}
