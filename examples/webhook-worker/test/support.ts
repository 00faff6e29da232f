import { Anthropic } from '@anthropic-ai/sdk'
import type { FakeAnthropic } from '@steadfast/claude-adapter/testing'
import request from 'supertest'
import { type AppConfig, createApp, type WebhookApp } from '../src/app.js'
import { signatureHeader, signPayload } from '../src/signature.js'

export const secret = 'whsec_test'

/** An app wired to the fake Claude server with fast queue retries. */
export function makeApp(fake: FakeAnthropic, config: Partial<AppConfig> = {}): Promise<WebhookApp> {
  return createApp({
    secret,
    anthropic: new Anthropic({ apiKey: 'test', baseURL: fake.url }),
    attempts: 3,
    backoffMs: 20,
    concurrency: 4,
    claudeTimeoutMs: 5_000,
    ...config,
  })
}

/** Posts a signed delivery. */
export function deliver(
  app: WebhookApp['app'],
  event: unknown,
  options: {
    secret?: string
    timestamp?: number
    headers?: Record<string, string>
    source?: string
  } = {},
) {
  const body = typeof event === 'string' ? event : JSON.stringify(event)
  const t = options.timestamp ?? Math.floor(Date.now() / 1000)
  return request(app)
    .post(`/webhooks/${options.source ?? 'github'}`)
    .set('content-type', 'application/json')
    .set(signatureHeader, signPayload(options.secret ?? secret, body, t))
    .set(options.headers ?? {})
    .send(body)
}

/** Polls until `check` returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(
  check: () => Promise<T | undefined>,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('condition not met in time')
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
}
