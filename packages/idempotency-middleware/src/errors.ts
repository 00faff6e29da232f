/** Stable codes carried by every error of this package. */
export type IdempotencyErrorCode =
  | 'IDEMPOTENCY_KEY_INVALID'
  | 'IDEMPOTENCY_KEY_REQUIRED'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'IDEMPOTENCY_KEY_IN_USE'
  | 'IDEMPOTENCY_STORE_UNAVAILABLE'
  | 'IDEMPOTENCY_RECORD_UNREADABLE'
  | 'IDEMPOTENCY_CONFIG_INVALID'
  | 'IDEMPOTENCY_BODY_UNSUPPORTED'

/** Base class of every error thrown or answered by this package. */
export class IdempotencyError extends Error {
  /** The class name, for logs (`instanceof` fails across duplicate package copies). */
  override readonly name: string = 'IdempotencyError'
  /** Brand that survives duplicate ESM/CJS copies of this package. */
  readonly isIdempotencyError = true
  /** Stable machine-readable code. */
  readonly code: IdempotencyErrorCode
  /** HTTP status this error is answered with. */
  readonly status: number
  constructor(code: IdempotencyErrorCode, status: number, message: string, options?: ErrorOptions) {
    super(message, options)
    this.code = code
    this.status = status
  }
}

/** The Idempotency-Key header is malformed (400). */
export class IdempotencyKeyInvalidError extends IdempotencyError {
  /** Always `'IdempotencyKeyInvalidError'`. */
  override readonly name = 'IdempotencyKeyInvalidError'
  constructor(message: string, options?: ErrorOptions) {
    super('IDEMPOTENCY_KEY_INVALID', 400, message, options)
  }
}

/** The Idempotency-Key header is required but missing (400). */
export class IdempotencyKeyRequiredError extends IdempotencyError {
  /** Always `'IdempotencyKeyRequiredError'`. */
  override readonly name = 'IdempotencyKeyRequiredError'
  /** The header that must be sent. */
  readonly headerName: string
  constructor(headerName: string, options?: ErrorOptions) {
    super('IDEMPOTENCY_KEY_REQUIRED', 400, `The ${headerName} header is required`, options)
    this.headerName = headerName
  }
}

/**
 * The request has a body that no parser before the middleware read, in a type other than JSON,
 * so it cannot be fingerprinted (415). A JSON body left unread is a mounting mistake instead
 * ({@link IdempotencyConfigError}).
 */
export class IdempotencyBodyUnsupportedError extends IdempotencyError {
  /** Always `'IdempotencyBodyUnsupportedError'`. */
  override readonly name = 'IdempotencyBodyUnsupportedError'
  /** The request's Content-Type, if any. */
  readonly contentType: string | undefined
  constructor(contentType: string | undefined, options?: ErrorOptions) {
    super(
      'IDEMPOTENCY_BODY_UNSUPPORTED',
      415,
      `A request body of type ${contentType ?? '(none)'} is not accepted with an idempotency key here`,
      options,
    )
    this.contentType = contentType
  }
}

/** The key was already used with a different request fingerprint (422). */
export class IdempotencyKeyMismatchError extends IdempotencyError {
  /** Always `'IdempotencyKeyMismatchError'`. */
  override readonly name = 'IdempotencyKeyMismatchError'
  constructor(options?: ErrorOptions) {
    super(
      'IDEMPOTENCY_KEY_REUSED',
      422,
      'This idempotency key was already used with a different request',
      options,
    )
  }
}

/** Another request with the same key is still running (409). */
export class IdempotencyConflictError extends IdempotencyError {
  /** Always `'IdempotencyConflictError'`. */
  override readonly name = 'IdempotencyConflictError'
  /** What is left of the owner's lease. */
  readonly retryAfterMs: number
  constructor(retryAfterMs: number, options?: ErrorOptions) {
    super(
      'IDEMPOTENCY_KEY_IN_USE',
      409,
      'A request with this idempotency key is still being processed',
      options,
    )
    this.retryAfterMs = retryAfterMs
  }
}

/** The store failed or timed out and the guard fails closed (503). */
export class IdempotencyStoreError extends IdempotencyError {
  /** Always `'IdempotencyStoreError'`. */
  override readonly name = 'IdempotencyStoreError'
  constructor(message: string, options?: ErrorOptions) {
    super('IDEMPOTENCY_STORE_UNAVAILABLE', 503, message, options)
  }
}

/** A stored record cannot be decrypted or decoded; the handler is not run again (500). */
export class IdempotencyRecordUnreadableError extends IdempotencyError {
  /** Always `'IdempotencyRecordUnreadableError'`. */
  override readonly name = 'IdempotencyRecordUnreadableError'
  constructor(message: string, options?: ErrorOptions) {
    super('IDEMPOTENCY_RECORD_UNREADABLE', 500, message, options)
  }
}

/** The guard is misconfigured (thrown at startup, or on the first request it can detect it). */
export class IdempotencyConfigError extends IdempotencyError {
  /** Always `'IdempotencyConfigError'`. */
  override readonly name = 'IdempotencyConfigError'
  constructor(message: string, options?: ErrorOptions) {
    super('IDEMPOTENCY_CONFIG_INVALID', 500, message, options)
  }
}

const hasCode = (e: unknown, code: IdempotencyErrorCode): boolean =>
  e instanceof Error && 'code' in e && e.code === code

/** True for any error of this package. */
export const isIdempotencyError = (e: unknown): e is IdempotencyError =>
  e instanceof Error && 'isIdempotencyError' in e && e.isIdempotencyError === true
/** True for {@link IdempotencyKeyInvalidError}. */
export const isIdempotencyKeyInvalidError = (e: unknown): e is IdempotencyKeyInvalidError =>
  hasCode(e, 'IDEMPOTENCY_KEY_INVALID')
/** True for {@link IdempotencyKeyRequiredError}. */
export const isIdempotencyKeyRequiredError = (e: unknown): e is IdempotencyKeyRequiredError =>
  hasCode(e, 'IDEMPOTENCY_KEY_REQUIRED')
/** True for {@link IdempotencyKeyMismatchError}. */
export const isIdempotencyKeyMismatchError = (e: unknown): e is IdempotencyKeyMismatchError =>
  hasCode(e, 'IDEMPOTENCY_KEY_REUSED')
/** True for {@link IdempotencyConflictError}. */
export const isIdempotencyConflictError = (e: unknown): e is IdempotencyConflictError =>
  hasCode(e, 'IDEMPOTENCY_KEY_IN_USE')
/** True for {@link IdempotencyStoreError}. */
export const isIdempotencyStoreError = (e: unknown): e is IdempotencyStoreError =>
  hasCode(e, 'IDEMPOTENCY_STORE_UNAVAILABLE')
/** True for {@link IdempotencyRecordUnreadableError}. */
export const isIdempotencyRecordUnreadableError = (
  e: unknown,
): e is IdempotencyRecordUnreadableError => hasCode(e, 'IDEMPOTENCY_RECORD_UNREADABLE')
/** True for {@link IdempotencyConfigError}. */
export const isIdempotencyConfigError = (e: unknown): e is IdempotencyConfigError =>
  hasCode(e, 'IDEMPOTENCY_CONFIG_INVALID')
/** True for {@link IdempotencyBodyUnsupportedError}. */
export const isIdempotencyBodyUnsupportedError = (
  e: unknown,
): e is IdempotencyBodyUnsupportedError => hasCode(e, 'IDEMPOTENCY_BODY_UNSUPPORTED')
