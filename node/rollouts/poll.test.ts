import { describe, expect, it } from 'vitest'
import { carryPollSchedule, IN_FLIGHT_POLL_MAX_MS, IN_FLIGHT_POLL_MS, nextPollGapMs, pollDueAtMs, takeDuePoll } from './poll.js'
import type { PollSchedule } from './poll.js'

describe('nextPollGapMs', () => {
  it.each([
    ['nothing asked yet', undefined, false, IN_FLIGHT_POLL_MS],
    ['a change after long silence', IN_FLIGHT_POLL_MAX_MS, true, IN_FLIGHT_POLL_MS],
    ['unchanged after the first poll', 200, false, 400],
    ['unchanged, doubling', 400, false, 800],
    ['unchanged, up to the cap', 1000, false, IN_FLIGHT_POLL_MAX_MS],
    ['unchanged at the cap stays there', IN_FLIGHT_POLL_MAX_MS, false, IN_FLIGHT_POLL_MAX_MS],
    ['a gap below the first is raised to it', 50, false, IN_FLIGHT_POLL_MS],
    ['a nonsense gap starts over', Number.NaN, false, IN_FLIGHT_POLL_MS],
    ['a zero gap starts over', 0, false, IN_FLIGHT_POLL_MS]
  ])('%s', (_what, last, changed, want) => {
    expect(nextPollGapMs(last, changed)).toBe(want)
  })

  it('a state that stands still for a minute is asked 39 times, not 300', () => {
    let gap: number | undefined
    let t = 0
    let polls = 0
    while (true) {
      gap = nextPollGapMs(gap, false)
      if (t + gap > 60_000) break
      t += gap
      polls++
    }
    expect(polls).toBe(4 + Math.floor((60_000 - 3000) / IN_FLIGHT_POLL_MAX_MS))
  })
})

describe('a device poll schedule', () => {
  it('keeps its schedule while the state stands still, and starts over when it changes', () => {
    const before: PollSchedule & { state: string, policyVersion: number } = { state: 'Downloading', policyVersion: 1, pollAtMs: 5000, pollGapMs: 1600 }
    expect(carryPollSchedule(before, { state: 'Downloading', policyVersion: 1 }, 4000)).toEqual(before)
    expect(carryPollSchedule(before, { state: 'Verifying', policyVersion: 1 }, 4000)).toEqual({ state: 'Verifying', policyVersion: 1, pollAtMs: 4200, pollGapMs: IN_FLIGHT_POLL_MS })
    expect(carryPollSchedule(before, { state: 'Downloading', policyVersion: 2 }, 4000)).toMatchObject({ pollAtMs: 4200 })
    expect(carryPollSchedule(undefined, { state: 'Pending', policyVersion: 1 }, 0)).toMatchObject({ pollAtMs: 200, pollGapMs: 200 })
  })

  it('asks those due within half the first gap, and pushes their next ask out', () => {
    const d = { pollAtMs: 1090, pollGapMs: 200 }
    expect(takeDuePoll(d, 1000)).toBe(true)
    expect(d).toEqual({ pollAtMs: 1400, pollGapMs: 400 })
    expect(takeDuePoll(d, 1000)).toBe(false)
    expect(takeDuePoll({ pollAtMs: 1101 }, 1000)).toBe(false)
  })

  it('never makes a tick due sooner than the window a poll asks together', () => {
    expect(pollDueAtMs({ pollAtMs: 0 }, 1000, true)).toBe(1100)
    expect(pollDueAtMs({ pollAtMs: 2500 }, 1000, true)).toBe(2500)
    expect(pollDueAtMs({ pollAtMs: 2500 }, 1000, false)).toBe(1200)
  })
})
