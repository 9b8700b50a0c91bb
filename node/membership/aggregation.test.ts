import { describe, expect, it } from 'vitest'
import { encodeHeartbeat } from '../../protocols/heartbeat/index.js'
import { detailKey, estimateDigestBytes, planDigest, projectForDigest, rolloutKey } from './aggregation.js'
import type { Heartbeat } from '../../protocols/heartbeat/index.js'
import type { ShardMember } from './aggregation.js'

const hb = (over: Partial<Heartbeat> = {}): Heartbeat => ({
  bootMs: 1_000_000, seq: 5, sentMs: 1_050_000, intervalMs: 5000, nodeVersion: '0.1.0', uptimeMs: 50_000,
  labels: { zone: 'eu' }, props: { battery: '80', 'mem.free': '1234567', cpus: '4' }, fleetSize: 300,
  models: [{ name: 'm', version: '1.0.0', cid: 'bafyx', state: 'active', stats: { n: 10, e: 0, p50: 3, p95: 9, p99: 12, nf: 0, mb: 40 } }],
  ...over
})

const member = (peerId: string, over: Partial<Heartbeat> = {}): ShardMember => ({ peerId, tag: peerId.charCodeAt(0), ageMs: 1500, heartbeat: hb(over) })

describe('projectForDigest: a heartbeat as a digest carries it', () => {
  it('leaves out inference stats and volatile properties, keeps what selectors and rollouts read', () => {
    const p = projectForDigest(hb({ rollouts: [{ name: 'r', policyVersion: 1, state: 'Active', reason: '', epoch: 1 }] }))
    expect(p.props).toEqual({ battery: '80', cpus: '4' })
    expect(p.models).toEqual([{ name: 'm', version: '1.0.0', cid: 'bafyx', state: 'active' }])
    expect(p.rollouts).toEqual([{ name: 'r', policyVersion: 1, state: 'Active', reason: '', epoch: 1 }])
    expect(p.labels).toEqual({ zone: 'eu' })
    expect(encodeHeartbeat(p).byteLength).toBeLessThan(encodeHeartbeat(hb()).byteLength)
  })

  it('its detail does not change with seq, times, mem.free, stats or rollout state; it does with battery and boot', () => {
    const key = detailKey(projectForDigest(hb()))
    expect(detailKey(projectForDigest(hb({ seq: 9, sentMs: 1_060_000, uptimeMs: 60_000, props: { battery: '80', 'mem.free': '1', cpus: '4' } })))).toBe(key)
    expect(detailKey(projectForDigest(hb({ rollouts: [{ name: 'r', policyVersion: 1, state: 'Loading', reason: '', epoch: 1 }] })))).toBe(key)
    expect(detailKey(projectForDigest(hb({ props: { battery: '79', cpus: '4' } })))).not.toBe(key)
    expect(detailKey(projectForDigest(hb({ bootMs: 1_000_001 })))).not.toBe(key)
    expect(rolloutKey(projectForDigest(hb({ rollouts: [{ name: 'r', policyVersion: 1, state: 'Loading', reason: '', epoch: 1 }] })))).not.toBe(rolloutKey(projectForDigest(hb())))
  })
})

describe('planDigest: in full or by tag', () => {
  const members = [member('a'), member('b'), member('c')]

  it('a full round lists everyone in full', () => {
    const plan = planDigest(members, new Map(), true)
    expect(plan.entries.map(e => e.peerId)).toEqual(['a', 'b', 'c'])
    expect(plan.tagged).toEqual([])
    expect([...plan.sent.keys()]).toEqual(['a', 'b', 'c'])
  })

  it('otherwise only new and changed peers go in full, the rest by tag with their age', () => {
    const sent = planDigest(members, new Map(), true).sent
    const next = [member('a'), member('b', { props: { battery: '10', cpus: '4' } }), member('c'), member('d')]
    const plan = planDigest(next, sent, false)
    expect(plan.entries.map(e => e.peerId)).toEqual(['b', 'd'])
    expect(plan.tagged).toEqual([{ tag: 'a'.charCodeAt(0), ageMs: 1500 }, { tag: 'c'.charCodeAt(0), ageMs: 1500 }])
    expect(plan.entries[0]!.heartbeat.props).toEqual({ battery: '10', cpus: '4' })
  })

  it('forgets peers no longer in the shard, so the next time they come back in full', () => {
    const sent = planDigest(members, new Map(), true).sent
    expect([...planDigest([member('a')], sent, false).sent.keys()]).toEqual(['a'])
  })

  it('a peer whose rollout state alone changed goes as a rollout update, not in full', () => {
    const sent = planDigest(members, new Map(), true).sent
    const loading = [{ name: 'r', policyVersion: 1, state: 'Loading', reason: '', epoch: 1 }]
    const plan = planDigest([member('a'), member('b', { rollouts: loading })], sent, false)
    expect(plan.entries).toEqual([])
    expect(plan.updated).toEqual([{ tag: 'b'.charCodeAt(0), ageMs: 1500, rollouts: loading }])
    expect(plan.tagged.map(t => t.tag)).toEqual(['a'.charCodeAt(0)])
    // Sent now: the same state again goes by tag.
    expect(planDigest([member('b', { rollouts: loading })], plan.sent, false).updated).toEqual([])
  })

  it('past the bytes of full entries a digest may carry, the rest go by tag and stay unsent, for the next digest', () => {
    const one = encodeHeartbeat(projectForDigest(hb())).byteLength + 1 + 12
    const plan = planDigest(members, new Map(), true, 2 * one)
    expect(plan.entries.map(e => e.peerId)).toEqual(['a', 'b'])
    expect(plan.tagged.map(t => t.tag)).toEqual(['c'.charCodeAt(0)])
    expect(plan.sent.has('c')).toBe(false)
    expect(planDigest(members, plan.sent, false, 2 * one).entries.map(e => e.peerId)).toEqual(['c'])
    // One entry always goes, however small the allowance: the listing makes progress.
    expect(planDigest(members, new Map(), true, 1).entries).toHaveLength(1)
  })

  it('estimates a digest\'s bytes a little over what the encoder writes', () => {
    const plan = planDigest(members, new Map(), true)
    expect(estimateDigestBytes(plan)).toBeGreaterThan(plan.entries.reduce((n, e) => n + encodeHeartbeat(e.heartbeat).byteLength, 0))
  })
})
