import { fileURLToPath } from 'node:url'
import { defineProject, mergeConfig } from 'vitest/config'
import { decoratorModes } from '../../test-support/decorator-modes-plugin.js'
import { shared } from '../../vitest.shared.js'

export default mergeConfig(
  shared,
  defineProject({
    // `src/summary-service.ts?decorators=legacy|standard` is compiled by tsc under that setting.
    plugins: [decoratorModes(fileURLToPath(new URL('./tsconfig.json', import.meta.url)))],
    test: { name: 'example:decorated-service' },
  }),
)
