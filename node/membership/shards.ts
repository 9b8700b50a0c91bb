/**
 * Heartbeat aggregation, as pure functions (docs/HEARTBEATS.md, "Aggregation"). Past a fleet size
 * where the adaptive interval caps (about 230 nodes), every node hearing every heartbeat costs each
 * node O(N). Instead, nodes split into shards by a hash of their peer id, publish heartbeats on
 * their shard's topic and hear only their shard first-hand; in each shard the peers XOR-closest to
 * the shard key aggregate, publishing a compact digest of the shard on one global topic. Every node
 * merges the digests into its view, so the view still holds the whole fleet.
 *
 * Everything here is deterministic from peer ids and the fleet-size estimate, so nodes agree on
 * shards and aggregators without talking; the simulator runs the same functions.
 */
import { hash } from 'node:crypto'
import { DIGEST_INTERVAL_MAX_MS, MAX_SHARD_BITS, shardTopic } from '../../protocols/heartbeat/digest.js'
import { targetIntervalMs } from './interval.js'
import type { IntervalParams } from './interval.js'

export { MAX_SHARD_BITS, shardTopic }

export interface AggregationParams {
  /**
   * Fleet size (this node's corroborated estimate) from which heartbeats are sharded; below it the
   * fleet runs exactly as without aggregation. Just past where the 60 s interval cap binds.
   * @default 240
   */
  shardAboveNodes: number
  /**
   * Fewest nodes a shard should hold: shards are a power of two in number, as many as keep each at
   * `minShardSize` to twice that (100-200 by default). @default 100
   */
  minShardSize: number
  /** Aggregators that publish a digest of each shard (the XOR-closest alive). @default 2 */
  aggregators: number
  /** The next closest, which take over when a serving one dies; receivers accept their digests too. @default 2 */
  standby: number
  /**
   * Digest bytes per second one node is willing to receive, all shards together; the digest
   * interval is sized on it as the heartbeat interval is sized on its own budget. @default 4096
   */
  digestBudgetBytesPerSec: number
  /**
   * Every this many digests, an aggregator lists every peer in full (otherwise only peers whose
   * detail changed; the rest by a 4-byte tag), so a node that just joined learns them. Full
   * listings are most of a digest's bytes: at 20, a third of them in a shard of 150. @default 20
   */
  fullEveryDigests: number
  /**
   * Copies of each digest a node receives on average. Digests are larger than gossipsub's IDONTWANT
   * threshold (512 bytes), so a node that has one tells its mesh peers not to send it again; most
   * duplicates never leave (heartbeats, below it, are budgeted at 3). @default 1.5
   */
  digestAmplification: number
  /** Bytes of full entries one digest carries at most (aggregation.ts `planDigest`). @default 8192 */
  digestFullBytes: number
}

export const DEFAULT_AGGREGATION: AggregationParams = {
  shardAboveNodes: 240,
  minShardSize: 100,
  aggregators: 2,
  standby: 2,
  digestBudgetBytesPerSec: 4096,
  fullEveryDigests: 20,
  digestAmplification: 1.5,
  digestFullBytes: 8 * 1024
}

export function validateAggregation (p: AggregationParams): AggregationParams {
  if (!(Number.isSafeInteger(p.shardAboveNodes) && p.shardAboveNodes >= 2)) throw new RangeError('shardAboveNodes must be an integer >= 2')
  if (!(Number.isSafeInteger(p.minShardSize) && p.minShardSize >= 1)) throw new RangeError('minShardSize must be an integer >= 1')
  if (!(Number.isSafeInteger(p.aggregators) && p.aggregators >= 1)) throw new RangeError('aggregators must be an integer >= 1')
  if (!(Number.isSafeInteger(p.standby) && p.standby >= 0)) throw new RangeError('standby must be an integer >= 0')
  if (!(p.digestBudgetBytesPerSec > 0)) throw new RangeError('digestBudgetBytesPerSec must be > 0')
  if (!(Number.isSafeInteger(p.fullEveryDigests) && p.fullEveryDigests >= 1)) throw new RangeError('fullEveryDigests must be an integer >= 1')
  if (!(p.digestAmplification >= 1)) throw new RangeError('digestAmplification must be >= 1')
  if (!(p.digestFullBytes >= 512)) throw new RangeError('digestFullBytes must be >= 512')
  return p
}

/**
 * How many bits of the peer-id hash name a shard (2^bits shards; 0: not sharded) for a fleet of
 * `fleetSize`. Below `shardAboveNodes`, 0; above, the most bits that keep shards at least
 * `minShardSize` (at least 1 bit). Hysteresis keeps `currentBits` while it stays reasonable, so a
 * wobbling estimate does not move everyone between topics: sharding ends only below 80% of the
 * threshold, and the bit count changes only when shards would hold under 80% of `minShardSize` or
 * 2.5 times it or more. `fleetBits`, the bits most digests heard lately use, wins whenever it is
 * within those bounds, so that nodes agree.
 */
export function shardBitsFor (fleetSize: number, currentBits: number, params: AggregationParams = DEFAULT_AGGREGATION, fleetBits?: number): number {
  const n = Math.max(1, fleetSize)
  if (currentBits === 0 && n < params.shardAboveNodes) return 0
  if (currentBits > 0 && n < 0.8 * params.shardAboveNodes) return 0
  const inBand = (bits: number): boolean => {
    const perShard = n / 2 ** bits
    return bits >= 1 && bits <= MAX_SHARD_BITS && perShard >= 0.8 * params.minShardSize && perShard < 2.5 * params.minShardSize
  }
  // What the rest of the fleet uses, when it is reasonable here too: nodes whose estimates
  // crossed a boundary at different moments end up on the same shards.
  if (fleetBits != null && inBand(fleetBits)) return fleetBits
  if (currentBits > 0 && inBand(currentBits)) return currentBits
  return Math.min(MAX_SHARD_BITS, Math.max(1, Math.floor(Math.log2(n / params.minShardSize))))
}

/**
 * The shard bits most of the digests heard lately use (`recent`, newest last), if more of them use
 * it than use `currentBits`, or as many and it is larger; otherwise undefined. What
 * {@link shardBitsFor} converges on. The tie goes to the larger count of bits, the same way on
 * every node: two groups on different bits whose aggregators publish digests at the same pace hear
 * them in equal numbers, and without it each group would keep its own bits for good.
 */
export function fleetShardBits (recent: readonly number[], currentBits: number): number | undefined {
  const counts = new Map<number, number>()
  for (const b of recent) counts.set(b, (counts.get(b) ?? 0) + 1)
  let best: number | undefined
  let bestBits = currentBits
  let bestCount = counts.get(currentBits) ?? 0
  for (const [b, c] of counts) {
    if (c > bestCount || (c === bestCount && c > 0 && b > bestBits)) { best = b; bestBits = b; bestCount = c }
  }
  return best
}

/** sha256 of the peer id's string form: the shard prefix and the aggregator distance come from it. */
export function peerHash (peerId: string): Buffer {
  return hash('sha256', peerId, 'buffer')
}

/** The shard (0 .. 2^bits - 1) of a peer: the top `bits` bits of its hash. */
export function shardOf (peerHashBytes: Uint8Array, bits: number): number {
  if (bits === 0) return 0
  // bits <= 10 (MAX_SHARD_BITS): the first two bytes hold them.
  const top = (peerHashBytes[0]! << 8) | peerHashBytes[1]!
  return top >>> (16 - bits)
}

/** A 4-byte tag of a peer (the last 4 bytes of its hash): how a digest names a peer it does not list in full. */
export function peerTag (peerHashBytes: Uint8Array): number {
  const b = peerHashBytes
  const n = b.length
  return ((b[n - 4]! << 24) | (b[n - 3]! << 16) | (b[n - 2]! << 8) | b[n - 1]!) >>> 0
}

/** The point of the hash space aggregators of a shard are chosen around. */
export function shardKey (bits: number, index: number): Buffer {
  return hash('sha256', `tutti/shard/${bits}/${index}`, 'buffer')
}

/** Negative when `a` is XOR-closer to `key` than `b` (ties, which sha256 makes vanishingly rare, by id). */
function compareDistance (key: Uint8Array, a: { id: string, h: Uint8Array }, b: { id: string, h: Uint8Array }): number {
  for (let i = 0; i < key.length; i++) {
    const da = a.h[i]! ^ key[i]!
    const db = b.h[i]! ^ key[i]!
    if (da !== db) return da - db
  }
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * `candidates` ordered by XOR distance of their hash to the shard key, closest first: the first
 * `aggregators` serve, the next `standby` stand by. Every node ranks the same live set the same way.
 */
export function rankAggregators (bits: number, index: number, candidates: Iterable<{ id: string, hash: Uint8Array }>): string[] {
  const key = shardKey(bits, index)
  const list = [...candidates].map(c => ({ id: c.id, h: c.hash }))
  list.sort((a, b) => compareDistance(key, a, b))
  return list.map(c => c.id)
}

export type AggregatorRole = 'serving' | 'standby' | 'none'

/** This node's role in its shard, given the shard's members it sees alive (itself included). */
export function aggregatorRole (self: string, ranked: readonly string[], params: AggregationParams = DEFAULT_AGGREGATION): AggregatorRole {
  const at = ranked.indexOf(self)
  if (at < 0) return 'none'
  if (at < params.aggregators) return 'serving'
  if (at < params.aggregators + params.standby) return 'standby'
  return 'none'
}

/**
 * Whether a receiver takes a digest from `author` for a shard: the author must rank among the
 * serving and standby aggregators of the shard's members the receiver sees alive (the author
 * added). Views differ a little from node to node, hence the standby margin; a receiver that
 * sees none of the shard takes it.
 */
export function acceptsAggregator (author: string, rankedWithAuthor: readonly string[], params: AggregationParams = DEFAULT_AGGREGATION): boolean {
  const at = rankedWithAuthor.indexOf(author)
  return at >= 0 && at < params.aggregators + params.standby
}

/**
 * The bytes of full entries a digest may carry in a fleet of `shards` shards whose members are
 * `members`: at most `digestFullBytes`, and no more than keeps the digest's wait within
 * {@link DIGEST_INTERVAL_MAX_MS} (past that the budget would no longer hold: at 100,000 nodes a
 * digest may be about 4.8 KB, 3.4 KB of it full entries). Full listings then take more digests,
 * not more bytes a second.
 */
export function digestFullBudgetBytes (shards: number, members: number, params: AggregationParams = DEFAULT_AGGREGATION): number {
  const fits = (DIGEST_INTERVAL_MAX_MS / 1000) * params.digestBudgetBytesPerSec / (Math.max(1, shards) * params.aggregators * params.digestAmplification)
  // What the rest of the digest costs: header and envelope, and a tag for every other member.
  return Math.max(0, Math.min(params.digestFullBytes, Math.floor(fits - 400 - 5 * members)))
}

/**
 * The wait after a digest of `digestBytes`: what one node receives of digests, `aggregators`
 * digests per shard, each arriving `digestAmplification` times, stays under the digest budget.
 * Sized on the digest just sent, so a large one (a cold start, a full round) is followed by a
 * longer quiet. Never below the heartbeat base interval; at most {@link DIGEST_INTERVAL_MAX_MS}.
 */
export function digestIntervalMs (shards: number, digestBytes: number, interval: IntervalParams, params: AggregationParams = DEFAULT_AGGREGATION): number {
  return targetIntervalMs(Math.max(1, shards) * params.aggregators, digestBytes, {
    ...interval,
    amplification: params.digestAmplification,
    budgetBytesPerSec: params.digestBudgetBytesPerSec,
    maxIntervalMs: DIGEST_INTERVAL_MAX_MS
  })
}
