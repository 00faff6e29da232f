type HeaderBag = { get(name: string): unknown } | Record<string, unknown>

/**
 * The server's retry hint on an error, in ms: `retry-after-ms`, else `retry-after` as seconds or
 * an HTTP date, read from `error.headers` (a `Headers`-like object or a plain object, any case).
 * Undefined when there is no valid hint.
 * @example retryAfterMs(anthropicRateLimitError) // 20_000 for `retry-after: 20`
 */
export function retryAfterMs(error: unknown, now: number = Date.now()): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const headers = (error as { headers?: unknown }).headers
  if (typeof headers !== 'object' || headers === null) return undefined
  const bag = headers as HeaderBag
  const ms = parseNumber(header(bag, 'retry-after-ms'))
  if (ms !== undefined) return ms
  const value = header(bag, 'retry-after')
  if (value === undefined) return undefined
  const seconds = parseNumber(value)
  if (seconds !== undefined) return seconds * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function header(bag: HeaderBag, name: string): string | undefined {
  let value: unknown
  if (typeof bag.get === 'function') {
    value = (bag as { get(name: string): unknown }).get(name)
  } else {
    for (const key of Object.keys(bag)) {
      if (key.toLowerCase() === name) {
        value = (bag as Record<string, unknown>)[key]
        break
      }
    }
  }
  if (Array.isArray(value)) value = value[0]
  if (typeof value === 'number') return String(value)
  return typeof value === 'string' ? value.trim() : undefined
}

function parseNumber(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined
  return Number(value)
}
