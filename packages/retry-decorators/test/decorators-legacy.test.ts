// The decorator suite compiled with experimentalDecorators + emitDecoratorMetadata, reflect-metadata
// loaded first, as NestJS apps run.
import 'reflect-metadata'
import { expect, it } from 'vitest'
import { decoratorMode } from './decorators.suite.js?decorators=legacy'

it('runs the suite compiled with legacy decorators', () => {
  expect(decoratorMode).toBe('legacy')
})
