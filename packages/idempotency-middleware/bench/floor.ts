import { hash } from 'node:crypto'
import type { RequestHandler, Response } from 'express'

/**
 * The floor, for scale: the least any guard must do on a first request. A Map keyed by the raw
 * header holding status and body, recorded through a write/end wrapper on the app's response
 * prototype (as ours does, since own wrappers cost more); no fingerprint, no claim or lease (so
 * no exactly-once), no header allowlist, no bound, no errors. `hashed` adds the two SHA-256s the
 * issue requires of every guard (the fingerprint over method, path and body, and the storage key),
 * with Node's fastest one-shot hash and a plain JSON.stringify for the body.
 */
export function floorGuard(hashed = false): RequestHandler {
  const records = new Map<string, { status: number; body: unknown; fingerprint: string }>()
  const recording = new WeakMap<object, [string, string]>()
  let wrapped = false
  return (req, res, next) => {
    let key = req.headers['idempotency-key']
    if (typeof key !== 'string') return next()
    let fingerprint = ''
    if (hashed) {
      fingerprint = hash(
        'sha256',
        `${req.method}\n${req.originalUrl}\n${JSON.stringify(req.body)}`,
        'base64url',
      )
      key = hash('sha256', key, 'base64url')
    }
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
        const entry = recording.get(this)
        if (entry !== undefined) {
          recording.delete(this)
          records.set(entry[0], { status: this.statusCode, body: args[0], fingerprint: entry[1] })
        }
        return end.apply(this, args)
      }
    }
    recording.set(res, [key, fingerprint])
    next()
  }
}
