import { inject } from 'vitest'
import type {} from './provided-context.js'

/** The real Redis URL for this run, or '' when the run has none (never under CI=true). */
export const redisUrl: string = inject('redisUrl')

/** Pass to `describe.skipIf(noRedis)` for suites that need Redis. */
export const noRedis: boolean = redisUrl === ''
