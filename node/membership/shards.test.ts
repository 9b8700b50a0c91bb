import { describe, expect, it } from 'vitest'
import { DEFAULT_INTERVAL, receivedBytesPerSec } from './interval.js'
import {
  DEFAULT_AGGREGATION, MAX_SHARD_BITS, acceptsAggregator, aggregatorRole, digestFullBudgetBytes, digestIntervalMs, fleetShardBits, peerHash, peerTag, rankAggregators,
  shardBitsFor, shardOf, validateAggregation
} from './shards.js'

const P = DEFAULT_AGGREGATION

describe('shardBitsFor: how many shards a fleet is split into', () => {
  const cases: Array<{ n: number, current: number, want: number, why: string }> = [
    { n: 1, current: 0, want: 0, why: 'a lone node' },
    { n: 239, current: 0, want: 0, why: 'below the threshold: not sharded, exactly as without aggregation' },
    { n: 240, current: 0, want: 1, why: 'at the threshold: 2 shards of 120' },
    { n: 400, current: 0, want: 2, why: '4 shards of 100' },
    { n: 1_000, current: 0, want: 3, why: '8 shards of 125' },
    { n: 10_000, current: 0, want: 6, why: '64 shards of 156' },
    { n: 100_000, current: 0, want: 9, why: '512 shards of 195' },
    { n: 10_000_000, current: 0, want: MAX_SHARD_BITS, why: 'capped at 1024 shards' },
    { n: 230, current: 1, want: 1, why: 'hysteresis: sharding holds down to 80% of the threshold' },
    { n: 191, current: 1, want: 0, why: 'below 80% of the threshold: back to one topic' },
    { n: 1_900, current: 3, want: 3, why: 'hysteresis: 237 a shard is under 2.5 x minShardSize' },
    { n: 2_000, current: 3, want: 4, why: '250 a shard: split' },
    { n: 700, current: 3, want: 3, why: '87 a shard stays above 80% of minShardSize: kept' },
    { n: 600, current: 3, want: 2, why: '75 a shard is under 80% of minShardSize: merge to 4 shards' }
  ]
  for (const c of cases) {
    it(`${c.n} nodes, ${c.current} bits now -> ${c.want} (${c.why})`, () => {
      expect(shardBitsFor(c.n, c.current, P)).toBe(c.want)
    })
  }

  it('follows the bits the fleet uses when they are reasonable here, so nodes agree', () => {
    // 1,900 nodes: 3 bits (237 a shard) and 4 bits (119) are both within bounds.
    expect(shardBitsFor(1_900, 3, P, 4)).toBe(4)
    expect(shardBitsFor(1_900, 4, P, 3)).toBe(3)
    expect(shardBitsFor(1_900, 0, P, 3)).toBe(3)
    // 10 bits would be 2 a shard: not followed.
    expect(shardBitsFor(1_900, 3, P, 10)).toBe(3)
    // Below the threshold nothing is followed.
    expect(shardBitsFor(200, 0, P, 1)).toBe(0)
  })

  it('fleetShardBits: the bits most recent digests use, when more than use ours, the larger on a tie', () => {
    expect(fleetShardBits([], 3)).toBeUndefined()
    expect(fleetShardBits([3, 4, 4], 3)).toBe(4)
    expect(fleetShardBits([4, 3, 3], 4)).toBe(3)
    expect(fleetShardBits([2, 2, 2], 0)).toBe(2)
    // Two groups on 1 and 2 bits, their aggregators at the same pace: digests alternate. Both
    // groups must end on the same bits, so the tie goes to the larger count on every node.
    const alternating = Array.from({ length: 32 }, (_, i) => 1 + (i % 2))
    expect(fleetShardBits(alternating, 1)).toBe(2)
    expect(fleetShardBits(alternating, 2)).toBeUndefined()
    expect(fleetShardBits([3, 3, 4, 4], 3)).toBe(4)
    expect(fleetShardBits([3, 3, 4, 4], 4)).toBeUndefined()
    expect(fleetShardBits([1, 2, 3], 2)).toBe(3)
  })

  it('a small shard size forces sharding in a test mesh', () => {
    expect(shardBitsFor(16, 0, { ...P, shardAboveNodes: 8, minShardSize: 4 })).toBe(2)
    expect(shardBitsFor(7, 0, { ...P, shardAboveNodes: 8, minShardSize: 4 })).toBe(0)
  })

  it('refuses settings that cannot work', () => {
    expect(() => validateAggregation({ ...P, shardAboveNodes: 1 })).toThrow(/shardAboveNodes/)
    expect(() => validateAggregation({ ...P, minShardSize: 0 })).toThrow(/minShardSize/)
    expect(() => validateAggregation({ ...P, aggregators: 0 })).toThrow(/aggregators/)
    expect(() => validateAggregation({ ...P, fullEveryDigests: 0 })).toThrow(/fullEveryDigests/)
  })
})

describe('shardOf and peerTag: from the peer id hash', () => {
  const ids = Array.from({ length: 4000 }, (_, i) => `12D3KooWpeer${i}`)

  it('spreads peers evenly over the shards', () => {
    const counts = new Array(16).fill(0)
    for (const id of ids) counts[shardOf(peerHash(id), 4)]++
    for (const c of counts) expect(c).toBeGreaterThan(4000 / 16 * 0.75)
    for (const c of counts) expect(c).toBeLessThan(4000 / 16 * 1.25)
  })

  it('is a prefix: a shard of b bits splits into two shards of b + 1', () => {
    for (const id of ids.slice(0, 200)) {
      const h = peerHash(id)
      expect(shardOf(h, 5) >>> 1).toBe(shardOf(h, 4))
      expect(shardOf(h, 0)).toBe(0)
    }
  })

  it('tags are the last 4 bytes of the hash, unsigned', () => {
    const h = peerHash('x')
    expect(peerTag(h)).toBe(h.readUInt32BE(28))
  })
})

describe('aggregators: the peers XOR-closest to the shard key', () => {
  const members = Array.from({ length: 12 }, (_, i) => `peer-${i}`).map(id => ({ id, hash: peerHash(id) }))

  it('every node ranks the same set the same way, whatever order it holds it in', () => {
    const a = rankAggregators(3, 5, members)
    const b = rankAggregators(3, 5, [...members].reverse())
    expect(a).toEqual(b)
    expect(new Set(a).size).toBe(12)
  })

  it('the first two serve, the next two stand by, the rest do nothing', () => {
    const ranked = rankAggregators(3, 5, members)
    expect(ranked.map(id => aggregatorRole(id, ranked, P))).toEqual(['serving', 'serving', 'standby', 'standby', ...new Array(8).fill('none')])
    expect(aggregatorRole('not-a-member', ranked, P)).toBe('none')
  })

  it('a standby serves once a serving aggregator is gone from the live set', () => {
    const ranked = rankAggregators(3, 5, members)
    const without = rankAggregators(3, 5, members.filter(m => m.id !== ranked[0]))
    expect(aggregatorRole(ranked[2]!, without, P)).toBe('serving')
    expect(aggregatorRole(ranked[1]!, without, P)).toBe('serving')
  })

  it('a receiver takes digests from serving and standby ranks only', () => {
    const ranked = rankAggregators(3, 5, members)
    expect(ranked.slice(0, 4).every(id => acceptsAggregator(id, ranked, P))).toBe(true)
    expect(ranked.slice(4).some(id => acceptsAggregator(id, ranked, P))).toBe(false)
  })

  it('another shard key ranks the same peers differently', () => {
    expect(rankAggregators(3, 5, members)).not.toEqual(rankAggregators(3, 6, members))
  })
})

describe('digestFullBudgetBytes: full entries a digest may carry', () => {
  it('8 KiB while the wait stays under its cap; less in very large fleets, never so much the budget breaks', () => {
    expect(digestFullBudgetBytes(8, 125, P)).toBe(P.digestFullBytes)
    expect(digestFullBudgetBytes(64, 156, P)).toBe(P.digestFullBytes)
    const at100k = digestFullBudgetBytes(512, 195, P)
    expect(at100k).toBeLessThan(P.digestFullBytes)
    expect(at100k).toBeGreaterThan(2000)
    const whole = at100k + 400 + 5 * 195
    expect(digestIntervalMs(512, whole, DEFAULT_INTERVAL, P)).toBeLessThanOrEqual(30 * 60_000)
    expect(receivedBytesPerSec(512 * P.aggregators, whole, 30 * 60_000, P.digestAmplification)).toBeLessThanOrEqual(P.digestBudgetBytesPerSec)
  })
})

describe('digestIntervalMs: digests stay under their byte budget', () => {
  it.each([2, 8, 64, 512, 1024])('%i shards', shards => {
    const bytes = 1500
    const iv = digestIntervalMs(shards, bytes, DEFAULT_INTERVAL, P)
    expect(iv).toBeGreaterThanOrEqual(DEFAULT_INTERVAL.baseIntervalMs)
    if (iv < 30 * 60_000) expect(receivedBytesPerSec(shards * P.aggregators, bytes, iv, P.digestAmplification)).toBeLessThanOrEqual(P.digestBudgetBytesPerSec)
  })
})
