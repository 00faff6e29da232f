import { defineProject } from 'vitest/config'

/** Read workspace packages from `src/` through the `@steadfast/source` export condition. */
export const shared = defineProject({
  ssr: { resolve: { conditions: ['@steadfast/source'] } },
  resolve: { conditions: ['@steadfast/source'] },
})
