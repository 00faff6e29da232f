import type { Response } from 'express'

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
