import express, { type Router } from 'express'
import type { Metrics } from './metrics.js'
import { sendProblem } from './problem.js'
import type { JobQueue } from './queue.js'

/** Job status, dead letters, health and metrics endpoints. */
export function adminRoutes(options: {
  queue: JobQueue
  metrics: Metrics
  maxQueued: number
  /** False once shutdown began: readiness fails so the load balancer stops sending. */
  accepting: () => boolean
}): Router {
  const { queue, metrics } = options
  const router = express.Router()

  router.get('/jobs/:id', async (req, res) => {
    const job = await queue.get(req.params.id)
    if (!job) return sendProblem(res, 404, 'JOB_NOT_FOUND', 'Not Found', 'No such job.')
    res.json(job)
  })

  router.get('/dlq', async (_req, res) => {
    res.json({ jobs: await queue.deadLetters() })
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
