import { describe, expect, it } from 'vitest'
import { IN_FLIGHT_POLL_MAX_MS, IN_FLIGHT_POLL_MS, nextPollGapMs } from './poll.js'

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
