import { STATUS_CODES } from 'node:http'
import type { ErrorRequestHandler, RequestHandler, Response } from 'express'

/** An RFC 9457 problem details body. */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
}

/** Builds a problem whose type URI ends in `slug`. */
export function problem(slug: string, status: number, title: string, detail: string): Problem {
  return { type: `https://steadfast.dev/problems/${slug}`, title, status, detail }
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
      'summary-upstream-error',
      502,
      'Bad Gateway',
      `Claude refused the call with HTTP ${status}; the fallback covers outages only.`,
    )
  }
  return problem('internal-error', 500, 'Internal Server Error', 'Unexpected error.')
}

/** Answers a request no route took; mounted last, since Express's own 404 is an HTML page. */
export const notFound: RequestHandler = (_req, res) => {
  sendProblem(res, problem('not-found', 404, 'Not Found', 'No route answers this request.'))
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
    return sendProblem(res, problem('payload-too-large', 413, 'Payload Too Large', detail))
  }
  if (type === 'entity.parse.failed') {
    const detail = 'The request body is not valid JSON.'
    return sendProblem(res, problem('invalid-json', 400, 'Invalid JSON', detail))
  }
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const title = STATUS_CODES[status] ?? 'Bad Request'
    const detail = error instanceof Error ? error.message : title
    return sendProblem(res, problem('bad-request', status, title, detail))
  }
  // The stack would otherwise be lost: Express only logs errors that reach its own handler.
  console.error(error)
  sendProblem(res, upstreamProblem(error))
}
