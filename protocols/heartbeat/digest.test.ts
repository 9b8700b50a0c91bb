import { describe, expect, it } from 'vitest'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { HeartbeatDigest as DigestPb, SignedDigest as SignedPb } from './pb/digest.js'
import { DIGEST_SCHEMA, MAX_DIGEST_BYTES, MAX_DIGEST_ENTRIES } from './constants.js'
import { decodeSignedDigest, encodeDigest, encodeSignedDigest, parseShardTopic, shardTopic } from './digest.js'
import type { HeartbeatDigest } from './digest.js'
import type { Heartbeat } from './index.js'

const hb = (i: number): Heartbeat => ({
  bootMs: 1_700_000_000_000, seq: 40 + i, sentMs: 1_700_000_100_000, intervalMs: 53_000, nodeVersion: '0.1.0', uptimeMs: 100_000,
  labels: { zone: 'eu', class: 'camera' }, props: { cpus: '4', arch: 'arm64', 'mem.total': '4096', battery: '72.5' }, fleetSize: 10_000,
  models: [{ name: 'yolo', version: '2.1.0', cid: 'bafyreiabc', state: 'active' }],
  rollouts: [{ name: 'yolo-canary', policyVersion: 3, state: 'Active', reason: '', epoch: 2 }]
})

const digest = (over: Partial<HeartbeatDigest> = {}): HeartbeatDigest => ({
  shardBits: 6, shardIndex: 17, aggregator: '12D3KooWaggregator', bootMs: 1_700_000_000_000, seq: 9, intervalMs: 60_000, fleetSize: 10_000,
  entries: [{ peerId: '12D3KooWa', ageMs: 1200, heartbeat: hb(1) }, { peerId: '12D3KooWb', ageMs: 0, heartbeat: hb(2) }],
  tagged: Array.from({ length: 150 }, (_, i) => ({ tag: (i * 2654435761) >>> 0, ageMs: (i % 60) * 1000 })),
  ...over
})

describe('shard digest codec', () => {
  it('round-trips, signature over the exact payload bytes', async () => {
    const key = await generateKeyPair('Ed25519')
    const payload = encodeDigest(digest())
    const bytes = encodeSignedDigest(payload, await key.sign(payload))
    const out = decodeSignedDigest(bytes)
    expect(out.digest).toEqual(digest())
    expect(await key.publicKey.verify(out.payload, out.signature)).toBe(true)
    const other = await generateKeyPair('Ed25519')
    expect(await other.publicKey.verify(out.payload, out.signature)).toBe(false)
  })

  it('is compact: a shard of 150 with 2 changed peers is about 1.4 KB', () => {
    const bytes = encodeSignedDigest(encodeDigest(digest()), new Uint8Array(64))
    // 150 tags x (4 bytes + 1-byte age) = 750, two full entries of ~250 bytes, header and signature ~150.
    expect(bytes.byteLength).toBeLessThan(1500)
    expect(bytes.byteLength).toBeGreaterThan(1100)
  })

  it('rounds tag ages up to whole seconds (older, never younger)', () => {
    const out = decodeSignedDigest(encodeSignedDigest(encodeDigest(digest({ tagged: [{ tag: 1, ageMs: 1001 }] })), new Uint8Array(64)))
    expect(out.digest.tagged).toEqual([{ tag: 1, ageMs: 2000 }])
  })

  it('rejects an oversized digest before decoding it', () => {
    const huge = new Uint8Array(MAX_DIGEST_BYTES + 1)
    expect(() => decodeSignedDigest(huge)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HEARTBEAT', message: expect.stringMatching(/at most/) }))
  })

  it('rejects more entries than the limit while decoding', () => {
    const payload = DigestPb.encode({
      schema: DIGEST_SCHEMA, shardBits: 1, shardIndex: 0, aggregator: 'a', bootMs: 1n, seq: 1n, intervalMs: 1000, fleetSize: 1,
      entries: [], tags: new Uint8Array(0), tagAgeS: new Array(MAX_DIGEST_ENTRIES + 1).fill(1)
    })
    expect(() => decodeSignedDigest(SignedPb.encode({ payload, signature: new Uint8Array(64) }))).toThrow(/does not decode/)
  })

  it.each([
    ['a shard out of range', { shardIndex: 64 }, /shardIndex/],
    ['no shard bits', { shardBits: 0 }, /shardBits/],
    ['an interval past the maximum', { intervalMs: 31 * 60_000 }, /intervalMs/],
    ['a peer listed twice', { entries: [{ peerId: 'p', ageMs: 0, heartbeat: hb(1) }, { peerId: 'p', ageMs: 0, heartbeat: hb(2) }] }, /twice/]
  ] as const)('refuses to encode %s', (_what, over, message) => {
    expect(() => encodeDigest(digest(over as Partial<HeartbeatDigest>))).toThrow(message)
  })

  it('rejects tags whose ages do not match, a missing signature, and a bad listed heartbeat', () => {
    const base = { schema: DIGEST_SCHEMA, shardBits: 1, shardIndex: 0, aggregator: 'a', bootMs: 1n, seq: 1n, intervalMs: 1000, fleetSize: 1, entries: [] }
    const mismatch = DigestPb.encode({ ...base, tags: new Uint8Array(8), tagAgeS: [1] })
    expect(() => decodeSignedDigest(SignedPb.encode({ payload: mismatch, signature: new Uint8Array(64) }))).toThrow(/tags/)
    const ok = DigestPb.encode({ ...base, tags: new Uint8Array(0), tagAgeS: [] })
    expect(() => decodeSignedDigest(SignedPb.encode({ payload: ok, signature: new Uint8Array(0) }))).toThrow(/signature/)
    const badHb = DigestPb.encode({ ...base, tags: new Uint8Array(0), tagAgeS: [], entries: [{ peer: 'p', ageMs: 0, heartbeat: new Uint8Array([1, 2, 3]) }] })
    expect(() => decodeSignedDigest(SignedPb.encode({ payload: badHb, signature: new Uint8Array(64) }))).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HEARTBEAT' }))
  })

  it('a newer schema is unsupported (ignored, not penalised), none at all is invalid', () => {
    const base = { shardBits: 1, shardIndex: 0, aggregator: 'a', bootMs: 1n, seq: 1n, intervalMs: 1000, fleetSize: 1, entries: [], tags: new Uint8Array(0), tagAgeS: [] }
    const newer = SignedPb.encode({ payload: DigestPb.encode({ ...base, schema: DIGEST_SCHEMA + 1 }), signature: new Uint8Array(64) })
    expect(() => decodeSignedDigest(newer)).toThrow(expect.objectContaining({ code: 'ERR_UNSUPPORTED_HEARTBEAT_SCHEMA' }))
    const none = SignedPb.encode({ payload: DigestPb.encode({ ...base, schema: 0 }), signature: new Uint8Array(64) })
    expect(() => decodeSignedDigest(none)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_HEARTBEAT' }))
  })
})

describe('shard topics', () => {
  it('name a shard and parse back; anything else is no shard topic', () => {
    expect(shardTopic(6, 17)).toBe('tutti/heartbeat/1/s6/17')
    expect(parseShardTopic('tutti/heartbeat/1/s6/17')).toEqual({ bits: 6, index: 17 })
    for (const t of ['tutti/heartbeat/1', 'tutti/heartbeat/1/digest', 'tutti/heartbeat/1/s6/64', 'tutti/heartbeat/1/s0/0', 'tutti/heartbeat/1/s11/0', 'tutti/heartbeat/1/s6/017']) {
      expect(parseShardTopic(t)).toBeUndefined()
    }
  })
})
