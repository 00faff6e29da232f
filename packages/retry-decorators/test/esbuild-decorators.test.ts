// This file is compiled by vitest's esbuild (standard decorators, as tsx users get), not by the
// TypeScript compiler: esbuild's own decorator helpers must work with ours too.
import { describe, expect, it } from 'vitest'
import { getResiliencePolicies, Retry, Timeout } from '../src/index.js'
import { HttpError } from './helpers.js'

class Worker {
  calls = 0

  @Retry({ maxAttempts: 2, backoff: { initialMs: 0 } })
  @Timeout(1_000)
  async run(): Promise<number> {
    this.calls++
    if (this.calls === 1) throw new HttpError(503)
    return this.calls
  }
}

describe('decorators compiled by esbuild', () => {
  it('retries and records policies', async () => {
    await expect(new Worker().run()).resolves.toBe(2)
    expect(getResiliencePolicies(Worker, 'run').map((p) => p.kind)).toEqual(['retry', 'timeout'])
  })
})
