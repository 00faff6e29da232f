import { STATUS_CODES } from 'node:http'
import type { ErrorRequestHandler, RequestHandler, Response } from 'express'

/** Sends an RFC 9457 problem details body with a stable `code`. */
export function sendProblem(
  res: Response,
  status: number,
  code: string,
  title: string,
  detail: string,
): void {
  res
    .status(status)
    .type('application/problem+json')
    .set('Cache-Control', 'no-store')
    .json({
      type: `https://steadfast.dev/problems/${code.toLowerCase()}`,
      title,
      status,
      detail,
      code,
    })
}

/** Answers a request no route took; mounted last, since Express's own 404 is an HTML page. */
export const notFound: RequestHandler = (_req, res) => {
  sendProblem(res, 404, 'NOT_FOUND', 'Not Found', 'No route answers this request.')
}

/** Answers errors thrown before or in a route (body-parser's among them) with a problem. */
export const problemErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error)
  const { status, type, limit } = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown
    type?: unknown
    limit?: unknown
  }
  // body-parser (express.raw here) tags its errors with `type`, and this one with the limit.
  if (type === 'entity.too.large') {
    const bound = typeof limit === 'number' ? ` of ${limit} bytes` : ''
    return sendProblem(
      res,
      413,
      'WEBHOOK_BODY_TOO_LARGE',
      'Payload Too Large',
      `The delivery is larger than the limit${bound}.`,
    )
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    return sendProblem(
      res,
      status,
      'REQUEST_INVALID',
      title,
      error instanceof Error ? error.message : title,
    )
  }
  // The stack would otherwise be lost: Express only logs errors that reach its own handler.
  console.error(error)
  sendProblem(res, 500, 'INTERNAL_ERROR', 'Internal Server Error', 'Unexpected error.')
}
