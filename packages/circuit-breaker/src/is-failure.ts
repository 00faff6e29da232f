/**
 * The default `isFailure`: every error counts, except an HTTP-ish client error (a numeric
 * `status` or `statusCode` of 400–499 other than 408 Request Timeout and 429 Too Many Requests):
 * the service answered, the request was wrong.
 */
export function isServerFailure(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return true
  const { status, statusCode } = error as { status?: unknown; statusCode?: unknown }
  const code = typeof status === 'number' ? status : statusCode
  if (typeof code !== 'number' || code < 400 || code > 499) return true
  return code === 408 || code === 429
}
