import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { setup } from './helpers.js'

const fixture = fileURLToPath(new URL('./fixtures/idempotent-call.ts', import.meta.url))

function runCall(env: Record<string, string>): Promise<{ id: string; replayed: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', '--conditions=@steadfast/source', fixture],
      { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => {
      out += chunk
    })
    child.stderr.on('data', (chunk) => {
      err += chunk
    })
    child.on('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`exit ${code}: ${err}`)),
    )
  })
}

describe.skipIf(noRedis)('idempotencyKey across processes (RedisStore)', () => {
  it('makes concurrent processes share one upstream request and one answer', async () => {
    const { fake } = await setup({ latencyMs: 1_500 })
    const env = {
      FAKE_URL: fake.url,
      REDIS_URL: redisUrl,
      PREFIX: `claude-test:${randomUUID()}:`,
      KEY: 'order-42',
    }
    const results = await Promise.all([runCall(env), runCall(env), runCall(env)])
    expect(fake.count()).toBe(1)
    expect(new Set(results.map((r) => r.id)).size).toBe(1)
    expect(results.filter((r) => r.replayed)).toHaveLength(2)
  }, 30_000)
})
