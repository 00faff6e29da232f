import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { createConnection, createServer } from 'node:net'

/** A redis-server child process started for tests. */
export interface RedisServer {
  readonly url: string
  readonly port: number
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>
  /** Kills the server at once (SIGKILL), as a crash would. */
  kill(): Promise<void>
}

/** True when a `redis-server` binary is on PATH. */
export function hasRedisServer(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0
}

/** Finds a free TCP port on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' })
    socket.setTimeout(200)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => child.once('exit', () => resolve()))
}

/**
 * Starts `redis-server` on loopback (a free port unless `port` is given), without persistence
 * unless `args` asks for it, and resolves once it answers PING.
 */
export async function startRedisServer(
  options: { port?: number; args?: string[] } = {},
): Promise<RedisServer> {
  const port = options.port ?? (await freePort())
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      ...(options.args ?? []),
    ],
    { stdio: 'ignore' },
  )
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        error.code === 'ENOENT'
          ? new Error(
              'redis-server is not on PATH: install it (Debian: apt-get install -y redis-server) or set REDIS_URL',
              { cause: error },
            )
          : error,
      ),
    )
    child.once('exit', (code) => reject(new Error(`redis-server exited early with code ${code}`)))
  })
  const deadline = Date.now() + 10_000
  const ready = (async () => {
    while (Date.now() < deadline) {
      if (await ping(port)) return
      await new Promise((r) => setTimeout(r, 25))
    }
    throw new Error(`redis-server on port ${port} did not answer PING within 10 s`)
  })()
  try {
    await Promise.race([ready, failed])
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  failed.catch(() => {})
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      child.kill('SIGTERM')
      await exited(child)
    },
    async kill() {
      child.kill('SIGKILL')
      await exited(child)
    },
  }
}
