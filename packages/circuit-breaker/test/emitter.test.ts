import { afterEach, describe, expect, it, vi } from 'vitest'
import { CircuitBreaker } from '../src/index.js'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('events', () => {
  describe('when a listener throws', () => {
    it('still calls the other listeners, keeps the outcome and rethrows in a microtask', async () => {
      const deferred: (() => void)[] = []
      vi.spyOn(globalThis, 'queueMicrotask').mockImplementation((task) => {
        deferred.push(task)
      })
      const breaker = new CircuitBreaker()
      const bug = new Error('listener bug')
      const later = vi.fn()
      breaker.on('success', () => {
        throw bug
      })
      breaker.on('success', later)
      await expect(breaker.execute(async () => 'fine')).resolves.toBe('fine')
      expect(later).toHaveBeenCalledOnce()
      expect(deferred).toHaveLength(1)
      expect(() => deferred[0]?.()).toThrow(bug)
    })
  })

  it('lets a listener remove itself while the event is being emitted', async () => {
    const breaker = new CircuitBreaker()
    const calls: string[] = []
    const off = breaker.on('success', () => {
      calls.push('first')
      off()
    })
    breaker.on('success', () => calls.push('second'))
    await breaker.execute(async () => 1)
    await breaker.execute(async () => 1)
    expect(calls).toEqual(['first', 'second', 'second'])
  })
})
