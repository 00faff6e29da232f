import express, { type Router } from 'express'
import { adminAuth } from './admin-auth.js'
import { DlqCursorError } from './dlq-cursor.js'
import { type DlqPage, DlqQueryError, nextDlqPage, parseDlqPage } from './dlq-page.js'
import type { Metrics } from './metrics.js'
import { sendProblem } from './problem.js'
import type { JobQueue } from './queue.js'

/**
 * Job status and dead letters, behind the admin token (they show payloads and re-run jobs), and
 * the open health and metrics endpoints (probes and scrapers send no token; no payloads there).
 */
export function adminRoutes(options: {
  queue: JobQueue
  metrics: Metrics
  maxQueued: number
  /** Bearer token of the job and DLQ routes; unset, they answer 404. */
  adminToken: string | undefined
  /** False once shutdown began: readiness fails so the load balancer stops sending. */
  accepting: () => boolean
}): Router {
  const { queue, metrics } = options
  const router = express.Router()
  // Mounted on the prefixes, so that a route added under them later is guarded too.
  router.use(['/jobs', '/dlq'], adminAuth(options.adminToken))

  router.get('/jobs/:id', async (req, res) => {
    const job = await queue.get(req.params.id)
    if (!job) return sendProblem(res, 404, 'JOB_NOT_FOUND', 'Not Found', 'No such job.')
    res.json(job)
  })

  router.get('/dlq', async (req, res) => {
    let page: DlqPage
    try {
      page = parseDlqPage(req.query)
    } catch (error) {
      if (error instanceof DlqCursorError) {
        return sendProblem(res, 400, error.code, 'Invalid cursor', error.message)
      }
      if (!(error instanceof DlqQueryError)) throw error
      return sendProblem(res, 400, error.code, 'Invalid query', error.message)
    }
    // One job more than the page tells whether a next page exists, without counting the set.
    const jobs = await queue.deadLetters(page.after, page.limit + 1)
    const shown = jobs.slice(0, page.limit)
    const last = shown.at(-1)
    if (jobs.length <= page.limit || !last) return res.json({ jobs })
    const next = nextDlqPage(page, last)
    res.links({ next }).json({ jobs: shown, next })
  })

  router.post('/dlq/:id/replay', async (req, res) => {
    if (!(await queue.replay(req.params.id))) {
      return sendProblem(
        res,
        404,
        'JOB_NOT_DEAD_LETTERED',
        'Not Found',
        'No such job in the dead-letter queue.',
      )
    }
    res
      .status(202)
      .location(`/jobs/${req.params.id}`)
      .json({ jobId: req.params.id, replayed: true })
  })

  router.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' })
  })

  router.get('/readyz', async (_req, res) => {
    const reachable = await queue.ping()
    const depth = reachable ? await queue.depth() : undefined
    const full = depth ? depth.waiting + depth.active >= options.maxQueued : false
    const ready = options.accepting() && reachable && !full
    res.status(ready ? 200 : 503).json({
      status: ready ? 'ready' : 'not-ready',
      queue: queue.kind,
      reachable,
      full,
      accepting: options.accepting(),
    })
  })

  router.get('/metrics', async (_req, res) => {
    const depth = await queue.depth().catch(() => undefined)
    if (depth) {
      metrics.dlqDepth.set(depth.failed)
      metrics.queueDepth.set(depth.waiting + depth.active)
    }
    res.type(metrics.registry.contentType).send(await metrics.registry.metrics())
  })
  return router
}
