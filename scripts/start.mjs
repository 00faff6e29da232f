#!/usr/bin/env node
// `npm start`: the webhook-worker demo. It runs the TypeScript sources through tsx with the
// `@steadfast/source` export condition, so nothing has to be built first.
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const tsx = createRequire(import.meta.url).resolve('tsx/cli')
const child = spawn(
  process.execPath,
  [
    tsx,
    '--conditions=@steadfast/source',
    'examples/webhook-worker/src/demo-cli.ts',
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: 'inherit' },
)
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)))
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
