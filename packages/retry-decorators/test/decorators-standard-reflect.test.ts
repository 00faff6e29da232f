// The decorator suite compiled with TC39 standard decorators while reflect-metadata is loaded, as
// when a NestJS-style app also uses standard decorators: metadata on methods must survive too.
import 'reflect-metadata'
import { expect, it } from 'vitest'
import { decoratorMode } from './decorators.suite.js?decorators=standard'

it('runs the suite compiled with standard decorators and reflect-metadata', () => {
  expect(decoratorMode).toBe('standard')
})
