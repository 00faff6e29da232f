import { type ResiliencePolicy, recordLegacy, recordStandard } from '../policies.js'

/**
 * A method decorator usable in both TypeScript modes: TC39 standard decorators
 * (`(method, context)`) and legacy `experimentalDecorators` (`(target, key, descriptor)`).
 * `Constraint` is what the class must satisfy (e.g. having the fallback method).
 */
export interface ResilienceDecorator<Constraint = unknown> {
  /** As a TC39 standard decorator: returns the wrapped method. */
  <This extends Constraint, Method extends (this: This, ...args: never[]) => unknown>(
    method: Method,
    context: ClassMethodDecoratorContext<This>,
  ): Method
  /** As a legacy `experimentalDecorators` decorator: rewrites the descriptor's method. */
  <This extends Constraint, Method>(
    target: This,
    propertyKey: string | symbol,
    descriptor: TypedPropertyDescriptor<Method>,
  ): TypedPropertyDescriptor<Method>
}

/** @internal A method as the wrappers see it. */
export type AnyMethod = (this: unknown, ...args: unknown[]) => unknown

interface StandardContext {
  kind: string
  name: PropertyKey
  static: boolean
  metadata?: object
}

/**
 * @internal Builds a decorator that replaces the method with `wrap(method)` and records `policy`,
 * telling the two decorator modes apart by their arguments.
 */
export function methodDecorator<Constraint>(
  decoratorName: string,
  policy: ResiliencePolicy,
  wrap: (method: AnyMethod) => AnyMethod,
): ResilienceDecorator<Constraint> {
  const decorator = (target: unknown, context: unknown, descriptor?: unknown): unknown => {
    if (typeof context === 'object' && context !== null && 'kind' in context) {
      const standard = context as StandardContext
      if (standard.kind !== 'method') {
        throw new TypeError(`@${decoratorName} decorates methods, not a ${standard.kind}`)
      }
      recordStandard(standard.metadata, standard.static, standard.name, policy)
      return inherit(wrap(target as AnyMethod), target as AnyMethod)
    }
    const value = (descriptor as PropertyDescriptor | undefined)?.value
    if (typeof value !== 'function') {
      throw new TypeError(`@${decoratorName} decorates methods, not ${String(context)}`)
    }
    recordLegacy(target as object, context as PropertyKey, policy)
    ;(descriptor as PropertyDescriptor).value = inherit(
      wrap(value as AnyMethod),
      value as AnyMethod,
    )
    return descriptor
  }
  return decorator as ResilienceDecorator<Constraint>
}

interface ReflectMetadata {
  getOwnMetadataKeys?(target: object): unknown[]
  getOwnMetadata?(key: unknown, target: object): unknown
  defineMetadata?(key: unknown, value: unknown, target: object): void
}
const reflect = Reflect as unknown as ReflectMetadata

// Decorators applied before ours (below it) may have stored data ON the function: NestJS's
// SetMetadata (behind @Get, @Roles, guards) calls Reflect.defineMetadata(key, value, method), and
// other libraries set plain properties. The wrapper replaces the function, so it takes all of it
// over, with the name for stack traces; a dropped route or roles entry would fail open.
function inherit(wrapper: AnyMethod, original: AnyMethod): AnyMethod {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true })
  for (const key of Reflect.ownKeys(original)) {
    // The function's own intrinsics (name, length, prototype) stay the wrapper's.
    if (Object.hasOwn(wrapper, key)) continue
    Object.defineProperty(
      wrapper,
      key,
      Object.getOwnPropertyDescriptor(original, key) as PropertyDescriptor,
    )
  }
  // reflect-metadata is an optional peer: without it nobody can have stored metadata.
  const { getOwnMetadataKeys, getOwnMetadata, defineMetadata } = reflect
  if (
    getOwnMetadataKeys !== undefined &&
    getOwnMetadata !== undefined &&
    defineMetadata !== undefined
  ) {
    for (const key of getOwnMetadataKeys.call(Reflect, original)) {
      defineMetadata.call(Reflect, key, getOwnMetadata.call(Reflect, key, original), wrapper)
    }
  }
  return wrapper
}
