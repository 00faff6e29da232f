import { parseArgs } from 'node:util'
import { parseInteger, SettingError } from './settings.js'

/** The demo's command-line flags, checked. */
export interface DemoArgs {
  deliveries?: number
  instances?: number
}

/**
 * Reads `--deliveries N` and `--instances N`: an unknown flag or a bad number fails before the
 * demo starts, where before `--deliveries 5OO` quietly ran a demo of nothing.
 */
export function readDemoArgs(argv: string[], env: NodeJS.ProcessEnv): DemoArgs {
  let values: { deliveries?: string | undefined; instances?: string | undefined }
  try {
    values = parseArgs({
      args: argv,
      options: { deliveries: { type: 'string' }, instances: { type: 'string' } },
      strict: true,
      allowPositionals: false,
    }).values
  } catch (error) {
    throw new SettingError(
      `${(error as Error).message}; the demo takes --deliveries N and --instances N`,
      { cause: error },
    )
  }
  const args: DemoArgs = {}
  if (values.deliveries !== undefined) {
    args.deliveries = parseInteger('--deliveries', values.deliveries, 1, 100_000)
  }
  if (values.instances !== undefined) {
    // Without Redis every instance would have its own in-process queue: no shared work to show.
    if (!env.REDIS_URL) throw new SettingError('--instances needs REDIS_URL (BullMQ + Redis)')
    args.instances = parseInteger('--instances', values.instances, 1, 16)
  }
  return args
}
