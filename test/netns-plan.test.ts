import { describe, expect, it } from 'vitest'
import { rolloutBoundMs, rolloutPlan } from '../bench/netns/plan.js'

describe('the netns benchmark\'s --steps', () => {
  it('becomes the manifest\'s steps, with the timed pauses summed', () => {
    expect(rolloutPlan('100', false)).toEqual({ steps: '[ {setPercent: 100} ]', prefetch: false, pausesMs: 0, waves: 1 })
    expect(rolloutPlan('10, pause:5s, 50, pause:500ms, 100', true)).toEqual({
      steps: '[ {setPercent: 10}, {pause: 5s}, {setPercent: 50}, {pause: 500ms}, {setPercent: 100} ]', prefetch: true, pausesMs: 5500, waves: 3
    })
  })

  it.each([
    ['one wave', '100', false, 16_800],
    ['two waves: each downloads after the one before it and the pause', '10,pause:2s,100', false, 2000 + 2 * 16_800],
    ['three waves, two pauses', '10,pause:2s,50,pause:1s,100', false, 3000 + 3 * 16_800],
    ['prefetch: the later waves download during a short pause', '10,pause:2s,100', true, 2 * 16_800],
    ['prefetch: a pause longer than the download sets the pace', '10,pause:30s,100', true, 16_800 + 30_000]
  ])('gives the transfer lower bound of %s', (_what, steps, prefetch, ms) => {
    expect(rolloutBoundMs(rolloutPlan(steps, prefetch), 16_800)).toBe(ms)
  })

  it('refuses what the manifest refuses, naming the step, and a pause no one would resume', () => {
    expect(() => rolloutPlan('', false)).toThrow('--steps: no step')
    expect(() => rolloutPlan('10,150', false)).toThrow(/spec\.strategy\.steps\[1\]\.setPercent/)
    expect(() => rolloutPlan('10,pause:{},100', false)).toThrow('a pause needs a duration')
    expect(() => rolloutPlan('10,pause:soon', false)).toThrow(/steps\[1\]\.pause/)
  })
})
