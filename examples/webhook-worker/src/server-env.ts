import { parseInteger, SettingError } from './settings.js'

/** The settings `src/server.ts` reads from its environment, checked. */
export interface ServerEnv {
  port: number
  /** `receiver` runs no worker (BullMQ workers run elsewhere). */
  role: 'both' | 'receiver'
  redisUrl: string | undefined
  queueName: string | undefined
  concurrency: number
  shutdownMs: number
}

/**
 * Reads and checks the server's settings, so a typo fails at startup with the variable named
 * instead of turning into a NaN port, a worker with no concurrency, or an unreachable queue.
 */
export function readServerEnv(env: NodeJS.ProcessEnv): ServerEnv {
  const role = env.ROLE || 'both'
  if (role !== 'both' && role !== 'receiver') {
    throw new SettingError(`ROLE must be "both" or "receiver" (got "${role}")`)
  }
  const redisUrl = env.REDIS_URL || undefined
  // The in-process queue lives in this process: a receiver without a worker would accept jobs
  // that nothing ever runs, and lose them at exit.
  if (role === 'receiver' && redisUrl === undefined) {
    throw new SettingError('ROLE=receiver needs REDIS_URL: its jobs must reach workers elsewhere')
  }
  return {
    port: integer(env, 'PORT', 3000, 0, 65_535),
    role,
    redisUrl,
    queueName: env.QUEUE_NAME || undefined,
    concurrency: integer(env, 'CONCURRENCY', 8, 1, 1_000),
    shutdownMs: integer(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 0, 3_600_000),
  }
}

function integer(
  env: NodeJS.ProcessEnv,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name]
  return raw === undefined || raw === '' ? fallback : parseInteger(name, raw, min, max)
}
