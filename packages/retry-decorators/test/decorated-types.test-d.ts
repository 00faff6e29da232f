// Compile-only (checked by `tsc --noEmit`): what TypeScript shows for decorated methods.
import { describe, expectTypeOf, it } from 'vitest'
import { Retry } from '../src/index.js'

class Service {
  @Retry({ maxAttempts: 2 })
  double(value: number): number {
    return value * 2
  }

  @Retry({ maxAttempts: 2 })
  async triple(value: number): Promise<number> {
    return value * 3
  }
}

describe('decorated methods', () => {
  it('keep their declared signature, so a sync method still shows its sync return type', () => {
    // At run time `double` returns a Promise<number> (decorators await the method), but a
    // decorator cannot change a method's type: declare decorated methods async (README, FAQ).
    expectTypeOf<Service['double']>().toEqualTypeOf<(value: number) => number>()
    expectTypeOf<Service['triple']>().toEqualTypeOf<(value: number) => Promise<number>>()
  })
})
