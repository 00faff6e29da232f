import { mulberry32 } from '@steadfast/claude-adapter/testing'
/** One HTTP answer, read to the end. */
export interface Answer {
  status: number
  headers: Headers
  body: string
  /** `Date.now()` when the request was sent and when the answer was read. */
  sentAt: number
  doneAt: number
}

/** Options of {@link postWork}. */
export interface PostOptions {
  key?: string
  delayMs?: number
  body?: unknown
  headers?: Record<string, string>
  timeoutMs?: number
}

/** `POST <base>/work` with an Idempotency-Key over loopback (real fetch, real sockets). */
export async function postWork(base: string, options: PostOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    ...options.headers,
  }
  if (options.key !== undefined) headers['idempotency-key'] = options.key
  const query = options.delayMs ? `?delayMs=${options.delayMs}` : ''
  const sentAt = Date.now()
  const response = await fetch(`${base}/work${query}`, {
    method: 'POST',
    headers,
    body: JSON.stringify(options.body ?? { amount: 1 }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  })
  const body = await response.text()
  return { status: response.status, headers: response.headers, body, sentAt, doneAt: Date.now() }
}

/** True for an RFC 9457 problem+json answer with the fields we promise. */
export function isProblem(answer: { headers: Headers; body: string; status: number }): boolean {
  if (!answer.headers.get('content-type')?.startsWith('application/problem+json')) return false
  try {
    const body = JSON.parse(answer.body) as Record<string, unknown>
    return (
      typeof body.type === 'string' &&
      typeof body.title === 'string' &&
      body.status === answer.status &&
      typeof body.detail === 'string'
    )
  } catch {
    return false
  }
}

/** A small seeded PRNG (mulberry32), so load shapes repeat from run to run. */
export const seeded: (seed: number) => () => number = mulberry32
