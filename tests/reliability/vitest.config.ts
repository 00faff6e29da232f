import { defineProject, mergeConfig } from 'vitest/config'
import { shared } from '../../vitest.shared.js'

// `npm test` runs the short form; `npm run soak` sets RELIABILITY_SCALE=long.
export default mergeConfig(
  shared,
  defineProject({
    test: {
      name: 'reliability',
      include: ['**/*.test.ts'],
      globalSetup: ['../../test-support/redis-global-setup.ts'],
      testTimeout: 180_000,
      hookTimeout: 60_000,
      // Multi-process tests share two cores: one fork runs the files one at a time, which keeps
      // them honest. (`fileParallelism` is a root-only option that a project cannot set.)
      pool: 'forks',
      poolOptions: { forks: { singleFork: true } },
    },
  }),
)
