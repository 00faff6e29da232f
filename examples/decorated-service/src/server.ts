import 'reflect-metadata'
import { Anthropic } from '@anthropic-ai/sdk'
import { ResilientClaude } from '@steadfast/claude-adapter'
import { startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import { createApp } from './app.js'
import { SummaryService } from './summary-service.js'

// The real API with ANTHROPIC_API_KEY; otherwise the bundled fake server.
const fake = process.env.ANTHROPIC_API_KEY ? undefined : await startFakeAnthropic()
const client = fake ? new Anthropic({ apiKey: 'fake', baseURL: fake.url }) : new Anthropic()
const claude = new ResilientClaude({ client, fallbackModels: ['claude-haiku-5-5'] })
const port = Number(process.env.PORT ?? 3002)
const server = createApp(new SummaryService(claude)).listen(port, '127.0.0.1', () => {
  console.log(`decorated-service on http://127.0.0.1:${port}  (POST /summaries {"text": "..."})`)
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    server.close(() => {
      void fake?.close().finally(() => process.exit(0))
      if (!fake) process.exit(0)
    })
  })
}
