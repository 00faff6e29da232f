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
      return named(wrap(target as AnyMethod), target as AnyMethod)
    }
    const value = (descriptor as PropertyDescriptor | undefined)?.value
    if (typeof value !== 'function') {
      throw new TypeError(`@${decoratorName} decorates methods, not ${String(context)}`)
    }
    recordLegacy(target as object, context as PropertyKey, policy)
    ;(descriptor as PropertyDescriptor).value = named(wrap(value as AnyMethod), value as AnyMethod)
    return descriptor
  }
  return decorator as ResilienceDecorator<Constraint>
}

// Keeps the method's name on the wrapper for stack traces and tooling.
function named(wrapper: AnyMethod, original: AnyMethod): AnyMethod {
  Object.defineProperty(wrapper, 'name', { value: original.name, configurable: true })
  return wrapper
}
