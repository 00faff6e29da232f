import { Stream } from 'node:stream'
import type { Context, Middleware, Next } from 'koa'
import { asBuffer } from './bytes.js'
import { type CapturableResponse, captureResponse } from './capture.js'
import { type CoreOptions, exposeHeaders, IdempotencyEngine } from './core.js'
import { negotiableCoding, removeCoding } from './encoding.js'
import {
  type IdempotencyError,
  IdempotencyKeyRequiredError,
  isIdempotencyBodyUnsupportedError,
  isIdempotencyError,
} from './errors.js'
import { fingerprintBody, requestFingerprint } from './fingerprint.js'
import { headerLines, parseIdempotencyKey, storageKey } from './key.js'
import { sha256 } from './sha256.js'

/** Options of {@link koaIdempotency}. */
export interface KoaIdempotencyOptions extends CoreOptions {
  /** Who owns the key, e.g. the authenticated principal; `false` declares keys global. @default undefined (global, with a warning once `ctx.state.user` exists) */
  scope?: ((ctx: Context) => string) | false
  /** Replaces the request fingerprint (method, path with query, body). @default SHA-256 of those */
  fingerprint?: (ctx: Context) => string
}

/** The default Koa fingerprint (see {@link fingerprintBody}). */
function fingerprintOf(ctx: Context): string {
  const request = ctx.request as { rawBody?: unknown; body?: unknown }
  const body = fingerprintBody(ctx.req, request.rawBody, request.body, 'koaIdempotency()')
  return requestFingerprint(ctx.method, ctx.originalUrl, body)
}

function fail(ctx: Context, engine: IdempotencyEngine, error: IdempotencyError): void {
  const rendered = engine.render(error)
  ctx.status = rendered.status
  ctx.set(rendered.headers)
  ctx.body = rendered.body
  ctx.type = rendered.headers['content-type'] as string
}

/**
 * Koa middleware (2 and 3) with the same semantics as the Express one; any `ctx.body` is
 * captured (string, Buffer, object, stream).
 * @example
 * app.use(bodyParser())
 * app.use(koaIdempotency({ store: new RedisStore({ client }), scope: (ctx) => ctx.state.user.id }))
 */
export function koaIdempotency(options: KoaIdempotencyOptions = {}): Middleware {
  const engine = new IdempotencyEngine(options)
  const { scope, fingerprint } = options

  return async function idempotency(ctx: Context, next: Next): Promise<void> {
    if (!engine.methods.has(ctx.method)) return next()
    let key: string | undefined
    try {
      key = parseIdempotencyKey(
        headerLines(ctx.req, engine.headerKey),
        engine.headerName,
        engine.strictSyntax,
      )
    } catch (error) {
      return fail(ctx, engine, error as IdempotencyError)
    }
    if (key === undefined) {
      if (engine.required)
        return fail(ctx, engine, new IdempotencyKeyRequiredError(engine.headerName))
      return next()
    }
    let print: string
    try {
      // A custom fingerprint is hashed like ours: it may hold request data, kept out of the store.
      print = fingerprint ? sha256(fingerprint(ctx)) : fingerprintOf(ctx)
    } catch (error) {
      // See the Express middleware: the client's body type is answered, a mounting mistake thrown.
      if (isIdempotencyBodyUnsupportedError(error)) return fail(ctx, engine, error)
      if (isIdempotencyError(error)) engine.warnOnce('body', error.message)
      throw error
    }
    if (scope === undefined && ctx.state.user !== undefined) {
      engine.warnOnce(
        'scope',
        '[idempotency] ctx.state.user is set but no `scope` is configured: keys are shared by all users. Pass scope: (ctx) => ctx.state.user.id, or scope: false',
      )
    }
    const keyHash = storageKey(scope ? scope(ctx) : '', key)
    const decision = engine.beginNow(keyHash, print) ?? (await engine.begin(keyHash, print))
    switch (decision.kind) {
      case 'bypass':
        return next()
      case 'error':
        return fail(ctx, engine, decision.error)
      case 'replay': {
        let { response } = decision
        const coding = negotiableCoding(response)
        if (coding !== undefined && ctx.acceptsEncodings(coding) !== coding) {
          try {
            response = await removeCoding(response, coding, engine.maxStoredBodyBytes)
          } catch (error) {
            return fail(ctx, engine, error as IdempotencyError)
          }
        }
        const { status, headers, body, headLength } = response
        ctx.status = status
        ctx.set(headers)
        // The stored body is encoded: what goes out depends on the retry's Accept-Encoding.
        if (coding !== undefined) ctx.vary('Accept-Encoding')
        const omitted = headers['idempotent-body-omitted'] !== undefined
        ctx.set(
          'Access-Control-Expose-Headers',
          exposeHeaders(ctx.response.get('Access-Control-Expose-Headers'), omitted),
        )
        ctx.body = asBuffer(body)
        // Koa types a Buffer body as octet-stream; a replay keeps the original (or no) type.
        if (headers['content-type'] === undefined) ctx.remove('Content-Type')
        // Koa would declare the empty stored body's length, 0, on a HEAD answer.
        if (ctx.method === 'HEAD' && headLength !== undefined) ctx.length = headLength
        return
      }
      case 'run': {
        const { claim } = decision
        // See the Express middleware: a client that left while waiting is not run for.
        if (ctx.res.destroyed) return claim.release()
        const control = captureResponse(
          ctx.res as unknown as CapturableResponse,
          claim,
          engine.maxStoredBodyBytes,
        )
        try {
          await next()
        } catch (error) {
          await claim.release()
          throw error
        }
        // Koa's own 404, or @koa/router's bodiless 405 for a method the path lacks: nothing ran,
        // and the route may exist after the next deploy, so the retry runs again. With
        // `respond = false` the app answers on the raw response, maybe later.
        const unrouted = (ctx.status === 404 || ctx.status === 405) && ctx.body == null
        control.handlerFinished(ctx.respond === false || !unrouted)
        // A body stream that fails mid-way leaves the response torn down (Koa 3) or open (Koa
        // 2), with no end() in either case; Koa reports it to ctx.onerror, not to us. Ahead of
        // Koa 2's own listener, which would answer the error's status (an ENOENT is a 404) and so
        // get it stored. A stream destroyed because the client left (Koa 3's pipeline) says
        // nothing about the handler, which had finished: that key stays claimed, as on Koa 2.
        const body: unknown = ctx.body
        if (body instanceof Stream) {
          body.prependOnceListener('error', () => {
            if (!ctx.res.destroyed) control.tornDown()
          })
        }
      }
    }
  }
}
