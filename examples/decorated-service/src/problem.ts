import { STATUS_CODES } from 'node:http'
import type { ErrorRequestHandler, RequestHandler, Response } from 'express'

/** The stable `code` of each problem the service answers. */
export type SummaryProblemCode =
  | 'SUMMARY_TEXT_REQUIRED'
  | 'SUMMARY_UPSTREAM_ERROR'
  | 'NOT_FOUND'
  | 'INVALID_JSON'
  | 'PAYLOAD_TOO_LARGE'
  | 'BAD_REQUEST'
  | 'INTERNAL_ERROR'

/** An RFC 9457 problem details body, with the machine-readable `code` clients branch on. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  code: SummaryProblemCode
}

/** Builds a problem whose type URI ends in the code in kebab case (`not-found` for `NOT_FOUND`). */
export function problem(
  code: SummaryProblemCode,
  status: number,
  title: string,
  detail: string,
): Problem {
  const slug = code.toLowerCase().replaceAll('_', '-')
  return { type: `https://steadfast.dev/problems/${slug}`, title, status, detail, code }
}

/** Sends `body` as `application/problem+json` that no cache keeps. */
export function sendProblem(res: Response, body: Problem): void {
  res
    .status(body.status)
    .type('application/problem+json')
    .set('Cache-Control', 'no-store')
    .json(body)
}

/**
 * The problem for an error the fallback did not cover: Claude (or the SDK) refused the call, so
 * it is the upstream's answer, 502; anything else is our own failure, 500.
 */
export function upstreamProblem(error: unknown): Problem {
  const status = (error as { status?: unknown } | null)?.status
  if (typeof status === 'number') {
    return problem(
      'SUMMARY_UPSTREAM_ERROR',
      502,
      'Bad Gateway',
      `Claude refused the call with HTTP ${status}; the fallback covers outages only.`,
    )
  }
  return problem('INTERNAL_ERROR', 500, 'Internal Server Error', 'Unexpected error.')
}

/** Answers a request no route took; mounted last, since Express's own 404 is an HTML page. */
export const notFound: RequestHandler = (_req, res) => {
  sendProblem(res, problem('NOT_FOUND', 404, 'Not Found', 'No route answers this request.'))
}

/** Answers errors thrown before a route ran (express.json()'s among them) with a problem. */
export const problemErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error)
  const { status, type } = (typeof error === 'object' && error !== null ? error : {}) as {
    status?: unknown
    type?: unknown
  }
  // body-parser tags its errors with `type`. Its parse message quotes the body: not passed on.
  if (type === 'entity.too.large') {
    const detail = 'The request body is larger than 100kb.'
    return sendProblem(res, problem('PAYLOAD_TOO_LARGE', 413, 'Payload Too Large', detail))
  }
  if (type === 'entity.parse.failed') {
    const detail = 'The request body is not valid JSON.'
    return sendProblem(res, problem('INVALID_JSON', 400, 'Invalid JSON', detail))
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    const detail = error instanceof Error ? error.message : title
    return sendProblem(res, problem('BAD_REQUEST', status, title, detail))
  }
  // The stack would otherwise be lost: Express only logs errors that reach its own handler.
  console.error(error)
  sendProblem(res, upstreamProblem(error))
}
