import { createHash } from 'node:crypto'
import express, { type Router } from 'express'
import type { Metrics } from './metrics.js'
import { sendProblem } from './problem.js'
import { type JobQueue, QueueFullError } from './queue.js'
import { signatureHeader, verifySignature } from './signature.js'

/** What the receiver needs. */
export interface ReceiverOptions {
  queue: JobQueue
  metrics: Metrics
  /** HMAC secret shared with the senders. */
  secret: string
  /** Largest accepted delivery. @default '1mb' */
  limit?: string
  /** Clock for the signature's replay window (tests). @default Date.now */
  now?: () => number
}

/**
 * The idempotency key of a delivery, from signed material only: the event's `id`, else a hash
 * of the raw body. Headers and the URL are not signed, so a captured delivery replayed with
 * another `Idempotency-Key` or to another path still gets the same key.
 */
export function deliveryKey(event: unknown, rawBody: Buffer): string {
  const id = (event as { id?: unknown } | null)?.id
  if (typeof id === 'string' && id.length > 0) return id
  return createHash('sha256').update(rawBody).digest('hex')
}

/** The job id for a delivery key: stable, so that duplicate deliveries land on the same job. */
export function jobIdFor(key: string): string {
  return `job_${createHash('sha256').update(key).digest('hex').slice(0, 32)}`
}

/**
 * `POST /webhooks/:source`: verifies the signature over the raw bytes, queues one job per
 * signed event (see {@link deliveryKey}) and answers 202 at once. Claude is never called in the
 * request path.
 */
export function webhookReceiver(options: ReceiverOptions): Router {
  const { queue, metrics, secret } = options
  const now = options.now ?? Date.now
  const router = express.Router()
  router.post(
    '/webhooks/:source',
    express.raw({ type: () => true, limit: options.limit ?? '1mb' }),
    async (req, res) => {
      const source = req.params.source ?? ''
      const rawBody = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0)
      const check = verifySignature(req.get(signatureHeader), rawBody, secret, { nowMs: now() })
      if (!check.ok) {
        metrics.rejected.inc({ reason: `signature-${check.problem}` })
        const status = check.problem === 'missing' || check.problem === 'malformed' ? 400 : 401
        return sendProblem(
          res,
          status,
          'WEBHOOK_SIGNATURE_INVALID',
          'Invalid webhook signature',
          `The ${signatureHeader} header is ${check.problem === 'stale' ? 'outside the 5-minute tolerance' : check.problem}.`,
        )
      }
      // Counted once signed: the label comes from the URL, and unsigned requests to made-up paths
      // would otherwise add a metric series each.
      metrics.received.inc({ source })
      let event: unknown
      try {
        event = JSON.parse(rawBody.toString('utf8'))
      } catch {
        metrics.rejected.inc({ reason: 'invalid-json' })
        return sendProblem(
          res,
          400,
          'WEBHOOK_BODY_INVALID',
          'Invalid JSON',
          'The body is not JSON.',
        )
      }
      // `source` only labels the job: the path is not signed, so it is no part of the job id.
      const key = deliveryKey(event, rawBody)
      const id = jobIdFor(key)
      try {
        const { duplicate } = await queue.enqueue(id, { source, key, event, receivedAt: now() })
        if (duplicate) metrics.duplicates.inc()
        else metrics.queued.inc()
        res.status(202).location(`/jobs/${id}`).json({ jobId: id, duplicate })
      } catch (error) {
        if (error instanceof QueueFullError) {
          metrics.rejected.inc({ reason: 'queue-full' })
          res.set('Retry-After', String(Math.ceil(error.retryAfterMs / 1000)))
          return sendProblem(
            res,
            503,
            'QUEUE_FULL',
            'Queue full',
            'Too many jobs waiting; retry later.',
          )
        }
        metrics.rejected.inc({ reason: 'queue-unavailable' })
        res.set('Retry-After', '5')
        sendProblem(
          res,
          503,
          'QUEUE_UNAVAILABLE',
          'Queue unavailable',
          'The job queue did not answer; retry later.',
        )
      }
    },
  )
  return router
}
