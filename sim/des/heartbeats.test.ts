import { describe, expect, it } from 'vitest'
import { peerHash, rankAggregators, shardBitsFor, shardOf } from '../../node/membership/shards.js'
import { DEFAULT_HEARTBEAT_COST, HeartbeatTraffic, digestWireBytes, heartbeatCost } from './heartbeats.js'
import type { TrafficWorld } from './heartbeats.js'

const BUDGET = DEFAULT_HEARTBEAT_COST.interval.budgetBytesPerSec
const DIGEST_BUDGET = DEFAULT_HEARTBEAT_COST.aggregation.digestBudgetBytesPerSec

describe('heartbeat bytes per node as the fleet grows', () => {
  it.each([10, 100, 230])('is the same under both schemes below the threshold (%i nodes)', n => {
    const c = heartbeatCost(n)
    expect(c.shardBits).toBe(0)
    expect(c.shardedBytesPerSec).toBeCloseTo(c.flatBytesPerSec, 6)
  })

  it('grows with N without aggregation once the 60 s cap binds', () => {
    expect(heartbeatCost(1_000).flatIntervalMs).toBe(60_000)
    expect(heartbeatCost(10_000).flatBytesPerSec).toBeCloseTo(10 * heartbeatCost(1_000).flatBytesPerSec, 6)
    expect(heartbeatCost(10_000).flatBytesPerSec).toBeGreaterThan(40 * BUDGET)
  })

  it.each([1_000, 3_000, 10_000, 30_000, 100_000])('stays at the two budgets with shards and digests (%i nodes)', n => {
    const c = heartbeatCost(n)
    expect(c.shardBits).toBeGreaterThan(0)
    expect(c.shardedBytesPerSec).toBeLessThanOrEqual(BUDGET + DIGEST_BUDGET + 1)
  })

  it('what grows with N instead is the digest interval: about 3 minutes at 10,000 nodes, 30 at 100,000', () => {
    expect(heartbeatCost(10_000).digestIntervalMs).toBeGreaterThan(2 * 60_000)
    expect(heartbeatCost(10_000).digestIntervalMs).toBeLessThan(4 * 60_000)
    expect(heartbeatCost(100_000).digestIntervalMs).toBeGreaterThan(25 * 60_000)
    expect(heartbeatCost(100_000).digestIntervalMs).toBeLessThanOrEqual(30 * 60_000)
  })

  it('digest sizes come from the real encoder: tags cost about 5 bytes, full entries a few hundred', () => {
    const tagsOnly = digestWireBytes(0, 150) - digestWireBytes(0, 0)
    expect(tagsOnly / 150).toBeGreaterThan(4)
    expect(tagsOnly / 150).toBeLessThan(7)
    const oneFull = digestWireBytes(1, 0) - digestWireBytes(0, 0)
    expect(oneFull).toBeGreaterThan(150)
    expect(oneFull).toBeLessThan(500)
  })
})

describe('HeartbeatTraffic: what simulated nodes receive', () => {
  const world = (n: number): TrafficWorld & { nodes: Array<{ i: number, id: string, liveness: 'up' | 'paused' | 'down', hbAttrs: Record<string, string>, hbAttrsVersion: number }>, popVersion: number, now: number } => {
    const nodes = Array.from({ length: n }, (_, i) => ({ i, id: `node-${String(i).padStart(6, '0')}`, liveness: 'up' as 'up' | 'paused' | 'down', hbAttrs: { battery: '50' }, hbAttrsVersion: 1 }))
    return { nodes, segOf: () => 0, segmentPopulation: () => nodes.filter(x => x.liveness !== 'down').length, popVersion: 0, now: 0 }
  }

  it('not sharded: a beat reaches every other node', () => {
    const w = world(100)
    const t = new HeartbeatTraffic(w)
    expect(t.beat(0, 0, 0)).toBe(100)
    expect(t.bytesReceived).toBe(360 * 3 * 99)
    t.digestRound()
    expect(t.digests).toBe(0)
  })

  it('sharded: a beat reaches its shard only, and each shard\'s two aggregators send a digest to every other node', () => {
    const w = world(1_000)
    const t = new HeartbeatTraffic(w)
    const bits = shardBitsFor(1_000, 0)
    const mine = w.nodes.filter(x => shardOf(peerHash(x.id), bits) === shardOf(peerHash('node-000000'), bits)).length
    expect(t.beat(0, 0, 0)).toBe(mine)
    expect(t.bytesReceived).toBe(360 * 3 * (mine - 1))
    const before = t.bytesReceived
    t.digestRound()
    expect(t.digests).toBe(2 * 2 ** bits)
    // The first digest of each shard lists as many peers in full as 8 KiB of entries hold (sized
    // with peer ids of their real length, longer than these), and the rest by tag.
    const perDigest = t.digestBytesReceived / t.digests / 1.5 / 999
    expect(perDigest).toBeGreaterThan(6 * 1024)
    expect(perDigest).toBeLessThan(16 * 1024)
    expect(t.bytesReceived - before).toBe(t.digestBytesReceived)
    // Not due again until its interval has passed.
    t.digestRound()
    expect(t.digests).toBe(2 * 2 ** bits)
    // At the pace this round set, what every node receives per second (the round's bytes over the
    // interval after it) is within the digest budget, though the whole round came at once. The node
    // paces on an estimate of the digest's size, a few per cent off the encoder's.
    const paced = t.pacedDigestBytesPerSec() / 1_000
    expect(paced).toBeGreaterThan(DIGEST_BUDGET * 0.5)
    expect(paced).toBeLessThanOrEqual(DIGEST_BUDGET * 1.1)
  })

  it('a shard whose two aggregators stopped still sends two digests, from the standbys', () => {
    const w = world(1_000)
    const t = new HeartbeatTraffic(w)
    t.digestRound()
    const first = t.digests
    const bits = shardBitsFor(1_000, 0)
    const shard = w.nodes.filter(x => shardOf(peerHash(x.id), bits) === 0)
    const ranked = rankAggregators(bits, 0, shard.map(x => ({ id: String(x.i), hash: peerHash(x.id) })))
    for (const i of ranked.slice(0, 2)) w.nodes[Number(i)]!.liveness = 'down'
    w.popVersion++
    w.now += 60 * 60_000
    t.digestRound()
    expect(shardBitsFor(998, bits)).toBe(bits)
    expect(t.digests - first).toBe(2 * 2 ** bits)
  })
})
