import { Anthropic, type APIError } from '@anthropic-ai/sdk'
import { afterEach, describe, expect, it } from 'vitest'
import { type FakeAnthropic, startFakeAnthropic } from '../src/testing.js'

const PRIMARY = 'claude-sonnet-5-5'
const FALLBACK = 'claude-haiku-5-5'
const params = {
  model: PRIMARY,
  max_tokens: 256,
  messages: [{ role: 'user' as const, content: 'hello there world' }],
}

let fake: FakeAnthropic | undefined
afterEach(async () => {
  await fake?.close()
  fake = undefined
})

async function start(options: Parameters<typeof startFakeAnthropic>[0] = {}) {
  fake = await startFakeAnthropic(options)
  return { fake, client: new Anthropic({ apiKey: 'test', baseURL: fake.url, maxRetries: 0 }) }
}

async function failure(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise
  } catch (error) {
    return error as APIError
  }
  throw new Error('expected a failure')
}

async function drain(stream: AsyncIterable<Anthropic.RawMessageStreamEvent>): Promise<string[]> {
  const types: string[] = []
  for await (const event of stream) types.push(event.type)
  return types
}

describe('startFakeAnthropic()', () => {
  describe('when no fault is scripted', () => {
    it('answers a deterministic Message echoing the input, with usage and headers', async () => {
      const { fake, client } = await start()
      const { data, response } = await client.messages.create(params).withResponse()
      expect(data).toMatchObject({
        type: 'message',
        role: 'assistant',
        model: PRIMARY,
        stop_reason: 'end_turn',
        content: [{ type: 'text', text: 'Echo: hello there world' }],
        usage: { input_tokens: 5, output_tokens: 6 },
      })
      expect(data.id).toMatch(/^msg_fake_/)
      expect(response.headers.get('request-id')).toMatch(/^req_fake_/)
      expect(response.headers.get('anthropic-ratelimit-requests-remaining')).not.toBeNull()
      expect(response.headers.get('anthropic-ratelimit-tokens-limit')).not.toBeNull()
      expect(fake.requests[0]).toMatchObject({
        path: '/v1/messages',
        model: PRIMARY,
        status: 200,
        outcome: 'ok',
      })
      expect(fake.requests[0]?.headers.authorization).toBe('Bearer test')
    })

    it('streams Anthropic’s SSE event sequence that the SDK assembles into the same Message', async () => {
      const { client } = await start()
      const stream = client.messages.stream(params)
      const types: string[] = []
      stream.on('streamEvent', (event) => types.push(event.type))
      const message = await stream.finalMessage()
      expect(message.content).toEqual([
        { type: 'text', text: 'Echo: hello there world', citations: null },
      ])
      expect(message.stop_reason).toBe('end_turn')
      expect(types[0]).toBe('message_start')
      expect(types.slice(-3)).toEqual(['content_block_stop', 'message_delta', 'message_stop'])
      expect(types.filter((t) => t === 'content_block_delta')).toHaveLength(4)
    })

    it('counts tokens', async () => {
      const { client } = await start()
      const { input_tokens } = await client.messages.countTokens(params)
      expect(input_tokens).toBe(5)
    })

    it('stops at max_tokens with stop_reason max_tokens', async () => {
      const { client } = await start()
      const message = await client.messages.create({ ...params, max_tokens: 2 })
      expect(message.stop_reason).toBe('max_tokens')
      expect(message.content[0]).toMatchObject({ text: 'Echo: he' })
    })

    it('uses a custom reply', async () => {
      const { client } = await start({ reply: (body) => `model ${body.model}` })
      const message = await client.messages.create(params)
      expect(message.content[0]).toMatchObject({ text: `model ${PRIMARY}` })
    })

    it('refuses a wrong api key with 401 when one is configured', async () => {
      const { fake } = await start({ apiKey: 'right' })
      const client = new Anthropic({ apiKey: 'wrong', baseURL: fake.url, maxRetries: 0 })
      const error = await failure(client.messages.create(params))
      expect(error).toBeInstanceOf(Anthropic.AuthenticationError)
      expect(error.type).toBe('authentication_error')
    })
  })

  describe('when a status fault is scripted', () => {
    const cases: Array<[number, string, new (...args: never[]) => Error]> = [
      [400, 'invalid_request_error', Anthropic.BadRequestError],
      [401, 'authentication_error', Anthropic.AuthenticationError],
      [403, 'permission_error', Anthropic.PermissionDeniedError],
      [404, 'not_found_error', Anthropic.NotFoundError],
      [413, 'request_too_large', Anthropic.ContentTooLargeError],
      [429, 'rate_limit_error', Anthropic.RateLimitError],
      [500, 'api_error', Anthropic.InternalServerError],
      [502, 'api_error', Anthropic.InternalServerError],
      [503, 'api_error', Anthropic.ServiceUnavailableError],
      [504, 'timeout_error', Anthropic.GatewayTimeoutError],
      [529, 'overloaded_error', Anthropic.OverloadedError],
    ]
    it.each(cases)('answers %i with error.type %s through the SDK', async (status, type, cls) => {
      const { fake, client } = await start({ faults: [{ status }] })
      const error = await failure(client.messages.create(params))
      expect(error).toBeInstanceOf(cls)
      expect(error.status).toBe(status)
      expect(error.type).toBe(type)
      expect(error.requestID).toMatch(/^req_fake_/)
      // The fault is used up: the next request succeeds.
      await expect(client.messages.create(params)).resolves.toMatchObject({ type: 'message' })
      expect(fake.requests.map((r) => r.status)).toEqual([status, 200])
    })

    it('sends retry-after, retry-after-ms, x-should-retry and the error code', async () => {
      const { client } = await start({
        faults: [
          {
            status: 429,
            retryAfter: 7,
            retryAfterMs: 6500,
            shouldRetry: false,
            errorCode: 'enforced_spend_limit_reached',
          },
        ],
      })
      const error = await failure(client.messages.create(params))
      expect(error.headers?.get('retry-after')).toBe('7')
      expect(error.headers?.get('retry-after-ms')).toBe('6500')
      expect(error.headers?.get('x-should-retry')).toBe('false')
      expect(error.errorCode).toBe('enforced_spend_limit_reached')
      expect(error.constructor.name).toBe('EnforcedSpendLimitReachedError')
    })

    it('applies faults in order, `times` each, and only to the matching model', async () => {
      const { fake, client } = await start({
        faults: [
          { status: 529, times: 2, model: PRIMARY },
          { status: 500, model: FALLBACK },
        ],
      })
      await failure(client.messages.create(params))
      await failure(client.messages.create({ ...params, model: FALLBACK }))
      await failure(client.messages.create(params))
      await client.messages.create(params)
      await client.messages.create({ ...params, model: FALLBACK })
      expect(fake.requests.map((r) => [r.model, r.status])).toEqual([
        [PRIMARY, 529],
        [FALLBACK, 500],
        [PRIMARY, 529],
        [PRIMARY, 200],
        [FALLBACK, 200],
      ])
      expect(fake.count(PRIMARY)).toBe(3)
      expect(fake.count()).toBe(5)
    })

    it('applies probability faults reproducibly for a seed', async () => {
      const run = async (seed: number) => {
        const { fake, client } = await start({ seed, faults: [{ status: 529, probability: 0.5 }] })
        for (let i = 0; i < 20; i++) await client.messages.create(params).catch(() => undefined)
        const statuses = fake.requests.map((r) => r.status)
        await fake.close()
        return statuses
      }
      const first = await run(42)
      const again = await run(42)
      const other = await run(7)
      expect(again).toEqual(first)
      expect(other).not.toEqual(first)
      const failed = first.filter((s) => s === 529).length
      expect(failed).toBeGreaterThan(3)
      expect(failed).toBeLessThan(17)
    })
  })

  describe('when a model has an outage', () => {
    it('fails every request for that model until restored', async () => {
      const { fake, client } = await start()
      fake.outage(PRIMARY)
      for (let i = 0; i < 3; i++)
        expect((await failure(client.messages.create(params))).status).toBe(529)
      await client.messages.create({ ...params, model: FALLBACK })
      fake.restore(PRIMARY)
      await client.messages.create(params)
      expect(fake.requests.map((r) => r.status)).toEqual([529, 529, 529, 200, 200])
    })

    it('answers 404 not_found_error for a retired model', async () => {
      const { fake, client } = await start()
      fake.outage(PRIMARY, { status: 404, message: `model: ${PRIMARY}` })
      const error = await failure(client.messages.create(params))
      expect(error).toBeInstanceOf(Anthropic.NotFoundError)
      expect(error.apiMessage).toBe(`model: ${PRIMARY}`)
    })
  })

  describe('when the connection fails', () => {
    it('drops the connection', async () => {
      const { fake, client } = await start({ faults: [{ drop: true }] })
      const error = await failure(client.messages.create(params))
      expect(error).toBeInstanceOf(Anthropic.APIConnectionError)
      expect(fake.requests[0]?.outcome).toBe('dropped')
    })

    it('delays the answer', async () => {
      const { client } = await start({ faults: [{ delayMs: 300 }] })
      const started = Date.now()
      await client.messages.create(params)
      expect(Date.now() - started).toBeGreaterThanOrEqual(250)
    })

    it('records a client that hangs up while a JSON answer is delayed', async () => {
      const { fake, client } = await start({ faults: [{ delayMs: 2_000 }] })
      const aborted = failure(client.messages.create(params, { signal: AbortSignal.timeout(100) }))
      expect((await aborted).name).toMatch(/Abort|Timeout/)
      await new Promise((resolve) => setTimeout(resolve, 50))
      expect(fake.requests[0]?.outcome).toBe('client-closed')
    })

    it('cuts a JSON body half way', async () => {
      const { client } = await start({ faults: [{ cutAfterEvents: 0, stream: false }] })
      const error = await failure(client.messages.create(params))
      expect(error).toBeInstanceOf(TypeError)
      expect(error.message).toBe('terminated')
    })
  })

  describe('when a stream fault is scripted', () => {
    it('cuts the SSE stream after the given number of events', async () => {
      const { fake, client } = await start({ faults: [{ cutAfterEvents: 3 }] })
      const seen: string[] = []
      const stream = await client.messages.create({ ...params, stream: true })
      const error = await failure(
        (async () => {
          for await (const event of stream) seen.push(event.type)
        })(),
      )
      expect(seen).toEqual(['message_start', 'content_block_start', 'content_block_delta'])
      expect(error.message).toBe('terminated')
      expect(fake.requests[0]?.outcome).toBe('cut')
    })

    it('sends an overloaded_error SSE event, which the SDK raises as an APIError with no status', async () => {
      const { client } = await start({ faults: [{ overloadedAfterEvents: 1 }] })
      const stream = await client.messages.create({ ...params, stream: true })
      const error = await failure(drain(stream))
      expect(error).toBeInstanceOf(Anthropic.APIError)
      expect(error.status).toBeUndefined()
      expect(error.type).toBe('overloaded_error')
    })

    it('applies stream-only faults to streams only', async () => {
      const { client } = await start({ faults: [{ stream: true, overloadedAfterEvents: 0 }] })
      await client.messages.create(params)
      const stream = await client.messages.create({ ...params, stream: true })
      await expect(drain(stream)).rejects.toMatchObject({ type: 'overloaded_error' })
    })
  })

  describe('when a stop reason is forced', () => {
    it.each(['max_tokens', 'refusal', 'model_context_window_exceeded', 'pause_turn'] as const)(
      'answers with stop_reason %s',
      async (stopReason) => {
        const { client } = await start({ faults: [{ stopReason }] })
        const message = await client.messages.create(params)
        expect(message.stop_reason).toBe(stopReason)
        if (stopReason === 'refusal') expect(message.stop_details?.type).toBe('refusal')
      },
    )

    it('streams the forced stop reason in message_delta', async () => {
      const { client } = await start({ faults: [{ stopReason: 'refusal' }] })
      const message = await client.messages.stream(params).finalMessage()
      expect(message.stop_reason).toBe('refusal')
    })
  })

  describe('when a request-rate limit is set', () => {
    it('answers 429 with retry-after above the rate and recovers after it', async () => {
      const { fake, client } = await start({ rateLimit: { requestsPerSecond: 2 } })
      await client.messages.create(params)
      const { response } = await client.messages.create(params).withResponse()
      expect(response.headers.get('anthropic-ratelimit-requests-limit')).toBe('120')
      expect(response.headers.get('anthropic-ratelimit-requests-remaining')).toBe('0')
      const error = await failure(client.messages.create(params))
      expect(error.status).toBe(429)
      expect(error.type).toBe('rate_limit_error')
      expect(error.headers?.get('retry-after')).toBe('1')
      expect(fake.requests[2]?.outcome).toBe('rate-limited')
      await new Promise((resolve) => setTimeout(resolve, 1000))
      await client.messages.create(params)
    })
  })

  describe('when scripted at run time', () => {
    it('appends faults and resets', async () => {
      const { fake, client } = await start()
      fake.script({ status: 503 })
      expect((await failure(client.messages.create(params))).status).toBe(503)
      fake.script({ status: 503 })
      fake.reset()
      expect(fake.requests).toHaveLength(0)
      await client.messages.create(params)
    })
  })
})
