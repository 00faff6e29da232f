import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

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

/** A Redis Cluster of `redis-server` children started for tests. */
export interface RedisCluster {
  /** The masters' addresses, as an ioredis `Cluster` takes them. */
  readonly nodes: { host: string; port: number }[]
  /** Stops every node. */
  stop(): Promise<void>
}

/**
 * Starts a Redis Cluster of `masters` nodes on loopback (no replicas, no persistence), its
 * slots spread by `redis-cli --cluster create`, and resolves once every node reports
 * `cluster_state:ok`. Each node keeps its cluster config in a temporary directory.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'steadfast-cluster-'))
  const servers: RedisServer[] = []
  const stop = async () => {
    await Promise.all(servers.map((server) => server.stop()))
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    for (let i = 0; i < masters; i++) {
      const port = await freePort()
      const config = join(dir, `nodes-${port}.conf`)
      servers.push(
        await startRedisServer({
          port,
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', config, '--dir', dir],
        }),
      )
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`)
    const created = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    )
    if (created.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${created.stderr || created.stdout}`)
    }
    const deadline = Date.now() + 15_000
    for (const server of servers) {
      while (!clusterOk(server.port)) {
        if (Date.now() > deadline) throw new Error('the Redis Cluster did not become ready in 15 s')
        await new Promise((r) => setTimeout(r, 100))
      }
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })), stop }
}

function clusterOk(port: number): boolean {
  const info = spawnSync('redis-cli', ['-p', String(port), 'cluster', 'info'], { encoding: 'utf8' })
  return info.stdout.includes('cluster_state:ok')
}
