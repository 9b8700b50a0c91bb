import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { seededRandom } from '../../core/random.js'
import { PolicyGossip, randomRegularGraph } from './gossip.js'
import type { PolicyAccepted } from './gossip.js'

const LINK = { latencyMs: 20, jitterMs: 5, bytesPerSec: 2_500_000, loss: 0.01 }
const V1 = { name: 'r', version: 1, cid: 'bagaaieraaaa' }
const V2 = { name: 'r', version: 2, cid: 'bagaaierabbb' }

function net (n: number, seed: number): { clock: ManualClock, gossip: PolicyGossip, events: PolicyAccepted[] } {
  const clock = new ManualClock(0)
  const events: PolicyAccepted[] = []
  const gossip = new PolicyGossip(clock, seededRandom(seed), LINK, n, 6, e => { events.push(e) })
  return { clock, gossip, events }
}

describe('policy gossip model', () => {
  it('builds a connected graph where every node has at least two neighbours', () => {
    const adj = randomRegularGraph(500, 6, seededRandom(3))
    expect(adj.every(a => a.length >= 2 && a.length <= 6)).toBe(true)
    const seen = new Set([0])
    const queue = [0]
    while (queue.length > 0) for (const p of adj[queue.pop()!]!) if (!seen.has(p)) { seen.add(p); queue.push(p) }
    expect(seen.size).toBe(500)
  })

  it('reaches every node of 2,000 within a few hops, deterministically from the seed', () => {
    const runs = [1, 1].map(seed => {
      const { clock, gossip, events } = net(2000, seed)
      gossip.apply(0, V1)
      clock.advance(60_000)
      expect(gossip.nodes.every(s => s.held.get('r')?.version === 1)).toBe(true)
      return events.map(e => [e.atMs, e.node])
    })
    expect(runs[0]).toEqual(runs[1])
    expect(Math.max(...runs[0]!.map(([t]) => t!))).toBeLessThan(20 * 25)
  })

  it('keeps a policy inside its side of a partition until the heal, then converges everywhere', () => {
    const { clock, gossip } = net(500, 9)
    gossip.apply(0, V1)
    clock.advance(5_000)
    gossip.partition(i => (i < 250 ? 0 : 1))
    gossip.apply(0, V2)
    clock.advance(30_000)
    const v2 = gossip.nodes.filter(s => s.held.get('r')?.version === 2).length
    expect(v2).toBeLessThanOrEqual(250)
    expect(gossip.nodes.slice(250).every(s => s.held.get('r')?.version === 1)).toBe(true)
    gossip.heal()
    clock.advance(30_000)
    expect(gossip.nodes.every(s => s.held.get('r')?.version === 2)).toBe(true)
  })

  it('never lets an older version replace a newer one, and a restarted node catches up', () => {
    const { clock, gossip, events } = net(200, 4)
    gossip.crash(7)
    gossip.apply(1, V2)
    clock.advance(10_000)
    gossip.apply(2, V1)
    clock.advance(10_000)
    expect(events.some(e => e.policy.version === 1)).toBe(false)
    expect(gossip.nodes[7]!.held.size).toBe(0)
    gossip.restart(7)
    clock.advance(1_000)
    expect(gossip.nodes[7]!.held.get('r')?.version).toBe(2)
  })
})
