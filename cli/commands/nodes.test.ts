import { describe, expect, it } from 'vitest'
import { formatDescription } from './nodes.js'
import type { NodeDescription } from '../../node/tutti-node.js'

describe('describe node', () => {
  const node: NodeDescription = {
    peerId: '12D3KooWtest', self: false, status: 'alive', ageMs: 100, intervalMs: 1000, connected: true, addresses: [],
    nodeVersion: '0.1.0', uptimeMs: 1000, bootMs: 0, restarts: 0, firstSeenMs: 0, fleetSize: 2, labels: {}, props: {},
    models: [
      { name: 'clf', version: '1.0.0', cid: 'bagaa', state: 'active', stats: { n: 60, e: 0, p50: 1.2, p95: 2, p99: 3, nf: 0, mb: 40 } },
      { name: 'clf', version: '1.1.0', cid: 'bagab', state: 'staged', stats: { n: 6, e: 0, p50: 1.3, p95: 2, p99: 3, nf: 0, mb: 40, ag: 1, sc: 6, fr: 0.1 } }
    ]
  } as unknown as NodeDescription

  it("shows a shadow's own request count, its fraction and the samples its agreement is over", () => {
    const text = formatDescription('12D3KooWobserver', node)
    expect(text).toContain('clf@1.1.0 staged, shadow on 10% of requests: 6 requests, 0 errors')
    expect(text).toContain('agreement 1 over 6 compared samples')
    expect(text).toContain('clf@1.0.0 active: 60 requests')
  })

  it("shows the answering node's local health: on time, or how much more time it gives its peers", () => {
    expect(formatDescription('12D3KooWobserver', node)).not.toContain('Local health')
    expect(formatDescription('12D3KooWobserver', { ...node, self: true, localHealth: 0 })).toMatch(/Local health:\s+0 \(timers on time\)/)
    expect(formatDescription('12D3KooWobserver', { ...node, self: true, localHealth: 3 })).toContain('3: timers late, peers get 4x the usual time before suspect and dead')
  })

  it('shows what coordinators asked of the answering node, by kind', () => {
    expect(formatDescription('12D3KooWobserver', node)).not.toContain('Coordinator asks')
    expect(formatDescription('12D3KooWobserver', { ...node, self: true, rolloutRequests: { prepare: 2, command: 1, report: 17 } }))
      .toMatch(/Coordinator asks:\s+2 prepare, 1 command, 17 report \(answered since start\)/)
  })

  it('says a node outside the observer\'s shard is known from a shard digest, and what that leaves out', () => {
    const text = formatDescription('12D3KooWobserver', { ...node, via: 'digest', aggregator: '12D3KooWaggregatorXYZ' })
    expect(text).toMatch(/Known from:?\s+the shard digest of \S*gatorXYZ \(no inference stats, no mem.free/)
    expect(formatDescription('12D3KooWobserver', node)).not.toContain('Known from')
  })
})
