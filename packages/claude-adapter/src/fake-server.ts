import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { type FakeFault, FaultSchedule } from './fake-faults.js'
import { baseHeaders, RequestBucket } from './fake-rate-limit.js'
import {
  buildMessage,
  errorBody,
  errorTypeFor,
  estimateTokens,
  type FakeRequestBody,
  inputText,
  lastUserText,
  sseFrame,
  streamEvents,
} from './fake-responses.js'

type Headers = Record<string, string>

/** Options of {@link startFakeAnthropic}. */
export interface FakeAnthropicOptions {
  /** Scripted faults, matched in order (see {@link FakeFault}). @default [] */
  faults?: readonly FakeFault[] | undefined
  /** Seed of the PRNG behind `probability` faults. @default 1 */
  seed?: number | undefined
  /** Added before every answer to `/v1/messages`. @default 0 */
  latencyMs?: number | undefined
  /** Pause between SSE events of a streamed answer. @default 0 */
  eventDelayMs?: number | undefined
  /** A request-rate limit (token bucket): above it, 429 `rate_limit_error` with `retry-after`. @default none */
  rateLimit?: { requestsPerSecond: number; burst?: number } | undefined
  /** The reply text for a request. @default `Echo: <last user text>` */
  reply?: ((body: FakeRequestBody) => string) | undefined
  /** When set, requests whose key (`x-api-key` or `Authorization: Bearer`) differs get 401. @default any key */
  apiKey?: string | undefined
  /** Port on 127.0.0.1. @default 0 (a free port) */
  port?: number | undefined
}

/** One request the fake received, as recorded for assertions. */
export interface FakeRequest {
  /** `Date.now()` when the request arrived. */
  at: number
  /** HTTP method, e.g. `'POST'`. */
  method: string
  /** Request path without the query, e.g. `'/v1/messages'`. */
  path: string
  /** Request headers, names lower-cased (`x-api-key`, `x-stainless-retry-count`…). */
  headers: Record<string, string>
  /** The parsed JSON body; undefined when it was not JSON. */
  body: FakeRequestBody | undefined
  /** `body.model`, when there is one. */
  model: string | undefined
  /** True for a `stream: true` request. */
  stream: boolean
  /** Status sent (200 for streams, even if cut later); 0 for a dropped connection. */
  status: number
  /** What happened; `'client-closed'` when the client hung up before the answer was complete. */
  outcome: 'ok' | 'error' | 'rate-limited' | 'dropped' | 'cut' | 'stream-error' | 'client-closed'
}

/** A running fake Anthropic Messages API. */
export interface FakeAnthropic {
  /** Base URL for `new Anthropic({ baseURL })`, e.g. `http://127.0.0.1:53111`. */
  readonly url: string
  /** Every request received, in arrival order. */
  readonly requests: FakeRequest[]
  /** Appends faults to the script at run time. */
  script(...faults: FakeFault[]): void
  /** Makes every request for `model` fail with `fault` (default 529 `overloaded_error`) until {@link restore}. */
  outage(model: string, fault?: Omit<FakeFault, 'model' | 'times' | 'probability'>): void
  /** Ends the outage of `model`. */
  restore(model: string): void
  /** Drops scripted faults, outages and recorded requests. */
  reset(): void
  /** Requests to `/v1/messages` received, for one model or all. */
  count(model?: string): number
  /** Stops the server and cuts open connections. */
  close(): Promise<void>
}

/**
 * Starts a fake Anthropic Messages API on 127.0.0.1 with scripted faults, for tests through the real SDK.
 * @example
 * const fake = await startFakeAnthropic({ faults: [{ status: 529, times: 2 }] })
 * const client = new Anthropic({ apiKey: 'test', baseURL: fake.url })
 */
export async function startFakeAnthropic(
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const schedule = new FaultSchedule(options.faults ?? [], options.seed ?? 1)
  const outages = new Map<string, FakeFault>()
  const requests: FakeRequest[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  const bucket = options.rateLimit && new RequestBucket(options.rateLimit)
  let counter = 0
  let closed = false

  const sleep = (ms: number): Promise<void> =>
    ms <= 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          const timer = setTimeout(() => {
            timers.delete(timer)
            resolve()
          }, ms)
          timers.add(timer)
        })

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const raw = await readBody(req)
    const path = (req.url ?? '/').split('?')[0] ?? '/'
    let body: FakeRequestBody | undefined
    try {
      body = raw === '' ? undefined : (JSON.parse(raw) as FakeRequestBody)
    } catch {
      body = undefined
    }
    const record: FakeRequest = {
      at: Date.now(),
      method: req.method ?? 'GET',
      path,
      headers: flattenHeaders(req),
      body,
      model: typeof body?.model === 'string' ? body.model : undefined,
      stream: body?.stream === true,
      status: 0,
      outcome: 'ok',
    }
    counter += 1
    const id = String(counter).padStart(6, '0')
    const limited =
      path === '/v1/messages' && body !== undefined && bucket !== undefined && !bucket.take()
    const headers = baseHeaders(id, bucket, body)

    const sendError = (status: number, type: string, message?: string, extra?: Headers): void => {
      record.status = status
      record.outcome = record.outcome === 'ok' ? 'error' : record.outcome
      const out = { ...headers, 'content-type': 'application/json', ...extra }
      res.writeHead(status, out).end(JSON.stringify(errorBody(type, message)))
    }

    if (
      req.method !== 'POST' ||
      (path !== '/v1/messages' && path !== '/v1/messages/count_tokens')
    ) {
      requests.push(record)
      return sendError(404, 'not_found_error', `Not found: ${req.method} ${path}`)
    }
    requests.push(record)
    if (options.apiKey !== undefined && presentedKey(req) !== options.apiKey) {
      return sendError(401, 'authentication_error', 'invalid x-api-key')
    }
    if (body === undefined || typeof body.model !== 'string') {
      return sendError(400, 'invalid_request_error', 'model: Field required')
    }
    if (path === '/v1/messages/count_tokens') {
      record.status = 200
      res
        .writeHead(200, { ...headers, 'content-type': 'application/json' })
        .end(JSON.stringify({ input_tokens: estimateTokens(inputText(body)) }))
      return
    }

    if (limited && bucket) {
      record.outcome = 'rate-limited'
      return sendError(429, 'rate_limit_error', undefined, {
        'retry-after': String(bucket.retryAfterSeconds()),
      })
    }

    // Registered before any delay, so a client that gives up while the fake is "thinking"
    // (a timeout, an abort) is recorded as such, for JSON and streamed answers alike.
    res.on('close', () => {
      if (!res.writableFinished && record.outcome === 'ok') record.outcome = 'client-closed'
    })
    const fault = outages.get(body.model) ?? schedule.next(body.model, record.stream)
    await sleep((options.latencyMs ?? 0) + (fault?.delayMs ?? 0))
    if (closed || record.outcome === 'client-closed') return

    if (fault?.drop) {
      record.outcome = 'dropped'
      req.socket.destroy()
      return
    }
    if (fault?.status !== undefined) {
      const extra: Headers = {}
      if (fault.retryAfter !== undefined) extra['retry-after'] = String(fault.retryAfter)
      if (fault.retryAfterMs !== undefined) extra['retry-after-ms'] = String(fault.retryAfterMs)
      if (fault.shouldRetry !== undefined) extra['x-should-retry'] = String(fault.shouldRetry)
      record.status = fault.status
      record.outcome = 'error'
      res
        .writeHead(fault.status, { ...headers, 'content-type': 'application/json', ...extra })
        .end(
          JSON.stringify(
            errorBody(
              fault.errorType ?? errorTypeFor(fault.status),
              fault.message,
              fault.errorCode,
            ),
          ),
        )
      return
    }

    const replyText = options.reply ? options.reply(body) : `Echo: ${lastUserText(body)}`
    const message = buildMessage(`msg_fake_${id}`, body, replyText, fault?.stopReason)
    record.status = 200

    if (!record.stream) {
      const json = JSON.stringify(message)
      res.writeHead(200, { ...headers, 'content-type': 'application/json' })
      if (fault?.cutAfterEvents !== undefined) {
        record.outcome = 'cut'
        // The content-length is not declared, so the client only notices the cut when the socket dies.
        res.write(json.slice(0, Math.floor(json.length / 2)))
        await sleep(5)
        req.socket.destroy()
        return
      }
      res.end(json)
      return
    }

    res.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    })
    const events = streamEvents(message)
    for (const [index, event] of events.entries()) {
      if (fault?.cutAfterEvents === index) {
        record.outcome = 'cut'
        // Let the written events reach the client before the socket dies, like a mid-stream network cut.
        await sleep(5)
        req.socket.destroy()
        return
      }
      if (fault?.overloadedAfterEvents === index) {
        record.outcome = 'stream-error'
        res.end(sseFrame('error', errorBody('overloaded_error')))
        return
      }
      if (index > 0) await sleep(options.eventDelayMs ?? 0)
      if (closed || res.destroyed) return
      res.write(sseFrame(event.type, event))
    }
    res.end()
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify(errorBody('api_error', String(error))))
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve())
  })
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (...faults) => schedule.add(faults),
    outage: (model, fault = { status: 529 }) => {
      outages.set(model, { ...fault, model })
    },
    restore: (model) => {
      outages.delete(model)
    },
    reset: () => {
      schedule.clear()
      outages.clear()
      requests.length = 0
    },
    count: (model) =>
      requests.filter(
        (r) => r.path === '/v1/messages' && (model === undefined || r.model === model),
      ).length,
    close: async () => {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

function presentedKey(req: IncomingMessage): string | undefined {
  const header = req.headers['x-api-key']
  if (typeof header === 'string') return header
  return req.headers.authorization?.replace(/^Bearer /, '')
}

function flattenHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value
  }
  return out
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of req) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
