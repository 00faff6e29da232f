import { describe, expect, it } from 'vitest'
import { readDemoArgs } from '../src/demo-args.js'
import { SettingError } from '../src/settings.js'
import { runSource } from './support.js'

const redis = { REDIS_URL: 'redis://127.0.0.1:6379' }

describe('readDemoArgs', () => {
  it('reads --deliveries and, with Redis, --instances', () => {
    expect(readDemoArgs([], {})).toEqual({})
    expect(readDemoArgs(['--deliveries', '500'], {})).toEqual({ deliveries: 500 })
    expect(readDemoArgs(['--instances', '2', '--deliveries=40'], redis)).toEqual({
      deliveries: 40,
      instances: 2,
    })
  })

  it.each([
    [['--deliveries', '5OO'], {}, /--deliveries must be an integer from 1/],
    [['--deliveries', '0'], {}, /--deliveries must be an integer from 1/],
    [['--instances', 'two'], redis, /--instances must be an integer/],
    [['--instances', '2'], {}, /--instances needs REDIS_URL/],
    [['--delivery', '5'], {}, /Unknown option '--delivery'.*--deliveries N/],
    [['500'], {}, /positional argument/],
  ])('refuses %j', (argv, env, message) => {
    expect(() => readDemoArgs(argv, env)).toThrow(SettingError)
    expect(() => readDemoArgs(argv, env)).toThrow(message)
  })

  it('stops the demo with exit code 2 and the flag named, before it starts anything', async () => {
    const { child, output } = runSource('demo-cli.ts', ['--deliveries', 'lots'], { REDIS_URL: '' })
    const code = await new Promise((resolve) => child.once('exit', resolve))
    expect(code, output()).toBe(2)
    expect(output()).toContain('--deliveries must be an integer')
  }, 60_000)
})
