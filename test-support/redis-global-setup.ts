import type { TestProject } from 'vitest/node'
import type {} from './provided-context.js'
import { hasRedisServer, type RedisServer, startRedisServer } from './redis-server.js'

/**
 * Vitest global setup: gives tests a real Redis. Uses `REDIS_URL` when set, else starts
 * `redis-server` on a free port for the run. With `CI=true` a missing Redis fails the run,
 * so CI can never pass by skipping the Redis tests.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const fromEnv = process.env.REDIS_URL
  if (fromEnv) {
    project.provide('redisUrl', fromEnv)
    return async () => {}
  }
  if (!hasRedisServer()) {
    if (process.env.CI === 'true') {
      throw new Error(
        'CI=true but no redis-server on PATH and REDIS_URL is unset: Redis tests cannot run',
      )
    }
    console.warn('[steadfast] no redis-server and no REDIS_URL: Redis tests are skipped')
    project.provide('redisUrl', '')
    return async () => {}
  }
  const server: RedisServer = await startRedisServer()
  project.provide('redisUrl', server.url)
  return () => server.stop()
}
