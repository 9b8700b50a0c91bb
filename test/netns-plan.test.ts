import { describe, expect, it } from 'vitest'
import { rolloutPlan } from '../bench/netns/plan.js'

describe('the netns benchmark\'s --steps', () => {
  it('becomes the manifest\'s steps, with the timed pauses summed', () => {
    expect(rolloutPlan('100', false)).toEqual({ steps: '[ {setPercent: 100} ]', prefetch: false, pausesMs: 0 })
    expect(rolloutPlan('10, pause:5s, 50, pause:500ms, 100', true)).toEqual({
      steps: '[ {setPercent: 10}, {pause: 5s}, {setPercent: 50}, {pause: 500ms}, {setPercent: 100} ]', prefetch: true, pausesMs: 5500
    })
  })

  it('refuses what the manifest refuses, naming the step, and a pause no one would resume', () => {
    expect(() => rolloutPlan('', false)).toThrow('--steps: no step')
    expect(() => rolloutPlan('10,150', false)).toThrow(/spec\.strategy\.steps\[1\]\.setPercent/)
    expect(() => rolloutPlan('10,pause:{},100', false)).toThrow('a pause needs a duration')
    expect(() => rolloutPlan('10,pause:soon', false)).toThrow(/steps\[1\]\.pause/)
  })
})
