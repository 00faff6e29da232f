/**
 * Lays `overrides` over `defaults` field by field, at every depth of plain option objects, so a
 * breaker that overrides `failureRate.threshold` keeps the registry's `minimumCalls` and window.
 *
 * - A field set to `undefined` means "not set": it never hides a default.
 * - Two plain objects (object literals) merge; anything else (a function, an array, a class
 *   instance such as a client) replaces the default as a whole.
 * - Two objects with different `kind`s (`{ kind: 'count', size }` vs `{ kind: 'time', sizeMs }`)
 *   are different shapes: the override replaces the default rather than mixing their fields.
 *
 * Neither argument is mutated; merged levels are fresh objects.
 */
export function mergeOptions<T extends object>(defaults: T, overrides: T | undefined): T {
  if (overrides === undefined) return defaults
  const merged = { ...defaults } as Record<string, unknown>
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue
    const base = merged[key]
    merged[key] = mergeable(base, value) ? mergeOptions(base, value) : value
  }
  return merged as T
}

function mergeable(base: unknown, value: unknown): base is object {
  return isPlainObject(base) && isPlainObject(value) && base.kind === value.kind
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}
