import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import type { WebhookApp } from '../src/app.js'
import { asAdmin, deliver, eventually, useHarness } from './support.js'

const poison = (id: string) => ({ id, data: { note: 'no type' } })

async function deadLetterMany(made: WebhookApp, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await deliver(made.app, poison(`evt_page_${i}`)).expect(202)
  await eventually(async () => ((await made.queue.depth()).failed === count ? true : undefined))
}

describe('GET /dlq', () => {
  const harness = useHarness()

  describe('when the dead letters fill more than one page', () => {
    it('pages with ?limit= and links the next page until the last', async () => {
      const made = await harness.app({ attempts: 1 })
      await deadLetterMany(made, 5)
      const seen: string[] = []
      const first = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
      expect(first.body.jobs).toHaveLength(2)
      expect(first.body.next).toBe('/dlq?start=2&limit=2')
      expect(first.headers.link).toBe('</dlq?start=2&limit=2>; rel="next"')
      seen.push(...first.body.jobs.map((j: { id: string }) => j.id))

      const second = await request(made.app).get(first.body.next).set(asAdmin).expect(200)
      expect(second.body.jobs).toHaveLength(2)
      seen.push(...second.body.jobs.map((j: { id: string }) => j.id))

      const last = await request(made.app).get(second.body.next).set(asAdmin).expect(200)
      expect(last.body.jobs).toHaveLength(1)
      expect(last.body.next).toBeUndefined()
      expect(last.headers.link).toBeUndefined()
      seen.push(...last.body.jobs.map((j: { id: string }) => j.id))
      expect(new Set(seen).size).toBe(5)
    })

    it('shows a full page with no next link when the jobs fit exactly', async () => {
      const made = await harness.app({ attempts: 1 })
      await deadLetterMany(made, 2)
      const page = await request(made.app).get('/dlq?limit=2').set(asAdmin).expect(200)
      expect(page.body.jobs).toHaveLength(2)
      expect(page.body.next).toBeUndefined()
      const past = await request(made.app).get('/dlq?start=2').set(asAdmin).expect(200)
      expect(past.body).toEqual({ jobs: [] })
    })
  })

  describe('when the query is invalid', () => {
    it.each([
      'limit=0',
      'limit=101',
      'limit=abc',
      'limit=1.5',
      'limit=1e1',
      'limit=',
      'start=-1',
      'start=%205',
      'start=99999999999999999',
      'limit=1&limit=2',
    ])('answers ?%s with a 400 problem', async (query) => {
      const { app: http } = await harness.app({ worker: false })
      const res = await request(http).get(`/dlq?${query}`).set(asAdmin)
      expectProblem(res, 400, 'Invalid query', 'DLQ_QUERY_INVALID')
      expect(res.body.detail).toMatch(/`(limit|start)`/)
    })
  })
})
