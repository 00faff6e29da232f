// The decorator suite compiled with TC39 standard decorators (experimentalDecorators off).
import { expect, it } from 'vitest'
import { decoratorMode } from './decorators.suite.js?decorators=standard'

it('runs the suite compiled with standard decorators', () => {
  expect(decoratorMode).toBe('standard')
})
