import { formatReport, runDemo } from './demo.js'
import { readDemoArgs } from './demo-args.js'
import { SettingError } from './settings.js'

const args = (() => {
  try {
    return readDemoArgs(process.argv.slice(2), process.env)
  } catch (error) {
    if (!(error instanceof SettingError)) throw error
    console.error(`demo: ${error.message}`)
    process.exit(2)
  }
})()

const tty = process.stderr.isTTY
let lastLine = 0
const report = await runDemo({
  ...args,
  ...(process.env.REDIS_URL ? { redisUrl: process.env.REDIS_URL } : {}),
  ...(process.env.ANTHROPIC_API_KEY ? { apiKey: process.env.ANTHROPIC_API_KEY } : {}),
  onProgress: ({ sent, total, finished, expected }) => {
    const line = `sent ${sent}/${total}  jobs done ${finished}/${expected}`
    if (tty) {
      const width = 30
      const done = expected ? Math.round((finished / expected) * width) : 0
      process.stderr.write(`\r[${'#'.repeat(done)}${'.'.repeat(width - done)}] ${line}   `)
    } else if (Date.now() - lastLine > 2_000) {
      lastLine = Date.now()
      process.stderr.write(`${line}\n`)
    }
  },
})
if (tty) process.stderr.write('\n')
console.log('\nSteadfast demo: signed webhooks -> queue -> Claude worker -> DLQ\n')
console.log(formatReport(report))
process.exit(report.ok ? 0 : 1)
