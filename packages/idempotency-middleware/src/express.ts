import type { IncomingMessage, ServerResponse } from 'node:http'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import { type CapturableResponse, captureExpressResponse } from './capture.js'
import {
  type CoreOptions,
  type Decision,
  exposeHeaders,
  IdempotencyEngine,
  type ReplayResponse,
} from './core.js'
import { negotiableCoding, removeCoding } from './encoding.js'
import {
  type IdempotencyError,
  IdempotencyKeyRequiredError,
  isIdempotencyBodyUnsupportedError,
  isIdempotencyError,
} from './errors.js'
import { watchHandlerErrors } from './express-errors.js'
import { fingerprintBody, requestFingerprint } from './fingerprint.js'
import { headerLines, parseIdempotencyKey, storageKey } from './key.js'
import type { ErrorResponse } from './problem.js'
import { sha256 } from './sha256.js'

declare global {
  // Express's augmentation point for the request (passport adds `user` to it): merged with
  // @types/express when installed, empty otherwise, so this package's types never need Express's.
  namespace Express {
    interface Request {}
  }
}

/**
 * What the middleware and its callbacks use of an Express request; Express's own `Request` (4 and
 * 5) is one, so `(req: Request) => ...` callbacks type-check, and without @types/express too.
 */
export interface ExpressRequestLike extends IncomingMessage, Express.Request {
  /** The URL as the app received it: mount path and query included. */
  originalUrl: string
  /** The body as a body parser left it. */
  body?: unknown
  /** A request header's value, as Express's `req.get(name)`. */
  get(name: string): string | undefined
}

/** An Express middleware: what `app.use()` and the route methods take. */
export type ExpressMiddleware<Req extends ExpressRequestLike = ExpressRequestLike> = (
  req: Req,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

/** Options of the Express {@link idempotency} middleware; `Req` is the request type the callbacks take. */
export interface IdempotencyOptions<Req extends ExpressRequestLike = ExpressRequestLike>
  extends CoreOptions {
  /** Who owns the key, e.g. the authenticated principal; `false` declares keys global. @default undefined (global, with a warning once `req.user` exists) */
  scope?: ((req: Req) => string) | false
  /** Replaces the request fingerprint (method, path with query, body). @default SHA-256 of those */
  fingerprint?: (req: Req) => string
}

/** Writes a ready error response with plain Node calls. */
export function writeError(res: ServerResponse, error: ErrorResponse): void {
  res.statusCode = error.status
  for (const name in error.headers) res.setHeader(name, error.headers[name] as string)
  res.end(error.body)
}

/**
 * Writes a stored response as a replay, with plain Node calls. `negotiated`: the stored body is
 * encoded, so what goes out depends on the retry's Accept-Encoding (see `removeCoding`).
 */
function writeReplay(
  req: Request,
  res: Response,
  response: ReplayResponse,
  negotiated: boolean,
): void {
  const { status, headers, body } = response
  res.statusCode = status
  for (const name in headers) res.setHeader(name, headers[name] as string | string[])
  if (negotiated) res.vary('Accept-Encoding')
  res.setHeader(
    'access-control-expose-headers',
    exposeHeaders(
      res.getHeader('access-control-expose-headers'),
      headers['idempotent-body-omitted'] !== undefined,
    ),
  )
  if (req.method !== 'HEAD') res.end(body)
  else {
    if (response.headLength !== undefined) res.setHeader('content-length', response.headLength)
    res.end()
  }
}

/**
 * The default Express fingerprint (see {@link fingerprintBody}). `method` and `headers` come in
 * already read: every property read on Express's re-prototyped request misses V8's caches.
 */
function fingerprintOf(req: Request, method: string, headers: Request['headers']): string {
  // An own-property check is cheaper than a read that misses: most requests have no rawBody.
  const raw = Object.hasOwn(req, 'rawBody') ? (req as { rawBody?: unknown }).rawBody : undefined
  const body = fingerprintBody(req, raw, req.body, 'idempotency()', headers)
  return requestFingerprint(method, req.originalUrl, body)
}

/**
 * A `verify` hook for Express's body parsers that keeps the raw bytes on `req.rawBody`, so the
 * fingerprint hashes exactly what the client sent (cheaper than canonical JSON, and the same
 * fingerprint Koa's bodyparser gives, for fleets that mix both on one store).
 * @example app.use(express.json({ verify: keepRawBody }))
 */
export function keepRawBody(req: IncomingMessage, _res: ServerResponse, buf: Buffer): void {
  ;(req as unknown as { rawBody?: Buffer }).rawBody = buf
}

/**
 * Express middleware (4 and 5) that makes POST/PATCH requests with an `Idempotency-Key` run once:
 * retries get the stored response, concurrent duplicates 409, reused keys 422.
 * @example
 * app.use(express.json())
 * app.use(idempotency({ store: new RedisStore({ client }), scope: (req) => req.user.id }))
 */
export function idempotency<Req extends ExpressRequestLike = ExpressRequestLike>(
  options: IdempotencyOptions<Req> = {},
): ExpressMiddleware<Req> {
  const engine = new IdempotencyEngine(options)
  // The callbacks are handed the request Express passes: a `Req`, as the app declared it.
  const { scope, fingerprint } = options as unknown as IdempotencyOptions<Request>
  const fail = (res: Response, error: IdempotencyError) => writeError(res, engine.render(error))
  // The missing-scope warning needs one sighting of req.user: every request is looked at first,
  // then one in 64 (a property Express's request lacks is a slow lookup on every request).
  let scopeChecks = 0
  // The first recorded request hooks its app's router (see watchHandlerErrors); every app of one
  // Express copy shares that hook, so one look per guard is enough.
  let watching = false

  const respond = (req: Request, res: Response, next: NextFunction, decision: Decision) => {
    switch (decision.kind) {
      case 'run':
        // The client hung up while waiting for the key (onConcurrent) or the store: nobody
        // would see the answer, and its release would let the retry run the handler again.
        if (res.destroyed) {
          void decision.claim.release()
          return
        }
        if (!watching) {
          watching = true
          watchHandlerErrors(req.app)
        }
        captureExpressResponse(
          res as unknown as CapturableResponse,
          decision.claim,
          engine.maxStoredBodyBytes,
        )
        return next()
      case 'bypass':
        return next()
      case 'error':
        return fail(res, decision.error)
      case 'replay': {
        const { response } = decision
        const coding = negotiableCoding(response)
        if (coding === undefined) return writeReplay(req, res, response, false)
        if (req.acceptsEncodings(coding) === coding) return writeReplay(req, res, response, true)
        removeCoding(response, coding, engine.maxStoredBodyBytes)
          .then(
            (decoded) => writeReplay(req, res, decoded, true),
            (error: IdempotencyError) => fail(res, error),
          )
          .catch(next)
      }
    }
  }

  const middleware: RequestHandler = function idempotency(req, res, next): void {
    const method = req.method
    if (!engine.methods.has(method)) {
      next()
      return
    }
    const headers = req.headers
    let key: string | undefined
    try {
      key = parseIdempotencyKey(
        headerLines(req, engine.headerKey, headers),
        engine.headerName,
        engine.strictSyntax,
      )
    } catch (error) {
      fail(res, error as IdempotencyError)
      return
    }
    if (key === undefined) {
      if (engine.required) fail(res, new IdempotencyKeyRequiredError(engine.headerName))
      else next()
      return
    }
    let print: string
    try {
      // A custom fingerprint is hashed like ours: it may hold request data, kept out of the store.
      print = fingerprint ? sha256(fingerprint(req)) : fingerprintOf(req, method, headers)
    } catch (error) {
      // A body type nobody parsed is the client's doing: answer it. A JSON body nobody parsed
      // is a mounting mistake: pass it to the app's error handler, loudly.
      if (isIdempotencyBodyUnsupportedError(error)) {
        fail(res, error)
        return
      }
      if (isIdempotencyError(error)) engine.warnOnce('body', error.message)
      next(error)
      return
    }
    if (
      scope === undefined &&
      (++scopeChecks <= 1_000 || scopeChecks % 64 === 0) &&
      (req as { user?: unknown }).user !== undefined
    ) {
      engine.warnOnce(
        'scope',
        '[idempotency] req.user is set but no `scope` is configured: keys are shared by all users. Pass scope: (req) => req.user.id, or scope: false',
      )
    }
    const keyHash = storageKey(scope ? scope(req) : '', key)
    const now = engine.beginNow(keyHash, print)
    if (now !== undefined) {
      respond(req, res, next, now)
      return
    }
    engine
      .begin(keyHash, print)
      .then((decision) => respond(req, res, next, decision))
      .catch(next)
  }
  return middleware as unknown as ExpressMiddleware<Req>
}
