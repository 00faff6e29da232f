import request from 'supertest'
import { describe, expect, it } from 'vitest'
import { expectProblem } from '../../../test-support/problem.js'
import type { WebhookApp } from '../src/app.js'
import { asAdmin, deliver, eventually, useHarness } from './support.js'

// No `type`: the worker cannot build a prompt, so the job fails without calling Claude.
const poison = (id: string) => ({ id, data: { note: 'no type' } })

async function deadLetter(made: WebhookApp, id: string): Promise<string> {
  const { body } = await deliver(made.app, poison(id)).expect(202)
  await eventually(async () =>
    (await made.queue.get(body.jobId))?.status === 'failed' ? true : undefined,
  )
  return body.jobId
}

type Route = { name: string; send: (http: WebhookApp['app'], jobId: string) => request.Test }

const routes: Route[] = [
  { name: 'GET /jobs/:id', send: (http, id) => request(http).get(`/jobs/${id}`) },
  { name: 'GET /dlq', send: (http) => request(http).get('/dlq') },
  { name: 'POST /dlq/:id/replay', send: (http, id) => request(http).post(`/dlq/${id}/replay`) },
]

describe('admin routes', () => {
  const harness = useHarness()

  describe.each(routes)('$name', ({ name, send }) => {
    it('answers 401 without a token, 401 with a wrong one, and serves the right one', async () => {
      const made = await harness.app({ attempts: 1 })
      const jobId = await deadLetter(made, `evt_auth_${name}`)

      const missing = await send(made.app, jobId)
      expectProblem(missing, 401, 'Unauthorized', 'ADMIN_TOKEN_REQUIRED')
      expect(missing.headers['www-authenticate']).toMatch(/^Bearer realm="/)

      const wrong = await send(made.app, jobId).set('authorization', 'Bearer adm_wrong')
      expectProblem(wrong, 401, 'Unauthorized', 'ADMIN_TOKEN_INVALID')
      expect(wrong.headers['www-authenticate']).toMatch(/^Bearer .*error="invalid_token"/)

      // Another scheme carries no bearer token at all.
      const basic = await send(made.app, jobId).set('authorization', 'Basic YWRtaW46YWRtaW4=')
      expectProblem(basic, 401, 'Unauthorized', 'ADMIN_TOKEN_REQUIRED')

      const right = await send(made.app, jobId).set(asAdmin)
      expect(right.status).toBeLessThan(300)
      // Nothing was replayed before the right token: the job was still dead-lettered.
      expect(JSON.stringify(right.body)).toContain(jobId)
    })

    it('answers 404 problem+json when no admin token is configured', async () => {
      const made = await harness.app({ attempts: 1, adminToken: undefined })
      const jobId = await deadLetter(made, `evt_off_${name}`)
      const res = await send(made.app, jobId).set(asAdmin)
      expectProblem(res, 404, 'Not Found', 'ADMIN_DISABLED')
      expect((await made.queue.get(jobId))?.status).toBe('failed')
    })
  })

  it('keeps health, readiness and metrics open while guarding the admin routes', async () => {
    const { app: http } = await harness.app({ worker: false })
    await request(http).get('/dlq').expect(401)
    await request(http).get('/healthz').expect(200)
    await request(http).get('/readyz').expect(200)
    await request(http).get('/metrics').expect(200)
  })

  it('accepts the Bearer scheme in any case', async () => {
    const { app: http } = await harness.app({ worker: false })
    await request(http).get('/dlq').expect(401)
    await request(http).get('/dlq').set('authorization', 'bearer adm_test_token').expect(200)
  })
})
