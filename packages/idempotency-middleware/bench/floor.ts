import type { RequestHandler, Response } from 'express'

/**
 * The floor, for scale: the least any guard must do on a first request. A Map keyed by the raw
 * header holding status and body, recorded through a write/end wrapper on the app's response
 * prototype (as ours does, since own wrappers cost more); no fingerprint, no claim or lease (so
 * no exactly-once), no header allowlist, no bound, no errors.
 */
export function floorGuard(): RequestHandler {
  const records = new Map<string, { status: number; body: unknown }>()
  const recording = new WeakMap<object, string>()
  let wrapped = false
  return (req, res, next) => {
    const key = req.headers['idempotency-key']
    if (typeof key !== 'string') return next()
    const done = records.get(key)
    if (done) {
      res.statusCode = done.status
      res.end(done.body)
      return
    }
    if (!wrapped) {
      wrapped = true
      const proto = Object.getPrototypeOf(res) as { end: (...args: unknown[]) => unknown }
      const end = proto.end
      proto.end = function (this: Response, ...args: unknown[]) {
        const key = recording.get(this)
        if (key !== undefined) {
          recording.delete(this)
          records.set(key, { status: this.statusCode, body: args[0] })
        }
        return end.apply(this, args)
      }
    }
    recording.set(res, key)
    next()
  }
}
