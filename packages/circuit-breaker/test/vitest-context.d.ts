// test-support/redis.ts calls inject('redisUrl'); its type lives in redis-global-setup.ts, which
// is outside this package's tsconfig, so the augmentation is repeated here for `tsc --noEmit`.
declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string
  }
}

export {}
