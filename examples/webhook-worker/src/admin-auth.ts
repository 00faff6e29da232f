import { createHash, timingSafeEqual } from 'node:crypto'
import type { RequestHandler } from 'express'
import { sendProblem } from './problem.js'

const realm = 'Bearer realm="webhook-worker admin"'

// Hashing both sides gives timingSafeEqual equal lengths, so the comparison leaks neither the
// token's bytes nor its length.
const digest = (value: string): Buffer => createHash('sha256').update(value).digest()

function bearer(header: string | undefined): string | undefined {
  const match = /^Bearer +(\S+) *$/i.exec(header ?? '')
  return match?.[1]
}

/**
 * Guards an admin route with `Authorization: Bearer <token>`: 401 problem+json (with
 * `WWW-Authenticate`) for a missing or wrong token, and 404 problem+json when no token is
 * configured, so that an unconfigured deployment exposes no payloads.
 */
export function adminAuth(token: string | undefined): RequestHandler {
  const expected = token ? digest(token) : undefined
  return function adminAuth(req, res, next) {
    if (!expected) {
      return sendProblem(
        res,
        404,
        'ADMIN_DISABLED',
        'Not Found',
        'The admin routes are disabled: no ADMIN_TOKEN is configured.',
      )
    }
    const given = bearer(req.get('authorization'))
    if (given === undefined) {
      res.set('WWW-Authenticate', realm)
      return sendProblem(
        res,
        401,
        'ADMIN_TOKEN_REQUIRED',
        'Unauthorized',
        'Send the admin token as `Authorization: Bearer <token>`.',
      )
    }
    if (!timingSafeEqual(digest(given), expected)) {
      res.set('WWW-Authenticate', `${realm}, error="invalid_token"`)
      return sendProblem(
        res,
        401,
        'ADMIN_TOKEN_INVALID',
        'Unauthorized',
        'The admin token is not the configured one.',
      )
    }
    next()
  }
}
