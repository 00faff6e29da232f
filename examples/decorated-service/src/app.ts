import express, { type Express } from 'express'
import { notFound, problem, problemErrors, sendProblem, upstreamProblem } from './problem.js'
import type { Summary, SummaryService } from './summary-service.js'

/** The service behind `POST /summaries`; any object with a `summarize` method of that shape. */
export type Summarizer = Pick<SummaryService, 'summarize'>

/** `POST /summaries { text }` → `{ summary, source }`; problem+json on bad input. */
export function createApp(service: Summarizer): Express {
  const app = express()
  app.use(express.json({ limit: '100kb' }))
  app.post('/summaries', async (req, res) => {
    const text = (req.body as { text?: unknown } | undefined)?.text
    if (typeof text !== 'string' || text.trim() === '') {
      const detail = 'Send a JSON body with a non-empty string `text`.'
      return sendProblem(res, problem('SUMMARY_TEXT_REQUIRED', 400, 'Text required', detail))
    }
    let summary: Summary
    try {
      summary = await service.summarize(text)
    } catch (error) {
      // What @Fallback let through: Claude refused the call (a 401 is a configuration error).
      return sendProblem(res, upstreamProblem(error))
    }
    // A fallback answer is still a 200, but says so, for clients and caches.
    if (summary.source !== 'claude') res.set('Warning', '110 - "summary from fallback"')
    res.json(summary)
  })
  app.use(notFound)
  app.use(problemErrors)
  return app
}
