import type { Cluster as Cluster5, Redis as Redis5 } from 'ioredis'
import type { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { describe, expectTypeOf, it } from 'vitest'
import type { RedisClient } from '../src/redis.js'

describe('RedisClient', () => {
  it('accepts ioredis 5 and ioredis 6 clients', () => {
    expectTypeOf<Redis5>().toExtend<RedisClient>()
    expectTypeOf<Redis6>().toExtend<RedisClient>()
  })

  it('accepts ioredis 5 and ioredis 6 Redis Cluster clients', () => {
    expectTypeOf<Cluster5>().toExtend<RedisClient>()
    expectTypeOf<Cluster6>().toExtend<RedisClient>()
  })
})
