import { afterEach, describe, expect, it, vi } from 'vitest'
import { MemoryQueue } from '../src/memory-queue.js'

const job = (key: string) => ({ source: 's', key, event: {}, receivedAt: 0 })

describe('MemoryQueue', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it('forgets a completed job after dedupeTtlMs, and keeps its dedupe until then', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const queue = new MemoryQueue({ dedupeTtlMs: 60_000 })
    queue.start(async () => 'done', { concurrency: 1 })
    await queue.enqueue('job_a', job('a'))
    await vi.waitFor(async () => expect((await queue.get('job_a'))?.status).toBe('completed'))

    vi.advanceTimersByTime(59_000)
    expect(await queue.enqueue('job_a', job('a'))).toEqual({ id: 'job_a', duplicate: true })
    vi.advanceTimersByTime(1_000)
    expect(await queue.get('job_a')).toBeUndefined()
    expect((await queue.depth()).completed).toBe(0)
    expect(await queue.enqueue('job_a', job('a'))).toEqual({ id: 'job_a', duplicate: false })
    await queue.close(100)
  })

  it('keeps dead letters and unfinished jobs past dedupeTtlMs', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const queue = new MemoryQueue({ dedupeTtlMs: 1_000, attempts: 1 })
    queue.start(
      async ({ id }) => {
        if (id === 'job_poison') throw new Error('poison')
        return 'done'
      },
      { concurrency: 1 },
    )
    await queue.enqueue('job_poison', job('p'))
    await vi.waitFor(async () => expect((await queue.depth()).failed).toBe(1))
    vi.advanceTimersByTime(10_000)
    expect((await queue.get('job_poison'))?.status).toBe('failed')
    expect(await queue.deadLetters(undefined, 10)).toHaveLength(1)
    await queue.close(100)
  })
})
