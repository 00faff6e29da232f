import { mulberry32 } from '@steadfast/claude-adapter/testing'
import { signatureHeader, signPayload } from './signature.js'

/** One webhook delivery the demo (or a test) sends. */
export interface Delivery {
  /** Event id; duplicates share it. */
  eventId: string
  body: string
  headers: Record<string, string>
  kind: 'unique' | 'duplicate' | 'bad-signature' | 'poison'
}

/** Mix of deliveries to generate. */
export interface DeliveryMix {
  count: number
  /** Share of deliveries that repeat an earlier event. @default 0.3 */
  duplicateRate?: number
  /** Share signed with the wrong secret. @default 0.05 */
  badSignatureRate?: number
  /** Share of unique events the worker cannot process (they end in the DLQ). @default 0.02 */
  poisonRate?: number
  seed?: number
  /** Prefix of event ids, so that runs against a persistent Redis do not collide. @default 'evt' */
  idPrefix?: string
}

const eventTypes = ['invoice.paid', 'ticket.created', 'deploy.failed', 'review.submitted']

/**
 * A deterministic stream of signed deliveries: unique events, redeliveries of earlier events
 * (same id, as senders retry), deliveries with a forged signature, and a few poison events.
 */
export function generateDeliveries(secret: string, mix: DeliveryMix): Delivery[] {
  const rand = mulberry32(mix.seed ?? 7)
  const duplicateRate = mix.duplicateRate ?? 0.3
  const badSignatureRate = mix.badSignatureRate ?? 0.05
  const poisonRate = mix.poisonRate ?? 0.02
  const sent: Delivery[] = []
  const out: Delivery[] = []
  for (let i = 0; i < mix.count; i++) {
    const roll = rand()
    const earlier = sent[Math.floor(rand() * sent.length)]
    if (roll < duplicateRate && earlier) {
      // A redelivery is re-signed with a fresh timestamp, as senders do.
      const t = Math.floor(Date.now() / 1000)
      out.push({
        ...earlier,
        kind: 'duplicate',
        headers: { ...earlier.headers, [signatureHeader]: signPayload(secret, earlier.body, t) },
      })
      continue
    }
    const eventId = `${mix.idPrefix ?? 'evt'}_${i.toString().padStart(5, '0')}`
    const poison = rand() < poisonRate
    const event = poison
      ? { id: eventId, data: { note: 'no type: the worker cannot build a prompt' } }
      : {
          id: eventId,
          type: eventTypes[i % eventTypes.length],
          data: { amount: Math.round(rand() * 10_000) / 100, customer: `cus_${i % 37}` },
        }
    const body = JSON.stringify(event)
    const t = Math.floor(Date.now() / 1000)
    if (roll < duplicateRate + badSignatureRate) {
      out.push({
        eventId,
        body,
        headers: {
          'content-type': 'application/json',
          [signatureHeader]: signPayload('forged', body, t),
        },
        kind: 'bad-signature',
      })
      continue
    }
    const delivery: Delivery = {
      eventId,
      body,
      headers: {
        'content-type': 'application/json',
        [signatureHeader]: signPayload(secret, body, t),
      },
      kind: poison ? 'poison' : 'unique',
    }
    sent.push(delivery)
    out.push(delivery)
  }
  return out
}
