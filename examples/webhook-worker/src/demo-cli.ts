import { formatReport, runDemo } from './demo.js'

function flag(name: string): string | undefined {
  const index = process.argv.indexOf(`--${name}`)
  return index === -1 ? undefined : process.argv[index + 1]
}

const tty = process.stderr.isTTY
let lastLine = 0
const report = await runDemo({
  ...(flag('deliveries') ? { deliveries: Number(flag('deliveries')) } : {}),
  ...(flag('instances') ? { instances: Number(flag('instances')) } : {}),
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
