import { isRecording, markThrown } from './capture.js'

type Handle = (this: unknown, req: unknown, res: object, next: (error?: unknown) => void) => unknown

/** Express's router layer: `handle_request` in Express 4, `handleRequest` in Express 5's router. */
type LayerPrototype = Record<'handle_request' | 'handleRequest', Handle | undefined>

const watched = new WeakSet<object>()

/** The prototype of the layers in `app`'s router (Express 4 or 5), if it has one. */
function layerPrototype(app: unknown): LayerPrototype | undefined {
  if (typeof app !== 'function') return undefined
  const express = app as { _router?: { stack?: unknown[] }; router?: { stack?: unknown[] } }
  let stack = express._router?.stack
  if (stack === undefined) {
    try {
      // Express 5 only: in Express 4 this getter throws (app.router was removed in 4.0).
      stack = express.router?.stack
    } catch {
      return undefined
    }
  }
  const layer = stack?.[0]
  if (typeof layer !== 'object' || layer === null) return undefined
  return Object.getPrototypeOf(layer) as LayerPrototype
}

/**
 * Makes every error a handler of `app` passes on (thrown, rejected, or given to `next(err)`)
 * release the claim of the response it belongs to, whatever status an error handler or
 * Express's own answers with (a thrown 404 is not a deterministic 4xx answer). Express tells no
 * middleware about errors raised after it, so the router's layers hand their handlers a `next`
 * that looks first; the layers of requests not being recorded are passed straight through.
 * Without an Express router (a connect-style app) errors are told apart by status only.
 */
export function watchHandlerErrors(app: unknown): void {
  const proto = layerPrototype(app)
  if (proto === undefined || watched.has(proto)) return
  watched.add(proto)
  const name = typeof proto.handleRequest === 'function' ? 'handleRequest' : 'handle_request'
  const handle = proto[name]
  if (typeof handle !== 'function') return
  proto[name] = function handleRecorded(this: unknown, req, res, next) {
    if (!isRecording(res)) return handle.call(this, req, res, next)
    return handle.call(this, req, res, (error?: unknown) => {
      // As in Express's router: a falsy value is no error; 'route' and 'router' skip on.
      if (error && error !== 'route' && error !== 'router') markThrown(res)
      next(error)
    })
  }
}
