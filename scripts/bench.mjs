#!/usr/bin/env node
// `npm run bench`: builds, runs every package's bench (ours side by side with the peers, in one
// process each, interleaved rounds, medians), then gathers their tables into bench/results.md with
// machine info and one SVG chart per ratio column.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { barChart } from './bar-chart.mjs'
import { parseTables, ratioSeries } from './markdown-tables.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const packages = ['circuit-breaker', 'retry-decorators', 'idempotency-middleware', 'claude-adapter']
// `npm run bench -- circuit-breaker` runs one package's bench; `-- --collect` only rebuilds the report.
const collectOnly = process.argv.includes('--collect')
const only = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
const run = (args, cwd = root) => execFileSync('npm', args, { cwd, stdio: 'inherit' })

if (!collectOnly) {
  run(['run', 'build'])
  for (const pkg of packages) {
    if (only.length && !only.includes(pkg)) continue
    console.log(`\n== bench: @steadfast/${pkg}`)
    run(['run', 'bench', '-w', `@steadfast/${pkg}`])
  }
}

const chartsDir = join(root, 'bench', 'charts')
rmSync(chartsDir, { recursive: true, force: true })
mkdirSync(chartsDir, { recursive: true })
const cpu = cpus()
const lines = [
  '# Steadfast benchmarks',
  '',
  `Generated ${new Date().toISOString()} by \`npm run bench\` on ${cpu[0]?.model ?? 'unknown CPU'} (${cpu.length} cores), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}.`,
  'Each package bench runs our code and the peers side by side in one process, in interleaved rounds, and reports medians;',
  'ratios are to the bare baseline of the same round (lower is better for time and CPU, higher for throughput and goodput).',
  '',
]
for (const pkg of packages) {
  let markdown
  try {
    markdown = readFileSync(join(root, 'packages', pkg, 'bench', 'results.md'), 'utf8')
  } catch {
    continue
  }
  // The package's own headings move one level down, under its section.
  const body = markdown
    .replace(/^# .*\n+/, '')
    .replace(/^(#+) /gm, '#$1 ')
    .trim()
  lines.push(`## @steadfast/${pkg}`, '', body, '')
  parseTables(markdown).forEach((table, t) => {
    for (const [s, series] of ratioSeries(table).entries()) {
      const file = `${pkg}-${t + 1}-${s + 1}.svg`
      writeFileSync(join(chartsDir, file), barChart(`${pkg}: ${series.title}`, series.points))
      lines.push(`![${pkg}: ${series.title}](charts/${file})`, '')
    }
  })
}
writeFileSync(join(root, 'bench', 'results.md'), `${lines.join('\n')}\n`)
console.log(`\nwrote bench/results.md and ${chartsDir}`)
