import { createHmac, timingSafeEqual } from 'node:crypto'

/** Name of the header that carries `t=<unix seconds>,v1=<hex HMAC-SHA256>`. */
export const signatureHeader = 'webhook-signature'

/** Why a delivery's signature was refused. */
export type SignatureProblem = 'missing' | 'malformed' | 'stale' | 'mismatch'

/** Outcome of {@link verifySignature}. */
export type SignatureCheck =
  | { ok: true; timestamp: number }
  | { ok: false; problem: SignatureProblem }

/** Signs `rawBody` the way senders do: HMAC-SHA256 over `${t}.${rawBody}`. */
export function signPayload(secret: string, rawBody: Buffer | string, timestamp: number): string {
  const mac = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex')
  return `t=${timestamp},v1=${mac}`
}

/**
 * Checks a signature header against the raw body. Several `v1=` values are accepted so that a
 * sender can roll its secret; the comparison is timing-safe, and a timestamp outside
 * `toleranceSec` is refused so that a captured delivery cannot be replayed later.
 */
export function verifySignature(
  header: string | undefined,
  rawBody: Buffer,
  secret: string,
  options: { toleranceSec?: number; nowMs?: number } = {},
): SignatureCheck {
  if (!header) return { ok: false, problem: 'missing' }
  let timestamp = Number.NaN
  const candidates: string[] = []
  for (const part of header.split(',')) {
    const [name, value] = part.trim().split('=', 2)
    if (name === 't' && value && /^\d+$/.test(value)) timestamp = Number(value)
    else if (name === 'v1' && value && /^[0-9a-f]{64}$/i.test(value))
      candidates.push(value.toLowerCase())
  }
  if (!Number.isFinite(timestamp) || candidates.length === 0)
    return { ok: false, problem: 'malformed' }
  const toleranceSec = options.toleranceSec ?? 300
  const nowSec = Math.floor((options.nowMs ?? Date.now()) / 1000)
  if (Math.abs(nowSec - timestamp) > toleranceSec) return { ok: false, problem: 'stale' }
  const expected = Buffer.from(
    createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest('hex'),
  )
  const matches = candidates.some((candidate) => timingSafeEqual(Buffer.from(candidate), expected))
  return matches ? { ok: true, timestamp } : { ok: false, problem: 'mismatch' }
}
