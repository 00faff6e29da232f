import type { RetryOptions } from './retry.js'

/** One resilience decorator recorded on a method, as listed by {@link getResiliencePolicies}. */
export type ResiliencePolicy =
  | {
      /** Set by `@Fallback`; tells the variants apart. */
      readonly kind: 'fallback'
      /** The fallback method's name, or the fallback function. */
      readonly fallback: PropertyKey | ((error: unknown, ...args: never[]) => unknown)
    }
  | {
      /** Set by `@Retry`; tells the variants apart. */
      readonly kind: 'retry'
      /** Inline options; undefined for a named policy. */
      readonly options: RetryOptions | undefined
      /** The named policy (see `defineRetryPolicy`); undefined for inline options. */
      readonly name: string | undefined
    }
  | {
      /** Set by `@CircuitBreaker`; tells the variants apart. */
      readonly kind: 'circuit-breaker'
      /** Name of the breaker (shared through the registry when decorated by name). */
      readonly breaker: string
    }
  | {
      /** Set by `@Timeout`; tells the variants apart. */
      readonly kind: 'timeout'
      /** Milliseconds each call gets before it rejects with `TimeoutError`. */
      readonly timeoutMs: number
    }

/** The reflect-metadata key holding a method's policies (legacy decorators with reflect-metadata). */
export const RESILIENCE_METADATA_KEY = 'steadfast:resilience'

// Node 20 has no Symbol.metadata, and TypeScript and esbuild only create standard decorator
// metadata when it exists. Symbol.for('Symbol.metadata') is the symbol esbuild falls back to.
const symbols = Symbol as { metadata?: symbol }
symbols.metadata ??= Symbol.for('Symbol.metadata')
const METADATA = symbols.metadata

// Our key inside a class's standard decorator metadata object.
const POLICIES = Symbol('steadfast.resilience')
type PolicyTable = Record<PropertyKey, readonly ResiliencePolicy[]>
type StandardTables = { instance: PolicyTable; static: PolicyTable }

// Legacy decorators without reflect-metadata: prototype (or constructor) -> name -> policies.
const legacyTables = new WeakMap<object, Map<PropertyKey, readonly ResiliencePolicy[]>>()

interface ReflectMetadata {
  getMetadata?(key: unknown, target: object, property: PropertyKey): unknown
  getOwnMetadata?(key: unknown, target: object, property: PropertyKey): unknown
  defineMetadata?(key: unknown, value: unknown, target: object, property: PropertyKey): void
}
const reflect = Reflect as unknown as ReflectMetadata

/** @internal Records `policy` as the new outermost one (decorators apply bottom-up). */
export function recordStandard(
  metadata: object | undefined,
  isStatic: boolean,
  name: PropertyKey,
  policy: ResiliencePolicy,
): void {
  if (metadata === undefined) return
  const bag = metadata as { [POLICIES]?: StandardTables }
  if (!Object.hasOwn(bag, POLICIES)) {
    // A subclass's metadata inherits its parent's: chain the tables so parent methods stay listed.
    const parent = bag[POLICIES]
    bag[POLICIES] = {
      instance: Object.create(parent?.instance ?? null),
      static: Object.create(parent?.static ?? null),
    }
  }
  const table = (bag[POLICIES] as StandardTables)[isStatic ? 'static' : 'instance']
  table[name] = [policy, ...(Object.hasOwn(table, name) ? (table[name] ?? []) : [])]
}

/** @internal Records `policy` as the new outermost one on a legacy decorator's target. */
export function recordLegacy(target: object, name: PropertyKey, policy: ResiliencePolicy): void {
  if (reflect.defineMetadata !== undefined && reflect.getOwnMetadata !== undefined) {
    const own = reflect.getOwnMetadata(RESILIENCE_METADATA_KEY, target, name) as
      | readonly ResiliencePolicy[]
      | undefined
    reflect.defineMetadata(RESILIENCE_METADATA_KEY, [policy, ...(own ?? [])], target, name)
    return
  }
  let table = legacyTables.get(target)
  if (table === undefined) {
    table = new Map()
    legacyTables.set(target, table)
  }
  table.set(name, [policy, ...(table.get(name) ?? [])])
}

/**
 * The resilience policies on a method, outermost first (`[]` when none). `target` is an
 * instance, a prototype or a class (a class means its static method of that name if decorated,
 * else its instance method). Read from reflect-metadata where legacy decorators recorded them,
 * else from standard decorator metadata, else from this package's own table.
 * @example getResiliencePolicies(Summaries, 'summarize').map((p) => p.kind) // ['fallback', 'retry', …]
 */
export function getResiliencePolicies(
  target: object,
  methodName: PropertyKey,
): readonly ResiliencePolicy[] {
  if (typeof target !== 'function') return policiesOf(target, methodName, false)
  const statics = policiesOf(target, methodName, true)
  if (statics.length > 0) return statics
  const prototype = (target as { prototype?: unknown }).prototype
  return typeof prototype === 'object' && prototype !== null
    ? policiesOf(prototype, methodName, false)
    : statics
}

function policiesOf(
  target: object,
  name: PropertyKey,
  isStatic: boolean,
): readonly ResiliencePolicy[] {
  const fromReflect = reflect.getMetadata?.(RESILIENCE_METADATA_KEY, target, name)
  if (Array.isArray(fromReflect)) return fromReflect
  const owner = isStatic ? target : (target as { constructor?: unknown }).constructor
  if (typeof owner === 'function') {
    const metadata = (owner as unknown as Record<symbol, { [POLICIES]?: StandardTables } | null>)[
      METADATA
    ]
    const found = metadata?.[POLICIES]?.[isStatic ? 'static' : 'instance'][name]
    if (found !== undefined) return found
  }
  for (let o: object | null = target; o !== null; o = Object.getPrototypeOf(o)) {
    const found = legacyTables.get(o)?.get(name)
    if (found !== undefined) return found
  }
  return []
}
