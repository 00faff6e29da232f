/**
 * @internal The one `thing` of this package per process, made by `create` on first use and kept
 * on globalThis, so the ESM and the CJS build loaded together (the dual package hazard) share
 * it. The key names the compatible release line (^0.1): an incompatible copy keeps its own.
 */
export function processWide<T>(thing: string, create: () => T): T {
  const key = Symbol.for(`@steadfast/retry-decorators/${thing}@0.1`)
  if (!Object.hasOwn(globalThis, key)) {
    Object.defineProperty(globalThis, key, { value: create(), configurable: true })
  }
  return (globalThis as unknown as Record<symbol, T>)[key] as T
}
