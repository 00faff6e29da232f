import { type ChildProcessByStdio, spawn } from 'node:child_process'
import type { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { Anthropic } from '@anthropic-ai/sdk'
import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import request from 'supertest'
import { afterAll, afterEach, beforeAll } from 'vitest'
import { type AppConfig, createApp, type WebhookApp } from '../src/app.js'
import { signatureHeader, signPayload } from '../src/signature.js'

export const secret = 'whsec_test'
/** The admin token {@link makeApp} configures. */
export const adminToken = 'adm_test_token'
/** Headers of an admin request. */
export const asAdmin = { authorization: `Bearer ${adminToken}` }

/** An app wired to the fake Claude server with fast queue retries. */
export function makeApp(fake: FakeAnthropic, config: Partial<AppConfig> = {}): Promise<WebhookApp> {
  return createApp({
    secret,
    anthropic: new Anthropic({ apiKey: 'test', baseURL: fake.url }),
    attempts: 3,
    backoffMs: 20,
    concurrency: 4,
    claudeTimeoutMs: 5_000,
    adminToken,
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

/**
 * Registers the hooks a suite needs: one fake Claude server for the suite, reset after each test,
 * and every app made through `app()` shut down after its test.
 */
export function useHarness() {
  let fake: FakeAnthropic | undefined
  const apps: WebhookApp[] = []
  beforeAll(async () => {
    fake = await startFakeAnthropic()
  })
  afterAll(() => fake?.close())
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((app) => app.shutdown(2_000)))
    fake?.reset()
  })
  return {
    get fake(): FakeAnthropic {
      if (!fake) throw new Error('the fake server starts in beforeAll')
      return fake
    },
    async app(config: Partial<AppConfig> = {}): Promise<WebhookApp> {
      const made = await makeApp(this.fake, config)
      apps.push(made)
      return made
    },
  }
}

/** A script of `src/` run as `npm start` runs it (tsx, source condition), its output gathered. */
export function runSource(
  script: string,
  args: string[],
  env: Record<string, string>,
): { child: ChildProcessByStdio<null, Readable, Readable>; output: () => string } {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@steadfast/source',
      fileURLToPath(new URL(`../src/${script}`, import.meta.url)),
      ...args,
    ],
    { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let output = ''
  child.stdout.on('data', (d) => (output += d))
  child.stderr.on('data', (d) => (output += d))
  return { child, output: () => output }
}
