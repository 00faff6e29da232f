import { headerValue } from './header-value.js'

// The three HTTP-date forms of RFC 9110 §5.6.7; anything else (Date.parse accepts "-1" or
// "soon 1") is not a hint, so the computed backoff applies instead of a bogus 0 ms wait.
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/
const RFC850_DATE = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/

/**
 * The server's retry hint on an error, in ms: `retry-after-ms` (a non-negative number), else
 * `retry-after` as delta-seconds or an HTTP date (IMF-fixdate, RFC 850 or asctime), read from
 * `error.headers` with {@link headerValue}. Undefined when there is no valid hint.
 * @example retryAfterMs(anthropicRateLimitError) // 20_000 for `retry-after: 20`
 */
export function retryAfterMs(error: unknown, now: number = Date.now()): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const headers = (error as { headers?: unknown }).headers
  const ms = parseNumber(headerValue(headers, 'retry-after-ms'))
  if (ms !== undefined) return ms
  const value = headerValue(headers, 'retry-after')
  if (value === undefined) return undefined
  const seconds = parseNumber(value)
  if (seconds !== undefined) return seconds * 1000
  let date: number
  if (IMF_FIXDATE.test(value) || RFC850_DATE.test(value)) date = Date.parse(value)
  // asctime carries no zone but means GMT; Date.parse alone would read it as local time.
  else if (ASCTIME_DATE.test(value)) date = Date.parse(`${value} GMT`)
  else return undefined
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function parseNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined
  return Number(value)
}
