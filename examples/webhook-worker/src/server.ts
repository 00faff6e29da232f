import { randomBytes } from 'node:crypto'
import { Anthropic } from '@anthropic-ai/sdk'
import { startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import { createApp } from './app.js'
import { serve } from './serve.js'
import { readServerEnv } from './server-env.js'
import { SettingError } from './settings.js'

const settings = (() => {
  try {
    return readServerEnv(process.env)
  } catch (error) {
    if (!(error instanceof SettingError)) throw error
    console.error(`webhook-worker: ${error.message}`)
    process.exit(2)
  }
})()

// The embedded defaults: memory queue and store, the bundled fake Claude server, a dev secret.
const secret = process.env.WEBHOOK_SECRET ?? 'whsec_dev_only'
if (!process.env.WEBHOOK_SECRET) console.warn('WEBHOOK_SECRET is unset: using a development secret')
// The admin routes show payloads and re-run jobs, so no fixed development token: on the
// development secret a random one per start, printed; with a real secret and no token, disabled.
const adminToken =
  process.env.ADMIN_TOKEN ||
  (process.env.WEBHOOK_SECRET ? undefined : `adm_dev_${randomBytes(16).toString('hex')}`)
if (!process.env.ADMIN_TOKEN) {
  console.warn(
    adminToken
      ? `ADMIN_TOKEN is unset: the admin routes take this token until exit: ${adminToken}`
      : 'ADMIN_TOKEN is unset: the job and DLQ admin routes are disabled (404)',
  )
}
// FAKE_ANTHROPIC_URL points at a fake server someone else runs (tests do).
const external = process.env.FAKE_ANTHROPIC_URL
const fake =
  process.env.ANTHROPIC_API_KEY || external
    ? undefined
    : await startFakeAnthropic({ latencyMs: 20 })
const baseURL = external ?? fake?.url
const anthropic = baseURL ? new Anthropic({ apiKey: 'fake', baseURL }) : new Anthropic()
const { shutdownMs } = settings

const webhook = await createApp({
  secret,
  anthropic,
  ...(adminToken ? { adminToken } : {}),
  ...(settings.redisUrl ? { redisUrl: settings.redisUrl } : {}),
  ...(settings.queueName ? { queueName: settings.queueName } : {}),
  worker: settings.role !== 'receiver',
  concurrency: settings.concurrency,
})
const serving = await serve(webhook, settings.port)
console.log(
  `webhook-worker on ${serving.url} (queue: ${webhook.queue.kind}, claude: ${baseURL ? `fake at ${baseURL}` : 'api.anthropic.com'})`,
)

async function stop(signal: string): Promise<void> {
  console.log(`${signal}: stopping (in-flight jobs get ${shutdownMs} ms)`)
  // A second, hard bound: exit even if something refuses to close.
  setTimeout(() => process.exit(1), shutdownMs + 5_000).unref()
  await serving.stop(shutdownMs)
  await fake?.close()
  console.log('stopped')
  process.exit(0)
}
process.once('SIGTERM', () => void stop('SIGTERM'))
process.once('SIGINT', () => void stop('SIGINT'))
