// What the Redis global setup provides to tests (vitest `provide` / `inject`).
declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the real Redis for this test run; '' when none is available (local runs only). */
    redisUrl: string
  }
}

export {}
