import { type ChildProcess, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../../../', import.meta.url))

/** A child Node process running one fixture script, started from the repository root. */
export interface AppProcess {
  readonly child: ChildProcess
  readonly pid: number
  /** Port the fixture listens on (0 for fixtures without a server). */
  readonly port: number
  /** `http://127.0.0.1:<port>`. */
  readonly url: string
  /** Every stdout line so far. */
  readonly lines: string[]
  /** Everything written to stderr so far. */
  stderr(): string
  /** True while the process has not exited. */
  alive(): boolean
  /** Sends `signal` and, for terminating signals, waits for the exit. */
  signal(signal: NodeJS.Signals): Promise<void>
  /** Resolves with the exit code (or signal name) once the process is gone. */
  readonly exited: Promise<number | string>
}

const running = new Set<AppProcess>()

/**
 * Starts `fixtures/<script>` under tsx with the `@steadfast/source` condition, passing `config`
 * as JSON in its first argument, and resolves once it printed `READY {"port":…}`.
 */
export async function startFixture(
  script: string,
  config: Record<string, unknown>,
  readyTimeoutMs = 30_000,
): Promise<AppProcess> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      '--conditions=@steadfast/source',
      fileURLToPath(new URL(`../fixtures/${script}`, import.meta.url)),
      JSON.stringify(config),
    ],
    {
      cwd: root,
      env: { ...process.env, NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  const lines: string[] = []
  let stderr = ''
  let partial = ''
  let onLine: ((line: string) => void) | undefined
  child.stdout?.setEncoding('utf8')
  child.stdout?.on('data', (chunk: string) => {
    partial += chunk
    let newline = partial.indexOf('\n')
    while (newline >= 0) {
      const line = partial.slice(0, newline)
      partial = partial.slice(newline + 1)
      lines.push(line)
      onLine?.(line)
      newline = partial.indexOf('\n')
    }
  })
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (chunk: string) => {
    stderr += chunk
  })
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1))
  })
  const ready = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} not ready after ${readyTimeoutMs} ms:\n${stderr}`)),
      readyTimeoutMs,
    )
    onLine = (line) => {
      if (!line.startsWith('READY ')) return
      clearTimeout(timer)
      resolve((JSON.parse(line.slice(6)) as { port: number }).port)
    }
    void exited.then((code) => {
      clearTimeout(timer)
      reject(new Error(`${script} exited (${code}) before it was ready:\n${stderr}`))
    })
  })
  let port: number
  try {
    port = await ready
  } catch (error) {
    child.kill('SIGKILL')
    throw error
  }
  const app: AppProcess = {
    child,
    pid: child.pid ?? -1,
    port,
    url: `http://127.0.0.1:${port}`,
    lines,
    stderr: () => stderr,
    alive: () => child.exitCode === null && child.signalCode === null,
    async signal(signal) {
      if (!app.alive()) return
      child.kill(signal)
      if (signal === 'SIGKILL' || signal === 'SIGTERM') await exited
    },
    exited,
  }
  running.add(app)
  void exited.then(() => running.delete(app))
  return app
}

/** SIGKILLs every fixture still running (resuming stopped ones first) and waits for them. */
export async function killAll(): Promise<void> {
  const all = [...running]
  for (const app of all) {
    app.child.kill('SIGCONT')
    app.child.kill('SIGKILL')
  }
  await Promise.all(all.map((app) => app.exited))
}

/** Lines a fixture printed that start with `tag `, parsed as JSON. */
export function tagged<T>(app: AppProcess, tag: string): T[] {
  return app.lines
    .filter((line) => line.startsWith(`${tag} `))
    .map((line) => JSON.parse(line.slice(tag.length + 1)) as T)
}

/** Resolves once `check` returns true, polling every `everyMs`; rejects after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
  everyMs = 10,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** A promise that resolves after `ms`. */
export const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, ms))

/** True for the soak-sized run (`npm run soak`). */
export const longRun: boolean = process.env.RELIABILITY_SCALE === 'long'

/** A unique Redis key prefix for one test. */
export function uniquePrefix(test: string): string {
  return `rel:${test}:${process.pid}:${Date.now().toString(36)}:`
}
