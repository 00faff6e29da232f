import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

// Installs the packed tarballs in an empty project, as a user would, and loads every subpath
// from ESM and from CJS. Needs `npm run build` first (`npm test` does it).
const root = resolve(import.meta.dirname, '..')
const packages = ['circuit-breaker', 'retry-decorators', 'idempotency-middleware', 'claude-adapter']
// Named exports that API.md promises on each entry point.
const promised: Record<string, string[]> = {
  '@steadfast/circuit-breaker': [
    'CircuitBreaker',
    'CircuitOpenError',
    'BreakerRegistry',
    'defaultRegistry',
  ],
  '@steadfast/retry-decorators': [
    'retry',
    'retryContext',
    'Retry',
    'CircuitBreaker',
    'Fallback',
    'Timeout',
    'RetryBudget',
    'RetryError',
    'TimeoutError',
  ],
  '@steadfast/idempotency-middleware': ['idempotency', 'MemoryStore', 'idempotent'],
  '@steadfast/idempotency-middleware/koa': ['koaIdempotency'],
  '@steadfast/idempotency-middleware/redis': ['RedisStore'],
  '@steadfast/claude-adapter': [
    'ResilientClaude',
    'classifyError',
    'TruncatedResponseError',
    'RefusalError',
  ],
  '@steadfast/claude-adapter/testing': ['startFakeAnthropic'],
}

function subpaths(pkg: string): string[] {
  const manifest = JSON.parse(readFileSync(join(root, 'packages', pkg, 'package.json'), 'utf8'))
  return Object.keys(manifest.exports as Record<string, unknown>)
    .filter((key) => key !== './package.json')
    .map((key) => `@steadfast/${pkg}${key.slice(1)}`)
}

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
}

describe('packed tarballs', () => {
  let dir: string
  const specifiers = packages.flatMap(subpaths)

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'steadfast-pack-'))
    const tarballs = packages.map((pkg) => {
      const out = npm(['pack', '--json', '--pack-destination', dir], join(root, 'packages', pkg))
      const [info] = JSON.parse(out) as { filename: string }[]
      return join(dir, info?.filename ?? '')
    })
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true }))
    // Optional peers a user of every subpath would install next to ours; no @types/express or
    // @types/koa, so the type check below sees what a worker-only user has.
    const peers = [
      'ioredis@5',
      'prom-client@15',
      'express@5',
      'koa@3',
      'reflect-metadata@0.2',
      'vitest@3.2.7',
      '@types/node@20',
    ]
    npm(['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs, ...peers], dir)
  })

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('contains only dist, src, README and package.json', () => {
    for (const pkg of packages) {
      const out = npm(['pack', '--dry-run', '--json'], join(root, 'packages', pkg))
      const [info] = JSON.parse(out) as { files: { path: string }[] }[]
      const paths = (info?.files ?? []).map((f) => f.path)
      expect(paths).toContain('README.md')
      expect(
        paths.every((p) =>
          /^(dist\/|src\/|README\.md$|package\.json$|LICENSE$|CHANGELOG\.md$)/.test(p),
        ),
      ).toBe(true)
    }
  })

  it.each(specifiers)('%s loads from ESM and CJS with the same names', (specifier) => {
    const esm = execFileSync(
      'node',
      [
        '--input-type=module',
        '-e',
        `const m = await import('${specifier}'); console.log(JSON.stringify(Object.keys(m).sort()))`,
      ],
      { cwd: dir, encoding: 'utf8' },
    )
    const cjs = execFileSync(
      'node',
      ['-e', `console.log(JSON.stringify(Object.keys(require('${specifier}')).sort()))`],
      { cwd: dir, encoding: 'utf8' },
    )
    const esmNames = JSON.parse(esm) as string[]
    expect(esmNames.length).toBeGreaterThan(0)
    expect(JSON.parse(cjs)).toEqual(esmNames)
    for (const name of promised[specifier] ?? []) expect(esmNames).toContain(name)
  })

  it('ships type declarations for every subpath', () => {
    for (const specifier of specifiers) {
      const [, pkg, ...rest] = specifier.split('/')
      const sub = rest.length ? `./${rest.join('/')}` : '.'
      const manifest = JSON.parse(
        readFileSync(join(dir, 'node_modules/@steadfast', pkg ?? '', 'package.json'), 'utf8'),
      )
      const entry = manifest.exports[sub]
      expect(entry.import.types).toMatch(/\.d\.ts$/)
      expect(entry.require.types).toMatch(/\.d\.ts$/)
      expect(
        readFileSync(join(dir, 'node_modules/@steadfast', pkg ?? '', entry.import.types), 'utf8')
          .length,
      ).toBeGreaterThan(0)
    }
  })

  it('has source maps whose sources are in the package', () => {
    for (const pkg of packages) {
      const installed = join(dir, 'node_modules/@steadfast', pkg)
      const maps = readdirSync(join(installed, 'dist'), { recursive: true, encoding: 'utf8' })
        .filter((file) => file.endsWith('.map'))
        .map((file) => join(installed, 'dist', file))
      expect(maps.length).toBeGreaterThan(0)
      const missing = maps.flatMap((map) => {
        const { sources } = JSON.parse(readFileSync(map, 'utf8')) as { sources: string[] }
        return sources.filter((source) => !existsSync(resolve(dirname(map), source)))
      })
      expect(missing).toEqual([])
    }
  })

  // skipLibCheck off, as in a strict project: our declarations must not name a type package the
  // user may not have (Express and Koa ship none; a queue worker installs neither).
  it.each(['nodenext', 'bundler'])('type-checks a strict TypeScript consumer (%s)', (mode) => {
    writeFileSync(
      join(dir, 'consumer.mts'),
      [
        "import { CircuitBreaker } from '@steadfast/circuit-breaker'",
        "import { retry } from '@steadfast/retry-decorators'",
        "import { idempotent, MemoryStore } from '@steadfast/idempotency-middleware'",
        "import { ResilientClaude, type ResilientClaudeOptions } from '@steadfast/claude-adapter'",
        "const breaker = new CircuitBreaker({ name: 'claude', failureThreshold: 5 })",
        'const total: number = await retry(() => breaker.execute(async () => 1))',
        "const once: string = await idempotent(new MemoryStore(), 'job-1', async () => 'done')",
        'export const make = (options: ResilientClaudeOptions) => new ResilientClaude(options)',
        'export { total, once }',
      ].join('\n'),
    )
    const resolution = mode === 'bundler' ? ['--module', 'esnext'] : ['--module', 'nodenext']
    const tsc = join(root, 'node_modules/typescript/bin/tsc')
    const args = [tsc, 'consumer.mts', '--noEmit', '--strict', '--target', 'es2022']
    args.push(
      ...resolution,
      '--moduleResolution',
      mode,
      '--types',
      'node',
      '--skipLibCheck',
      'false',
    )
    let errors = ''
    try {
      execFileSync('node', args, { cwd: dir, encoding: 'utf8', stdio: 'pipe' })
    } catch (error) {
      errors = String((error as { stdout?: string }).stdout)
    }
    expect(errors).toBe('')
  })
})
