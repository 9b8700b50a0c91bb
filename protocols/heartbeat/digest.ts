/**
 * The shard digest's wire format (pb/digest.proto): a signed, versioned, size-limited summary of
 * the heartbeats one aggregator heard first-hand in its shard. Peers are listed in full (their
 * heartbeat, re-encoded with the heartbeat codec and all its limits) or by a 4-byte tag and an age.
 */
import { HeartbeatDigest as DigestPb, SignedDigest as SignedPb } from './pb/digest.js'
import {
  DIGEST_INTERVAL_MAX_MS, DIGEST_SCHEMA, HEARTBEAT_SHARD_TOPIC_PREFIX, MAX_DIGEST_BYTES, MAX_DIGEST_ENTRIES,
  MAX_FLEET_SIZE, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_ROLLOUTS, MAX_SHARD_BITS, MAX_TIMESTAMP_MS, MIN_INTERVAL_MS
} from './constants.js'
import { InvalidHeartbeatError, UnsupportedHeartbeatSchemaError } from './errors.js'
import { checkRollouts, decodeHeartbeat, encodeHeartbeat } from './heartbeat.js'
import type { Heartbeat, HeartbeatRollout } from './index.js'

export { DIGEST_INTERVAL_MAX_MS, MAX_SHARD_BITS }

/** One peer listed in full. */
export interface DigestEntry {
  peerId: string
  /** How long before the digest the aggregator last heard the peer, ms. */
  ageMs: number
  heartbeat: Heartbeat
}

/** One peer listed by its tag (last 4 bytes of sha256(peer id)). */
export interface DigestTag {
  tag: number
  /** Seconds since the aggregator last heard it, rounded up, in ms. */
  ageMs: number
}

/** One peer whose rollout state alone changed: its tag, age and rollout states now. */
export interface DigestRolloutUpdate extends DigestTag {
  rollouts: HeartbeatRollout[]
}

export interface HeartbeatDigest {
  shardBits: number
  shardIndex: number
  aggregator: string
  bootMs: number
  seq: number
  /** Until the aggregator's next digest, ms. */
  intervalMs: number
  fleetSize: number
  entries: DigestEntry[]
  tagged: DigestTag[]
  /** Absent and empty mean the same. */
  updated?: DigestRolloutUpdate[]
}

/** The gossip topic of shard `index` of 2^`bits`. */
export function shardTopic (bits: number, index: number): string {
  return `${HEARTBEAT_SHARD_TOPIC_PREFIX}${bits}/${index}`
}

/** The shard a topic names, or undefined for any other topic. */
export function parseShardTopic (topic: string): { bits: number, index: number } | undefined {
  if (!topic.startsWith(HEARTBEAT_SHARD_TOPIC_PREFIX)) return undefined
  const m = /^(\d{1,2})\/(\d{1,4})$/.exec(topic.slice(HEARTBEAT_SHARD_TOPIC_PREFIX.length))
  if (m == null) return undefined
  const bits = Number(m[1])
  const index = Number(m[2])
  if (bits < 1 || bits > MAX_SHARD_BITS || index >= 2 ** bits || shardTopic(bits, index) !== topic) return undefined
  return { bits, index }
}

function check (d: HeartbeatDigest): void {
  if (!Number.isInteger(d.shardBits) || d.shardBits < 1 || d.shardBits > MAX_SHARD_BITS) throw new InvalidHeartbeatError(`digest shardBits must be 1-${MAX_SHARD_BITS}`)
  if (!Number.isInteger(d.shardIndex) || d.shardIndex < 0 || d.shardIndex >= 2 ** d.shardBits) throw new InvalidHeartbeatError('digest shardIndex is outside the shard range')
  if (d.aggregator.length === 0 || d.aggregator.length > 128) throw new InvalidHeartbeatError('digest aggregator must be a peer id')
  if (!Number.isSafeInteger(d.bootMs) || d.bootMs <= 0 || d.bootMs > MAX_TIMESTAMP_MS) throw new InvalidHeartbeatError('digest bootMs must be positive and before 2200')
  if (!Number.isSafeInteger(d.seq) || d.seq < 1) throw new InvalidHeartbeatError('digest seq must be a positive integer')
  if (!Number.isInteger(d.intervalMs) || d.intervalMs < MIN_INTERVAL_MS || d.intervalMs > DIGEST_INTERVAL_MAX_MS) throw new InvalidHeartbeatError(`digest intervalMs must be ${MIN_INTERVAL_MS}-${DIGEST_INTERVAL_MAX_MS}`)
  if (!Number.isInteger(d.fleetSize) || d.fleetSize < 1 || d.fleetSize > MAX_FLEET_SIZE) throw new InvalidHeartbeatError('digest fleetSize is out of range')
  const listed = d.entries.length + d.tagged.length + (d.updated ?? []).length
  if (listed > MAX_DIGEST_ENTRIES) throw new InvalidHeartbeatError(`digest lists ${listed} peers, at most ${MAX_DIGEST_ENTRIES}`)
  const seen = new Set<string>()
  for (const e of d.entries) {
    if (e.peerId.length === 0 || e.peerId.length > 128) throw new InvalidHeartbeatError('digest entry peer must be a peer id')
    if (seen.has(e.peerId)) throw new InvalidHeartbeatError('digest lists a peer twice')
    seen.add(e.peerId)
    if (!Number.isInteger(e.ageMs) || e.ageMs < 0 || e.ageMs > 0xffffffff) throw new InvalidHeartbeatError('digest entry ageMs is out of range')
  }
  for (const t of [...d.tagged, ...(d.updated ?? [])]) {
    if (!Number.isInteger(t.tag) || t.tag < 0 || t.tag > 0xffffffff) throw new InvalidHeartbeatError('digest tag is out of range')
    if (!Number.isInteger(t.ageMs) || t.ageMs < 0) throw new InvalidHeartbeatError('digest tag age is out of range')
  }
  for (const u of d.updated ?? []) checkRollouts(u.rollouts)
}

/** The digest's payload bytes (what the aggregator signs). Enforces the limits a receiver will. */
export function encodeDigest (d: HeartbeatDigest): Uint8Array {
  check(d)
  const tags = new Uint8Array(4 * d.tagged.length)
  const view = new DataView(tags.buffer)
  d.tagged.forEach((t, i) => { view.setUint32(4 * i, t.tag) })
  return DigestPb.encode({
    schema: DIGEST_SCHEMA,
    shardBits: d.shardBits,
    shardIndex: d.shardIndex,
    aggregator: d.aggregator,
    bootMs: BigInt(d.bootMs),
    seq: BigInt(d.seq),
    intervalMs: d.intervalMs,
    fleetSize: d.fleetSize,
    entries: d.entries.map(e => ({ peer: e.peerId, ageMs: e.ageMs, heartbeat: encodeHeartbeat(e.heartbeat) as Uint8Array<ArrayBuffer> })),
    tags,
    tagAgeS: d.tagged.map(t => Math.ceil(t.ageMs / 1000)),
    updates: (d.updated ?? []).map(u => ({
      tag: u.tag,
      ageS: Math.ceil(u.ageMs / 1000),
      rollouts: u.rollouts.map(r => ({ name: r.name, policyVersion: BigInt(r.policyVersion), state: r.state, reason: r.reason, epoch: BigInt(r.epoch) }))
    }))
  })
}

/** The gossip message: payload and the aggregator's signature over it. */
export function encodeSignedDigest (payload: Uint8Array, signature: Uint8Array): Uint8Array {
  const bytes = SignedPb.encode({ payload: payload as Uint8Array<ArrayBuffer>, signature: signature as Uint8Array<ArrayBuffer> })
  if (bytes.byteLength > MAX_DIGEST_BYTES) throw new InvalidHeartbeatError(`digest is ${bytes.byteLength} bytes, at most ${MAX_DIGEST_BYTES}`)
  return bytes
}

const toNumber = (field: string, v: bigint): number => {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidHeartbeatError(`digest ${field} is out of range`)
  return Number(v)
}

/**
 * Decodes a signed digest from the network: the size is checked before anything is decoded, the
 * repeated fields while decoding, every listed heartbeat by the heartbeat decoder. The signature is
 * returned, not checked: the caller verifies it with the aggregator's key over `payload`.
 * Throws {@link InvalidHeartbeatError} or {@link UnsupportedHeartbeatSchemaError}.
 */
export function decodeSignedDigest (bytes: Uint8Array, maxBytes = MAX_DIGEST_BYTES): { digest: HeartbeatDigest, payload: Uint8Array, signature: Uint8Array } {
  if (bytes.byteLength > maxBytes) throw new InvalidHeartbeatError(`digest is ${bytes.byteLength} bytes, at most ${maxBytes}`)
  let signed: SignedPb
  let pb: DigestPb
  try {
    signed = SignedPb.decode(bytes)
    pb = DigestPb.decode(signed.payload, { limits: { entries: MAX_DIGEST_ENTRIES, tagAgeS: MAX_DIGEST_ENTRIES, updates: MAX_DIGEST_ENTRIES, updates$: { rollouts: MAX_HEARTBEAT_ROLLOUTS } } })
  } catch (err) {
    throw new InvalidHeartbeatError('digest does not decode', { cause: err })
  }
  if (pb.schema === 0) throw new InvalidHeartbeatError('digest has no schema revision')
  if (pb.schema > DIGEST_SCHEMA) throw new UnsupportedHeartbeatSchemaError(pb.schema)
  if (pb.tags.byteLength % 4 !== 0 || pb.tags.byteLength / 4 !== pb.tagAgeS.length) throw new InvalidHeartbeatError('digest tags and their ages do not match')
  if (signed.signature.byteLength === 0 || signed.signature.byteLength > 128) throw new InvalidHeartbeatError('digest signature is missing or too long')
  const view = new DataView(pb.tags.buffer, pb.tags.byteOffset, pb.tags.byteLength)
  const digest: HeartbeatDigest = {
    shardBits: pb.shardBits,
    shardIndex: pb.shardIndex,
    aggregator: pb.aggregator,
    bootMs: toNumber('bootMs', pb.bootMs),
    seq: toNumber('seq', pb.seq),
    intervalMs: pb.intervalMs,
    fleetSize: pb.fleetSize,
    entries: pb.entries.map(e => ({ peerId: e.peer, ageMs: e.ageMs, heartbeat: decodeHeartbeat(e.heartbeat, MAX_HEARTBEAT_BYTES) })),
    tagged: pb.tagAgeS.map((s, i) => ({ tag: view.getUint32(4 * i), ageMs: s * 1000 })),
    ...(pb.updates.length === 0 ? {} : { updated: pb.updates.map(u => ({
      tag: u.tag,
      ageMs: u.ageS * 1000,
      rollouts: u.rollouts.map(r => ({ name: r.name, policyVersion: toNumber('rollout policyVersion', r.policyVersion), state: r.state, reason: r.reason, epoch: toNumber('rollout epoch', r.epoch) }))
    })) })
  }
  check(digest)
  return { digest, payload: signed.payload, signature: signed.signature }
}
