import { randomUUID } from 'node:crypto'
import Anthropic from '@anthropic-ai/sdk'
import { RedisStore } from '@steadfast/idempotency-middleware/redis'
import fc from 'fast-check'
import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApp, type WebhookApp } from '../../examples/webhook-worker/src/app.js'
import { signatureHeader, signPayload } from '../../examples/webhook-worker/src/signature.js'
import { noRedis, redisUrl } from '../../test-support/redis.js'
import { createExpressApp, createKoaApp, type WorkEffects } from './support/apps.js'
import { longRun, uniquePrefix } from './support/processes.js'
import { type RawAnswer, rawRequest } from './support/raw-http.js'
import { type Served, serve } from './support/servers.js'

const RUNS = longRun ? 2_000 : 150

/** Tallies of what the fuzzers saw, for the README. */
const tally = new Map<string, Record<string, number>>()
const note = (suite: string, what: string) => {
  const counts = tally.get(suite) ?? {}
  counts[what] = (counts[what] ?? 0) + 1
  tally.set(suite, counts)
}

/**
 * Node's HTTP parser answers a bare `400 Bad Request` (no body, connection closed) to bytes that
 * HTTP/1.1 forbids in a header value, such as control characters: such requests never reach the app.
 */
const rejectedByParser = (answer: RawAnswer) =>
  answer.status === 400 && answer.headers['content-type'] === undefined && answer.body.length === 0

/** Asserts our promise for one answer: 2xx, or a 4xx problem+json; never a 5xx. */
function expectOnly2xxOr4xxProblem(suite: string, answer: RawAnswer): 'accepted' | 'rejected' {
  expect(
    (answer.status >= 200 && answer.status < 300) || (answer.status >= 400 && answer.status < 500),
    `status ${answer.status}: ${answer.body.toString()}`,
  ).toBe(true)
  if (answer.status < 300) {
    note(suite, String(answer.status))
    return 'accepted'
  }
  if (rejectedByParser(answer)) {
    note(suite, '400 by the HTTP parser')
    return 'rejected'
  }
  expect(answer.headers['content-type']).toMatch(/^application\/problem\+json/)
  const problem = JSON.parse(answer.body.toString()) as Record<string, unknown>
  expect(problem).toMatchObject({
    status: answer.status,
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
  })
  note(suite, `${answer.status} ${String(problem.code ?? problem.title)}`)
  return 'rejected'
}

// Header values: anything but CR and LF, which frame HTTP/1.1 itself and cannot be inside a value.
const headerBytes = (s: string) => Buffer.from(s.replace(/[\r\n]/g, ''), 'utf8')
const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
})

const keyArbitrary: fc.Arbitrary<Buffer> = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }).map(headerBytes),
  fc
    .string({
      unit: fc.constantFrom('"', '\\', ' ', '\t', 'a', '\u007f', '\u0000', '\u001b'),
      maxLength: 20,
    })
    .map(headerBytes),
  printable.filter((s) => s.length > 0).map((s) => headerBytes(`"${s}"`)),
  fc
    .string({ unit: fc.constantFrom('k', 'e', 'y'), minLength: 256, maxLength: 700 })
    .map(headerBytes),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).map(headerBytes),
  fc.uint8Array({ min: 0x80, max: 0xff, minLength: 1, maxLength: 40 }).map((b) => Buffer.from(b)),
  printable.filter((s) => s.trim().length > 0 && s.length <= 255).map(headerBytes),
)

const bodyArbitrary: fc.Arbitrary<{ type: string; body: Buffer }> = fc.oneof(
  fc
    .string({ unit: 'binary', maxLength: 400 })
    .map((s) => ({ type: 'application/json', body: Buffer.from(s) })),
  fc.json({ maxDepth: 6 }).map((s) => ({ type: 'application/json', body: Buffer.from(s) })),
  fc
    .integer({ min: 300 * 1024, max: 700 * 1024 })
    .map((n) => ({ type: 'application/json', body: Buffer.from(`"${'a'.repeat(n)}"`) })),
  fc.tuple(fc.integer({ min: 500, max: 60_000 }), fc.boolean()).map(([depth, array]) => ({
    type: 'application/json',
    body: Buffer.from(
      array
        ? `${'['.repeat(depth)}${']'.repeat(depth)}`
        : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`,
    ),
  })),
  fc
    .tuple(
      fc.uint8Array({ minLength: 1, maxLength: 400 }),
      fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json; charset=latin1',
        'application/json; charset=utf-16',
        'application/json; charset=bogus',
      ),
    )
    .map(([bytes, type]) => ({ type, body: Buffer.from(bytes) })),
  fc
    .tuple(
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/octet-stream',
        'multipart/form-data; boundary=x',
        '',
      ),
    )
    .map(([text, type]) => ({ type, body: Buffer.from(text) })),
)

describe.skipIf(noRedis)('when the guarded apps receive arbitrary input', () => {
  let redis: Redis

  beforeAll(() => {
    redis = new Redis(redisUrl)
  })

  afterAll(async () => {
    console.info('[fuzz] outcomes', JSON.stringify(Object.fromEntries(tally), null, 1))
    await redis.quit()
  })

  for (const framework of ['express', 'koa'] as const) {
    describe(`on ${framework}`, () => {
      const prefix = uniquePrefix(`fuzz-${framework}`)
      let server: Served
      let commits = 0
      const records = async () => (await redis.keys(`${prefix}idem:*`)).length

      beforeAll(async () => {
        const effects: WorkEffects = {
          started: async () => {},
          commit: async () => ++commits,
        }
        const options = {
          store: new RedisStore({ client: redis, prefix: `${prefix}idem:` }),
          effects,
        }
        server = await serve(
          framework === 'express' ? createExpressApp(options) : createKoaApp(options).callback(),
        )
      })

      afterAll(() => server?.close())

      /** Sends one request and checks the answer, the store and the handler's side effect. */
      const check = async (suite: string, request: Parameters<typeof rawRequest>[1]) => {
        const [recordsBefore, commitsBefore] = [await records(), commits]
        const answer = await rawRequest(server.port, request)
        const verdict = expectOnly2xxOr4xxProblem(suite, answer)
        if (verdict === 'rejected') {
          expect(await records(), 'a record was written for a rejected request').toBe(recordsBefore)
          expect(commits, 'the handler ran for a rejected request').toBe(commitsBefore)
        }
      }

      // Found by the body fuzzer; kept as plain repros of the two shapes that broke Express.
      it('answers a JSON body nested 5,000 deep with 2xx or a 4xx problem', async () => {
        await check(`${framework} body`, {
          path: '/work',
          headers: [
            ['Content-Type', 'application/json'],
            ['Idempotency-Key', randomUUID()],
          ],
          body: `${'['.repeat(5_000)}${']'.repeat(5_000)}`,
        })
      })

      it('answers a text/plain body with 2xx or a 4xx problem', async () => {
        await check(`${framework} body`, {
          path: '/work',
          headers: [
            ['Content-Type', 'text/plain'],
            ['Idempotency-Key', randomUUID()],
          ],
          body: 'amount=1',
        })
      })

      it('answers any Idempotency-Key with 2xx or a 4xx problem, and stores nothing for a reject', async () => {
        await fc.assert(
          fc.asyncProperty(keyArbitrary, async (key) => {
            await check(`${framework} key`, {
              path: '/work',
              headers: [
                ['Content-Type', 'application/json'],
                ['Idempotency-Key', key],
              ],
              body: '{"amount":1}',
            })
          }),
          { numRuns: RUNS },
        )
      })

      it('answers any body with 2xx or a 4xx problem, and stores nothing for a reject', async () => {
        await fc.assert(
          fc.asyncProperty(bodyArbitrary, async ({ type, body }) => {
            const headers: [string, string][] = [['Idempotency-Key', randomUUID()]]
            if (type !== '') headers.push(['Content-Type', type])
            await check(`${framework} body`, { path: '/work', headers, body })
          }),
          { numRuns: RUNS },
        )
      })
    })
  }

  describe('on the webhook-worker receiver', () => {
    const secret = 'whsec_fuzz'
    let hook: WebhookApp
    let server: Served
    const jobs = async () => {
      const depth = await hook.queue.depth()
      return depth.waiting + depth.active + depth.completed + depth.failed
    }

    beforeAll(async () => {
      hook = await createApp({
        secret,
        // Never called: the worker is off; the receiver only verifies and queues.
        anthropic: new Anthropic({ apiKey: 'test', baseURL: 'http://127.0.0.1:9' }),
        worker: false,
      })
      server = await serve(hook.app)
    })

    afterAll(async () => {
      await server?.close()
      await hook?.shutdown(1_000)
    })

    it('answers any signature with 202 only when it is valid, else a 4xx problem, and queues nothing', async () => {
      const now = () => Math.floor(Date.now() / 1000)
      const signature = fc.oneof(
        fc
          .string({ unit: 'binary', maxLength: 200 })
          .map((s) => ({ header: headerBytes(s), valid: false })),
        fc
          .tuple(fc.integer(), fc.stringMatching(/^[0-9a-f]{64}$/))
          .map(([t, mac]) => ({ header: headerBytes(`t=${t},v1=${mac}`), valid: false })),
        fc.integer({ min: 301, max: 10_000_000 }).map((age) => ({
          header: headerBytes(signPayload(secret, '{"id":"evt"}', now() - age)),
          valid: false,
        })),
        fc.string({ maxLength: 40 }).map((other) => ({
          header: headerBytes(signPayload(`${secret}${other}x`, '{"id":"evt"}', now())),
          valid: false,
        })),
        fc.constant(null).map(() => ({
          header: headerBytes(signPayload(secret, '{"id":"evt"}', now())),
          valid: true,
        })),
        fc.constant(null).map(() => ({
          header: headerBytes(
            `t=${now()},v1=${'0'.repeat(64)},${signPayload(secret, '{"id":"evt"}', now()).split(',')[1]}`,
          ),
          valid: true,
        })),
      )
      await fc.assert(
        fc.asyncProperty(signature, fc.boolean(), async ({ header, valid }, tamper) => {
          const body = tamper ? '{"id":"evt","amount":100}' : '{"id":"evt"}'
          const before = await jobs()
          const answer = await rawRequest(server.port, {
            path: '/webhooks/fuzz',
            headers: [
              ['Content-Type', 'application/json'],
              [signatureHeader, header],
            ],
            body,
          })
          const verdict = expectOnly2xxOr4xxProblem('webhook signature', answer)
          if (valid && !tamper) expect(answer.status).toBe(202)
          else expect(verdict).toBe('rejected')
          if (verdict === 'rejected') expect(await jobs()).toBe(before)
        }),
        { numRuns: RUNS },
      )
    })
  })
})
