import { createServer, type RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'

/** An in-process HTTP server on a free loopback port. */
export interface Served {
  port: number
  close(): Promise<void>
}

/** Serves `listener` (an Express app or a Koa `callback()`) on 127.0.0.1. */
export function serve(listener: RequestListener): Promise<Served> {
  const server = createServer(listener)
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections()
            server.close(() => done())
          }),
      })
    })
  })
}
