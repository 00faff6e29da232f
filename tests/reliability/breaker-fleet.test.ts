import { type FakeAnthropic, startFakeAnthropic } from '@steadfast/claude-adapter/testing'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { noRedis, redisUrl } from '../../test-support/redis.js'
import {
  type AppProcess,
  killAll,
  sleep,
  startFixture,
  tagged,
  uniquePrefix,
  waitFor,
} from './support/processes.js'

const MEMBERS = 3
const OPEN_MS = 1_000
const HALF_OPEN_MAX_CALLS = 2
const OUTAGE_AFTER_TRIP_MS = 3_500
const PRIMARY = 'claude-sonnet-5-5'

interface StateLine {
  from: string
  to: string
  at: number
}

describe.skipIf(noRedis)('when a fleet of 3 processes shares its breakers through Redis', () => {
  let fake: FakeAnthropic
  let members: AppProcess[] = []

  beforeAll(async () => {
    fake = await startFakeAnthropic()
    const config = {
      redisUrl,
      prefix: uniquePrefix('fleet'),
      fakeUrl: fake.url,
      openMs: OPEN_MS,
      halfOpenMaxCalls: HALF_OPEN_MAX_CALLS,
      everyMs: 10,
    }
    members = await Promise.all(
      Array.from({ length: MEMBERS }, () => startFixture('claude-fleet.ts', config)),
    )
  })

  afterAll(async () => {
    await killAll()
    await fake?.close()
  })

  it('trips every member and lets only the fleet-wide half-open probes reach the server', async () => {
    const from = (member: AppProcess) => (r: FakeAnthropic['requests'][number]) =>
      r.headers['x-fleet-member'] === String(member.pid)
    await waitFor(
      () => members.every((m) => fake.requests.filter(from(m)).length >= 20),
      20_000,
      'every member to be calling',
    )

    fake.outage(PRIMARY, { status: 529 })
    const outageAt = Date.now()
    const firstOpen = (m: AppProcess) =>
      tagged<StateLine>(m, 'STATE').find((s) => s.to === 'open' && s.at >= outageAt)
    await waitFor(() => members.every((m) => firstOpen(m) !== undefined), 10_000, 'all to open')
    const opens = members.map((m) => firstOpen(m)?.at ?? 0)
    const allOpenAt = Math.max(...opens)

    await sleep(OUTAGE_AFTER_TRIP_MS)
    fake.restore(PRIMARY)
    const restoreAt = Date.now()
    await waitFor(
      () =>
        members.every((m) =>
          tagged<StateLine>(m, 'STATE').some((s) => s.to === 'closed' && s.at >= restoreAt),
        ),
      10_000,
      'all to close again',
    )
    await sleep(300)

    const primary = fake.requests.filter((r) => r.model === PRIMARY)
    const openWindow = primary.filter((r) => r.at > allOpenAt && r.at <= restoreAt)
    const halfOpenPeriods = Math.ceil((restoreAt - allOpenAt) / OPEN_MS)
    const fleetBound = HALF_OPEN_MAX_CALLS * halfOpenPeriods
    const beforeTrip = primary.filter((r) => r.at >= outageAt && r.at <= allOpenAt).length
    const perMember = members.map((m) => openWindow.filter(from(m)).length)
    console.info(
      `[fleet] trip spread ${allOpenAt - Math.min(...opens)} ms, ${beforeTrip} calls from outage to all-open; ` +
        `open window ${restoreAt - allOpenAt} ms: ${openWindow.length} calls reached the server ` +
        `(per member ${perMember.join('/')}; bound ${fleetBound} = ${HALF_OPEN_MAX_CALLS} probes x ${halfOpenPeriods} periods; ` +
        `unshared breakers could send ${MEMBERS * fleetBound})`,
    )
    expect(openWindow.length).toBeGreaterThan(0)
    expect(openWindow.length).toBeLessThanOrEqual(fleetBound)
    // Every member answered with its own calls again after the restore.
    const after = primary.filter((r) => r.at > restoreAt && r.status === 200)
    for (const member of members) expect(after.filter(from(member)).length).toBeGreaterThan(0)
    expect(members.every((m) => m.alive())).toBe(true)
  })
})
