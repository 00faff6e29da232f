import express, { type Express } from 'express'
import type { SummaryService } from './summary-service.js'

/** The service behind `POST /summaries`; any object with a `summarize` method of that shape. */
export type Summarizer = Pick<SummaryService, 'summarize'>

/** `POST /summaries { text }` → `{ summary, source }`; problem+json on bad input. */
export function createApp(service: Summarizer): Express {
  const app = express()
  app.use(express.json({ limit: '100kb' }))
  app.post('/summaries', async (req, res) => {
    const text = (req.body as { text?: unknown } | undefined)?.text
    if (typeof text !== 'string' || text.trim() === '') {
      res.status(400).type('application/problem+json').json({
        type: 'https://steadfast.dev/problems/summary-text-required',
        title: 'Text required',
        status: 400,
        detail: 'Send a JSON body with a non-empty string `text`.',
      })
      return
    }
    const summary = await service.summarize(text)
    // A fallback answer is still a 200, but says so, for clients and caches.
    if (summary.source !== 'claude') res.set('Warning', '110 - "summary from fallback"')
    res.json(summary)
  })
  return app
}
