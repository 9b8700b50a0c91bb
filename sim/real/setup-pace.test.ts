import { describe, expect, it } from 'vitest'
import { defaultSetupTimeScale, defaultSetupTimeoutMs } from './runner.js'

describe('the set-up pace of a real-node run', () => {
  it.each([
    [10, 6, 10],
    [10, 15, 10],
    [10, 16, 9],
    [10, 25, 4],
    [10, 35, 2],
    [10, 50, 1],
    [10, 100, 1],
    [3, 6, 3],
    [1, 1, 1],
    [10, 0, 10]
  ])('scenario at %ix, %i nodes: set-up at %ix', (scale, nodes, want) => {
    expect(defaultSetupTimeScale(scale, nodes)).toBe(want)
  })

  it('gives large fleets longer to set up', () => {
    expect(defaultSetupTimeoutMs(6)).toBe(180_000)
    expect(defaultSetupTimeoutMs(22)).toBe(180_000)
    expect(defaultSetupTimeoutMs(50)).toBe(400_000)
  })
})
