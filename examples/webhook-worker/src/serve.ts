import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { WebhookApp } from './app.js'

/** A webhook app listening on loopback. */
export interface Serving {
  server: Server
  url: string
  /** Graceful stop: no new requests, in-flight jobs finished or returned to the queue, Redis closed. */
  stop(timeoutMs?: number): Promise<void>
}

/** Listens on 127.0.0.1 (`port` 0 picks a free one). */
export async function serve(webhook: WebhookApp, port = 0): Promise<Serving> {
  const server = createServer(webhook.app)
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const { port: bound } = server.address() as AddressInfo
  let stopping: Promise<void> | undefined
  return {
    server,
    url: `http://127.0.0.1:${bound}`,
    stop(timeoutMs = 10_000) {
      stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        await webhook.shutdown(timeoutMs)
        server.closeAllConnections()
        await closed
      })()
      return stopping
    },
  }
}
