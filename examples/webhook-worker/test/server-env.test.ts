import { describe, expect, it } from 'vitest'
import { freePort } from '../../../test-support/redis-server.js'
import { readServerEnv } from '../src/server-env.js'
import { SettingError } from '../src/settings.js'
import { runSource } from './support.js'

/** Runs src/server.ts until it exits or starts serving; kills it in the second case. */
async function startServer(env: Record<string, string>) {
  const { child, output } = runSource('server.ts', [], env)
  const code = await new Promise<number | 'serving'>((resolve) => {
    child.once('exit', (exit) => resolve(exit ?? -1))
    child.stdout.on('data', () => {
      if (output().includes('webhook-worker on')) resolve('serving')
    })
  })
  if (code === 'serving') child.kill('SIGKILL')
  return { code, output: output() }
}

describe('readServerEnv', () => {
  it('gives the embedded defaults for an empty environment', () => {
    expect(readServerEnv({})).toEqual({
      port: 3000,
      role: 'both',
      redisUrl: undefined,
      queueName: undefined,
      concurrency: 8,
      shutdownMs: 10_000,
    })
  })

  it('reads a receiver on Redis', () => {
    const env = readServerEnv({
      ROLE: 'receiver',
      REDIS_URL: 'redis://127.0.0.1:6379',
      PORT: '0',
      QUEUE_NAME: 'hooks',
      CONCURRENCY: '2',
      SHUTDOWN_TIMEOUT_MS: '0',
    })
    expect(env).toMatchObject({ role: 'receiver', port: 0, queueName: 'hooks', concurrency: 2 })
  })

  it('refuses a receiver on the in-process queue, whose jobs nothing would run', () => {
    expect(() => readServerEnv({ ROLE: 'receiver' })).toThrow(SettingError)
    expect(() => readServerEnv({ ROLE: 'receiver' })).toThrow(/ROLE=receiver needs REDIS_URL/)
  })

  it.each([
    [{ ROLE: 'worker' }, /ROLE must be "both" or "receiver"/],
    [{ PORT: 'http' }, /PORT must be an integer/],
    [{ PORT: '70000' }, /PORT must be an integer/],
    [{ CONCURRENCY: '0' }, /CONCURRENCY must be an integer from 1/],
    [{ CONCURRENCY: '2.5' }, /CONCURRENCY must be an integer/],
    [{ SHUTDOWN_TIMEOUT_MS: '-1' }, /SHUTDOWN_TIMEOUT_MS must be an integer/],
  ])('names the variable of a bad setting: %o', (env, message) => {
    expect(() => readServerEnv(env)).toThrow(message)
  })

  it('stops the server at startup, naming the variable, instead of serving a receiver that loses jobs', async () => {
    const { code, output } = await startServer({
      ROLE: 'receiver',
      REDIS_URL: '',
      PORT: String(await freePort()),
      WEBHOOK_SECRET: 'whsec_test',
    })
    expect(code, output).toBe(2)
    expect(output).toContain('ROLE=receiver needs REDIS_URL')
  }, 30_000)
})
