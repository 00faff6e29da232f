import { defineProject, mergeConfig } from 'vitest/config'
import { shared } from '../../vitest.shared.js'

export default mergeConfig(
  shared,
  defineProject({
    test: {
      name: 'idempotency-middleware',
      globalSetup: ['../../test-support/redis-global-setup.ts'],
    },
  }),
)
