import { describe, expect, it } from 'vitest'
import { DEFAULT_HEARTBEAT_COST, heartbeatCost } from './heartbeats.js'

const BUDGET = DEFAULT_HEARTBEAT_COST.interval.budgetBytesPerSec

describe('heartbeat bytes per node as the fleet grows', () => {
  it.each([10, 100, 150])('is the same under both schemes while one shard holds the fleet (%i nodes)', n => {
    const c = heartbeatCost(n)
    expect(c.shardedBytesPerSec).toBeCloseTo(c.flatBytesPerSec, 6)
  })

  it('grows with N in the flat scheme once the 60 s cap binds', () => {
    expect(heartbeatCost(1_000).flatIntervalMs).toBe(60_000)
    expect(heartbeatCost(10_000).flatBytesPerSec).toBeCloseTo(10 * heartbeatCost(1_000).flatBytesPerSec, 6)
    expect(heartbeatCost(10_000).flatBytesPerSec).toBeGreaterThan(40 * BUDGET)
  })

  it.each([1_000, 10_000, 100_000, 1_000_000])('stays under two budgets with shards and digests (%i nodes)', n => {
    expect(heartbeatCost(n).shardedBytesPerSec).toBeLessThanOrEqual(2 * BUDGET)
  })
})
