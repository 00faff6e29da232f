import { createServer } from 'node:http'
import { createApp, type Framework } from './app.js'

const framework: Framework = process.env.FRAMEWORK === 'koa' ? 'koa' : 'express'
const port = Number(process.env.PORT ?? 3000)
const server = createServer(
  createApp(framework, { processingMs: Number(process.env.PROCESSING_MS ?? 0) }),
)
server.listen(port, '127.0.0.1', () => {
  console.log(`orders-api (${framework}) on http://127.0.0.1:${port}`)
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => server.close(() => process.exit(0)))
}
