import { processWide } from './process-wide.js'
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

// Our key inside a class's standard decorator metadata object; a registered symbol, so every copy
// of the package (ESM and CJS builds) reads what another recorded.
const POLICIES = Symbol.for('@steadfast/retry-decorators/policies@0.1')
type PolicyTable = Record<PropertyKey, readonly ResiliencePolicy[]>
type StandardTables = { instance: PolicyTable; static: PolicyTable }

// Legacy decorators without reflect-metadata: prototype (or constructor) -> name -> policies.
const legacyTables = processWide(
  'legacy-policy-tables',
  () => new WeakMap<object, Map<PropertyKey, readonly ResiliencePolicy[]>>(),
)

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
  // Policies belong to the method actually found through `target`: an undecorated override in a
  // subclass hides its parent's decorated method, so the search stops at the first owner.
  let owner: object | null = target
  while (owner !== null && !Object.hasOwn(owner, name)) owner = Object.getPrototypeOf(owner)
  if (owner === null) return []
  const fromReflect = reflect.getOwnMetadata?.(RESILIENCE_METADATA_KEY, owner, name)
  if (Array.isArray(fromReflect)) return fromReflect
  const cls = isStatic ? owner : Object.hasOwn(owner, 'constructor') ? owner.constructor : undefined
  // A class without decorators of its own only inherits its parent's metadata object.
  if (typeof cls === 'function' && Object.hasOwn(cls, METADATA)) {
    const metadata = (cls as unknown as Record<symbol, { [POLICIES]?: StandardTables } | null>)[
      METADATA
    ]
    if (metadata !== null && metadata !== undefined && Object.hasOwn(metadata, POLICIES)) {
      const table = (metadata[POLICIES] as StandardTables)[isStatic ? 'static' : 'instance']
      if (Object.hasOwn(table, name)) return table[name] as readonly ResiliencePolicy[]
    }
  }
  return legacyTables.get(owner)?.get(name) ?? []
}
