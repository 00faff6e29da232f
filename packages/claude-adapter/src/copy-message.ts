import type { Anthropic } from '@anthropic-ai/sdk'

/**
 * A deep copy of `message` that one caller may edit freely, as it may edit what the SDK returns.
 * `structuredClone` keeps only enumerable string keys, so the SDK's non-enumerable `_request_id`
 * and `_workspace_id` and the degraded marker (a symbol) are carried over as they were defined.
 */
export function copyMessage<M extends Anthropic.Message>(message: M): M {
  const copy = structuredClone(message)
  for (const key of Reflect.ownKeys(message)) {
    const descriptor = Object.getOwnPropertyDescriptor(message, key)
    if (descriptor === undefined) continue
    if (typeof key === 'symbol' || !descriptor.enumerable)
      Object.defineProperty(copy, key, descriptor)
  }
  return copy
}
