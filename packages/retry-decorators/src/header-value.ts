/**
 * Reads header `name` case-insensitively from a `Headers` instance (or anything with a
 * `get(name)` method) or a plain object whose values are strings or string arrays (Node's
 * `IncomingHttpHeaders`, SDK error `headers`). Of repeated values the first is taken; a number is
 * turned into its string; the result is trimmed. Undefined when the header is absent or `headers`
 * is neither.
 * @example headerValue(error.headers, 'Retry-After') // '20'
 */
export function headerValue(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined
  const lower = name.toLowerCase()
  let value: unknown
  const get = (headers as { get?: unknown }).get
  if (typeof get === 'function') {
    value = (get as (name: string) => unknown).call(headers, lower)
  } else {
    const bag = headers as Record<string, unknown>
    value = bag[lower]
    if (value === undefined) {
      for (const key of Object.keys(bag)) {
        if (key.toLowerCase() === lower) {
          value = bag[key]
          break
        }
      }
    }
  }
  if (Array.isArray(value)) value = value[0]
  if (typeof value === 'number') return String(value)
  return typeof value === 'string' ? value.trim() : undefined
}
