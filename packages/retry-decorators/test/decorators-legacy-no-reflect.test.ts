// The decorator suite compiled with experimentalDecorators but without reflect-metadata loaded:
// policies are then recorded in this package's own table.
import { expect, it } from 'vitest'
import { decoratorMode } from './decorators.suite.js?decorators=legacy'

it('runs the suite compiled with legacy decorators and no reflect-metadata', () => {
  expect(decoratorMode).toBe('legacy')
  expect((Reflect as { getMetadata?: unknown }).getMetadata).toBeUndefined()
})
