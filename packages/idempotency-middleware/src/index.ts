export {
  ActiveClaim,
  type ConcurrencyPolicy,
  type CoreOptions,
  type Decision,
  IdempotencyEngine,
  type IdempotencyEvent,
  type ReplayResponse,
  storeDeterministic,
} from './core.js'
export {
  type AesGcmEncryptionOptions,
  aesGcmEncryption,
  type ResponseEncryption,
} from './encryption.js'
export {
  IdempotencyBodyUnsupportedError,
  IdempotencyConfigError,
  IdempotencyConflictError,
  IdempotencyError,
  type IdempotencyErrorCode,
  IdempotencyKeyInvalidError,
  IdempotencyKeyMismatchError,
  IdempotencyKeyRequiredError,
  IdempotencyRecordUnreadableError,
  IdempotencyStoreError,
  isIdempotencyBodyUnsupportedError,
  isIdempotencyConfigError,
  isIdempotencyConflictError,
  isIdempotencyError,
  isIdempotencyKeyInvalidError,
  isIdempotencyKeyMismatchError,
  isIdempotencyKeyRequiredError,
  isIdempotencyRecordUnreadableError,
  isIdempotencyStoreError,
} from './errors.js'
export {
  type ExpressMiddleware,
  type ExpressRequestLike,
  type IdempotencyOptions,
  idempotency,
  keepRawBody,
} from './express.js'
export { canonicalJson, fingerprintBody, requestFingerprint } from './fingerprint.js'
export { DEFAULT_REPLAY_HEADERS } from './headers.js'
export { parseIdempotencyKey, storageKey } from './key.js'
export { type ErrorFormat, type ErrorResponse, problemType, renderError } from './problem.js'
export type {
  ClaimResult,
  IdempotencyStore,
  StoredResponse,
  SyncIdempotencyStore,
} from './store.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export { type IdempotentOptions, idempotent } from './worker.js'
