import { createHash } from 'node:crypto'

/** JSON with object keys sorted and `undefined` fields dropped, so equal params give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value))
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys)
  if (value === null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value).sort()) {
    const field = (value as Record<string, unknown>)[key]
    if (field !== undefined) out[key] = sortKeys(field)
  }
  return out
}

/**
 * SHA-256 of the canonical request params (model, system, messages, tools, temperature,
 * max_tokens, metadata…), ignoring `stream`: the cache key and the idempotency fingerprint.
 */
export function paramsHash(params: object): string {
  const { stream: _stream, ...rest } = params as { stream?: unknown }
  return createHash('sha256').update(canonicalJson(rest)).digest('hex')
}
