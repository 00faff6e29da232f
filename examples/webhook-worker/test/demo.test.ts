import { Redis } from 'ioredis'
import { describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import { formatReport, runDemo } from '../src/demo.js'

describe('the npm start demo', () => {
  it('reconciles: every unique event executed once or dead-lettered, nothing lost', async () => {
    const report = await runDemo({ deliveries: 150, ratePerSecond: 150, seed: 3 })
    expect(report.checks.filter((c) => !c.ok)).toEqual([])
    expect(report.ok).toBe(true)
    expect(report.jobsExecuted).toBe(report.jobsCompleted)
    expect(report.jobsCompleted + report.deadLettered).toBe(report.uniqueEvents)
    expect(report.duplicatesSuppressed).toBeGreaterThan(0)
    expect(report.rejectedBadSignature).toBeGreaterThan(0)
    // The fault mix is real: 529s and the outage force retries and fallbacks.
    expect(report.claudeRetries).toBeGreaterThan(0)
    expect(report.fallbacks).toBeGreaterThan(0)
    expect(report.claudeAttempts).toBeGreaterThan(report.jobsExecuted)
    expect(formatReport(report)).toContain('all numbers reconcile')
  }, 60_000)

  it.skipIf(noRedis)(
    'reconciles with two receivers and two workers on BullMQ',
    async () => {
      const report = await runDemo({
        deliveries: 120,
        ratePerSecond: 150,
        instances: 2,
        redisUrl,
        seed: 5,
      })
      expect(report.queue).toBe('bullmq')
      expect(report.instances).toBe(2)
      expect(report.checks.filter((c) => !c.ok)).toEqual([])
      // Its own queue, not a deployment's default 'webhooks', and nothing of it left in Redis.
      expect(report.queueName).toMatch(/^webhooks-demo-[0-9a-f]{8}$/)
      const redis = new Redis(redisUrl)
      try {
        expect(await redis.keys(`bull:${report.queueName}:*`)).toEqual([])
        expect(await redis.keys(`${report.queueName}:seen:*`)).toEqual([])
      } finally {
        await redis.quit()
      }
    },
    60_000,
  )
})
