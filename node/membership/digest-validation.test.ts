import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { HEARTBEAT_DIGEST_TOPIC, HEARTBEAT_TOPIC, MAX_DIGEST_BYTES, encodeDigest, encodeHeartbeat, encodeSignedDigest } from '../../protocols/heartbeat/index.js'
import { Membership } from './membership.js'
import { peerHash, rankAggregators, shardOf } from './shards.js'
import type { Heartbeat, HeartbeatDigest } from '../../protocols/heartbeat/index.js'
import type { ValidationResult } from './membership.js'
import type { PrivateKey } from '@libp2p/interface'

type Validator = (from: string, data: Uint8Array, source?: string) => ValidationResult
type Handler = (from: string, data: Uint8Array, source?: string) => void

const T0 = 1_700_000_000_000

/** A membership whose transport hands its validators and handlers, per topic, to the test. */
function receiver (clock: ManualClock): { m: Membership, deliver: (topic: string, from: string, data: Uint8Array) => ValidationResult } {
  const validators = new Map<string, Validator>()
  const handlers = new Map<string, Handler>()
  const m = new Membership({
    clock,
    logger: silentLogger,
    random: () => 0.5,
    peerId: 'receiver',
    readProperties: async () => ({}),
    verifyDigest: (aggregator, payload, signature) => peerIdFromString(aggregator).publicKey?.verify(payload, signature) === true,
    transport: {
      subscribe: (topic, fn) => { handlers.set(topic, fn) },
      unsubscribe: topic => { handlers.delete(topic) },
      setValidator: (topic, fn) => { validators.set(topic, fn) },
      removeValidator: topic => { validators.delete(topic) },
      publish: async () => {}
    }
  }, { interval: { baseIntervalMs: 1000 } })
  const deliver = (topic: string, from: string, data: Uint8Array): ValidationResult => {
    const verdict = validators.get(topic)?.(from, data, from) ?? 'accept'
    if (verdict === 'accept') handlers.get(topic)?.(from, data, from)
    return verdict
  }
  return { m, deliver }
}

const heartbeat = (clock: ManualClock, seq = 1, props: Record<string, string> = { battery: '80' }): Heartbeat => ({
  bootMs: T0, seq, sentMs: clock.now(), intervalMs: 1000, nodeVersion: '0.1.0', uptimeMs: clock.now() - T0, labels: { zone: 'eu' }, props, fleetSize: 300
})

async function keyInShard (bits: number, index: number): Promise<{ key: PrivateKey, id: string }> {
  for (;;) {
    const key = await generateKeyPair('Ed25519')
    const id = peerIdFromPrivateKey(key).toString()
    if (shardOf(peerHash(id), bits) === index) return { key, id }
  }
}

async function sealed (key: PrivateKey, d: HeartbeatDigest): Promise<Uint8Array> {
  const payload = encodeDigest(d)
  return encodeSignedDigest(payload, await key.sign(payload))
}

describe('shard digests at a receiver: validation and merge', () => {
  it('merges a digest from its shard\'s aggregator: listed peers join, judged by the digest interval, and a later tag refreshes them', async () => {
    const clock = new ManualClock(T0 + 60_000)
    const { m, deliver } = receiver(clock)
    m.start()
    const agg = await keyInShard(1, 1)
    const digest: HeartbeatDigest = {
      shardBits: 1, shardIndex: 1, aggregator: agg.id, bootMs: T0, seq: 1, intervalMs: 20_000, fleetSize: 300,
      entries: [{ peerId: agg.id, ageMs: 0, heartbeat: heartbeat(clock) }, { peerId: 'remote-peer', ageMs: 4000, heartbeat: heartbeat(clock, 7) }],
      tagged: []
    }
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, digest))).toBe('accept')
    const remote = m.get('remote-peer')!
    expect(remote).toMatchObject({ status: 'alive', via: 'digest', aggregator: agg.id, seq: 7, ageMs: 4000, props: { battery: '80' } })
    // 3 digest intervals (not 3 of its own 1 s) before it is suspect.
    clock.advance(50_000)
    expect(m.get('remote-peer')!.status).toBe('alive')
    const tag = peerHash('remote-peer').readUInt32BE(28)
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, { ...digest, seq: 2, entries: [], tagged: [{ tag, ageMs: 1000 }] }))).toBe('accept')
    expect(m.get('remote-peer')!.ageMs).toBe(1000)
    // A rollout update replaces its rollout state.
    const rollouts = [{ name: 'cam-v2', policyVersion: 3, state: 'Active', reason: '', epoch: 2 }]
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, { ...digest, seq: 3, entries: [], updated: [{ tag, ageMs: 0, rollouts }] }))).toBe('accept')
    expect(m.get('remote-peer')!.rollouts).toEqual(rollouts)
    // Dropped from the digests, it ages out as any silent peer.
    clock.advance(6 * 20_000 + 1)
    m.sweep()
    expect(m.get('remote-peer')!.status).toBe('dead')
    expect(m.getStats()).toMatchObject({ digestsAccepted: 3, digestsRejected: 0 })
    m.stop()
  })

  it('never lets a digest override fresh first-hand detail', async () => {
    const clock = new ManualClock(T0 + 60_000)
    const { m, deliver } = receiver(clock)
    m.start()
    const agg = await keyInShard(1, shardOf(peerHash('first-hand'), 1))
    expect(deliver(HEARTBEAT_TOPIC, 'first-hand', encodeHeartbeat(heartbeat(clock, 5, { battery: '80', 'mem.free': '1000' })))).toBe('accept')
    const listing = heartbeat(clock, 6, { battery: '10' })
    const digest: HeartbeatDigest = { shardBits: 1, shardIndex: shardOf(peerHash('first-hand'), 1), aggregator: agg.id, bootMs: T0, seq: 1, intervalMs: 20_000, fleetSize: 300, entries: [{ peerId: 'first-hand', ageMs: 0, heartbeat: listing }], tagged: [] }
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, digest))).toBe('accept')
    expect(m.get('first-hand')).toMatchObject({ via: 'heartbeat', seq: 5, props: { battery: '80', 'mem.free': '1000' } })
    m.stop()
  })

  it('rejects (penalises) a digest that is invalid, oversized, signed by another key or claiming a shard its author is not in', async () => {
    const clock = new ManualClock(T0 + 60_000)
    const { m, deliver } = receiver(clock)
    m.start()
    const agg = await keyInShard(1, 0)
    const other = await generateKeyPair('Ed25519')
    const base: HeartbeatDigest = { shardBits: 1, shardIndex: 0, aggregator: agg.id, bootMs: T0, seq: 1, intervalMs: 20_000, fleetSize: 300, entries: [], tagged: [] }
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, new Uint8Array([1, 2, 3]))).toBe('reject')
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, new Uint8Array(MAX_DIGEST_BYTES + 1))).toBe('reject')
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(other, base))).toBe('reject')
    // Validly signed, but gossip says another peer published it.
    const impostor = await keyInShard(1, 0)
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, impostor.id, await sealed(agg.key, base))).toBe('reject')
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, { ...base, shardIndex: 1 }))).toBe('reject')
    expect(m.getStats()).toMatchObject({ digestsRejected: 5, digestsAccepted: 0 })
    expect(m.view().map(x => x.peerId)).toEqual(['receiver'])
    m.stop()
  })

  it('ignores (no penalty) a replay, and a digest from a peer this view does not rank among the shard\'s aggregators', async () => {
    const clock = new ManualClock(T0 + 60_000)
    const { m, deliver } = receiver(clock)
    m.start()
    const agg = await keyInShard(1, 0)
    const d: HeartbeatDigest = { shardBits: 1, shardIndex: 0, aggregator: agg.id, bootMs: T0, seq: 4, intervalMs: 20_000, fleetSize: 300, entries: [], tagged: [] }
    const bytes = await sealed(agg.key, d)
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, bytes)).toBe('accept')
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, bytes)).toBe('ignore')
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, agg.id, await sealed(agg.key, { ...d, seq: 3 }))).toBe('ignore')
    // Six live members of shard 0 in this view; an author ranked fifth or later is no aggregator here.
    const members: string[] = []
    for (let i = 0; members.length < 6; i++) if (shardOf(peerHash(`member-${i}`), 1) === 0) members.push(`member-${i}`)
    for (const id of members) expect(deliver(HEARTBEAT_TOPIC, id, encodeHeartbeat(heartbeat(clock)))).toBe('accept')
    let far: { key: PrivateKey, id: string }
    for (;;) {
      far = await keyInShard(1, 0)
      const ranked = rankAggregators(1, 0, [...members, far.id].map(id => ({ id, hash: peerHash(id) })))
      if (ranked.indexOf(far.id) >= 4) break
    }
    expect(deliver(HEARTBEAT_DIGEST_TOPIC, far.id, await sealed(far.key, { ...d, aggregator: far.id, seq: 1 }))).toBe('ignore')
    expect(m.getStats()).toMatchObject({ digestsAccepted: 1, digestsIgnored: 3, digestsRejected: 0 })
    m.stop()
  })
})
