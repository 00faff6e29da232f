import { randomBytes } from 'node:crypto'
import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import { noRedis, redisUrl } from '../../../test-support/redis.js'
import type { AppConfig, WebhookApp } from '../src/app.js'
import { asAdmin, deliver, eventually, useHarness } from './support.js'

const unique = () => randomBytes(6).toString('hex')
const poison = (id: string) => ({ id, data: { note: 'no type' } })
const event = (id: string) => ({ id, type: 'deploy.failed', data: { service: 'api' } })
const ids = (res: { body: { jobs: { id: string }[] } }) => res.body.jobs.map((job) => job.id)

async function deadLetters(made: WebhookApp, count: number): Promise<void> {
  await eventually(async () => ((await made.queue.depth()).failed === count ? true : undefined))
}

async function deadLetterMany(made: WebhookApp, count: number): Promise<void> {
  const run = unique()
  for (let i = 0; i < count; i++) await deliver(made.app, poison(`evt_${run}_${i}`)).expect(202)
  await deadLetters(made, count)
}

/** Every job id of the pages after `res`, following `next` to the last page. */
async function restOfPages(made: WebhookApp, res: request.Response): Promise<string[]> {
  const seen: string[] = []
  for (let page = res; page.body.next; ) {
    page = await request(made.app).get(page.body.next).set(asAdmin).expect(200)
    seen.push(...ids(page))
  }
  return seen
}

const backends: { name: string; skip: boolean; config: () => Partial<AppConfig> }[] = [
  { name: 'the memory queue', skip: false, config: () => ({}) },
  {
    name: 'BullMQ',
    skip: noRedis,
    config: () => ({ redisUrl, queueName: `dlq-${unique()}` }),
  },
]

for (const backend of backends) {
  describe.skipIf(backend.skip)(`GET /dlq on ${backend.name}`, () => {
    const harness = useHarness()
    const app = (config: Partial<AppConfig>) => harness.app({ ...backend.config(), ...config })

    describe('when the dead letters fill more than one page', () => {
      it('pages with ?limit= and links the next page by cursor until the last', async () => {
        const made = await app({ attempts: 1 })
        await deadLetterMany(made, 5)
        const first = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
        expect(first.body.jobs).toHaveLength(2)
        expect(first.body.next).toMatch(/^\/dlq\?limit=2&cursor=[\w-]+$/)
        expect(first.headers.link).toBe(`<${first.body.next}>; rel="next"`)

        const second = await request(made.app).get(first.body.next).set(asAdmin).expect(200)
        expect(second.body.jobs).toHaveLength(2)
        const last = await request(made.app).get(second.body.next).set(asAdmin).expect(200)
        expect(last.body.jobs).toHaveLength(1)
        expect(last.body.next).toBeUndefined()
        expect(last.headers.link).toBeUndefined()

        const jobs = [...first.body.jobs, ...second.body.jobs, ...last.body.jobs]
        expect(new Set(jobs.map((job: { id: string }) => job.id)).size).toBe(5)
        const failedAt = jobs.map((job: { failedAt: number }) => job.failedAt)
        expect(failedAt).toEqual([...failedAt].sort((a, b) => b - a))
      })

      it('shows a full page with no next link when the jobs fit exactly', async () => {
        const made = await app({ attempts: 1 })
        await deadLetterMany(made, 2)
        const page = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
        expect(page.body.jobs).toHaveLength(2)
        expect(page.body.next).toBeUndefined()
      })

      it('skips no job when one of page 1 is replayed before page 2', async () => {
        // 400 is permanent: one Claude call per job, so exactly these five fail; the replay then
        // succeeds and the job leaves the DLQ for good.
        harness.fake.script({ status: 400, times: 5 })
        const made = await app({ attempts: 1 })
        const run = unique()
        for (let i = 0; i < 5; i++) await deliver(made.app, event(`evt_${run}_${i}`)).expect(202)
        await deadLetters(made, 5)
        const all = ids(await request(made.app).get('/dlq').set(asAdmin).expect(200))

        const first = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
        const replayed = ids(first)[0] as string
        await request(made.app).post(`/dlq/${replayed}/replay`).set(asAdmin).expect(202)
        await eventually(async () =>
          (await made.queue.get(replayed))?.status === 'completed' ? true : undefined,
        )

        const seen = [...ids(first), ...(await restOfPages(made, first))]
        expect(seen).toEqual(all)
      })

      it('repeats no job when one is dead-lettered between page 1 and page 2', async () => {
        const made = await app({ attempts: 1 })
        await deadLetterMany(made, 5)
        const all = ids(await request(made.app).get('/dlq').set(asAdmin).expect(200))

        const first = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
        await deliver(made.app, poison(`evt_late_${unique()}`)).expect(202)
        await deadLetters(made, 6)

        const seen = [...ids(first), ...(await restOfPages(made, first))]
        expect(seen).toEqual(all)
      })
    })
  })
}

describe('GET /dlq', () => {
  const harness = useHarness()
  const cursorOf = (text: string) => Buffer.from(text).toString('base64url')

  describe('when the query is invalid', () => {
    it.each([
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=1.5',
      'limit=1e1',
      'limit=',
      'limit=1&limit=2',
    ])('answers ?%s with a 400 problem', async (query) => {
      const { app: http } = await harness.app({ worker: false })
      const res = await request(http).get(`/dlq?${query}`).set(asAdmin)
      expectProblem(res, 400, 'Invalid query', 'DLQ_QUERY_INVALID')
      expect(res.body.detail).toMatch(/`limit`/)
    })

    // Ignoring it would serve page 1 for ever to a client that pages by offset.
    it('answers the offset `start` of the old links with a 400 problem', async () => {
      const { app: http } = await harness.app({ worker: false })
      const res = await request(http).get('/dlq?start=2&limit=2').set(asAdmin)
      expectProblem(res, 400, 'Invalid query', 'DLQ_QUERY_INVALID')
      expect(res.body.detail).toMatch(/`start`/)
    })
  })

  describe('when the cursor is not one the server sent', () => {
    it.each([
      ['not base64url', 'not*a*cursor'],
      ['not JSON', cursorOf('{{')],
      ['another shape', cursorOf('{"failedAt":1,"id":"job_a"}')],
      ['another version', cursorOf('[2,1,"job_a"]')],
      ['a negative time', cursorOf('[1,-1,"job_a"]')],
      ['an empty id', cursorOf('[1,1,""]')],
      ['a non-canonical encoding', cursorOf('[1, 1, "job_a"]')],
      ['an overlong one', cursorOf(`[1,1,"${'a'.repeat(600)}"]`)],
    ])('answers %s with a 400 problem', async (_what, cursor) => {
      const { app: http } = await harness.app({ worker: false })
      const res = await request(http).get(`/dlq?cursor=${cursor}`).set(asAdmin)
      expectProblem(res, 400, 'Invalid cursor', 'DLQ_CURSOR_INVALID')
    })

    it('answers a repeated cursor with a 400 problem', async () => {
      const { app: http } = await harness.app({ worker: false })
      const cursor = cursorOf('[1,1,"job_a"]')
      const res = await request(http).get(`/dlq?cursor=${cursor}&cursor=${cursor}`).set(asAdmin)
      expectProblem(res, 400, 'Invalid cursor', 'DLQ_CURSOR_INVALID')
    })
  })
})
