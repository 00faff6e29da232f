import { fileURLToPath } from 'node:url'
import { defineProject, mergeConfig } from 'vitest/config'
import { decoratorModes } from '../../test-support/decorator-modes-plugin.js'
import { shared } from '../../vitest.shared.js'

export default mergeConfig(
  shared,
  defineProject({
    // Compiles `*.ts?decorators=legacy|standard` imports with tsc under that decorator setting,
    // so one decorator suite runs under both (see test-support/decorator-modes-plugin.ts).
    plugins: [decoratorModes(fileURLToPath(new URL('./tsconfig.json', import.meta.url)))],
    test: { name: 'retry-decorators' },
  }),
)
