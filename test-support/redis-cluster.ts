import { afterAll, beforeAll } from 'vitest'
import { hasRedisServer, type RedisCluster, startRedisCluster } from './redis-server.js'

/**
 * True when this machine cannot start a cluster (no redis-server; REDIS_URL names one server,
 * not a cluster). Never under CI=true, where .ci/run installs Redis: there a missing one fails.
 */
export const noRedisCluster: boolean = !hasRedisServer() && process.env.CI !== 'true'

/** What a suite gets from {@link useRedisCluster}. */
export interface ClusterSuite {
  /** The masters' addresses, once the suite's beforeAll ran. */
  nodes(): RedisCluster['nodes']
  /** Registers a client to quit after the suite, before the cluster stops. */
  track<T extends { quit(): Promise<unknown> }>(client: T): T
}

/** Starts a 3-master cluster before the calling suite's tests and stops it after them. */
export function useRedisCluster(): ClusterSuite {
  let cluster: RedisCluster | undefined
  const clients: { quit(): Promise<unknown> }[] = []
  beforeAll(async () => {
    cluster = await startRedisCluster(3)
  }, 60_000)
  afterAll(async () => {
    await Promise.all(clients.map((client) => client.quit()))
    await cluster?.stop()
  })
  return {
    nodes() {
      if (cluster === undefined) throw new Error('the cluster starts in beforeAll')
      return cluster.nodes
    },
    track(client) {
      clients.push(client)
      return client
    },
  }
}
