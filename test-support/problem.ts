import type { Response } from 'supertest'
import { expect } from 'vitest'

/** Asserts an RFC 9457 answer that no cache keeps, with `code` when the API sends one. */
export function expectProblem(res: Response, status: number, title: string, code?: string): void {
  expect(res.status).toBe(status)
  expect(res.headers['content-type']).toMatch(/^application\/problem\+json/)
  expect(res.headers['cache-control']).toBe('no-store')
  expect(res.body).toMatchObject({ type: expect.any(String), title, status })
  expect(res.body.detail).toEqual(expect.any(String))
  if (code !== undefined) expect(res.body.code).toBe(code)
}
