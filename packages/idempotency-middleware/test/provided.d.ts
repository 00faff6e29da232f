// Loads the `ProvidedContext` augmentation (redisUrl) that test-support/redis.ts relies on.
import type {} from '../../../test-support/redis-global-setup.js'
