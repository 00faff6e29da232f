import type { Redis as Redis5 } from 'ioredis'
import type { Redis as Redis6 } from 'ioredis6'
import { describe, expectTypeOf, it } from 'vitest'
import type { RedisClient } from '../src/redis.js'

describe('RedisClient', () => {
  it('accepts ioredis 5 and ioredis 6 clients', () => {
    expectTypeOf<Redis5>().toExtend<RedisClient>()
    expectTypeOf<Redis6>().toExtend<RedisClient>()
  })
})
