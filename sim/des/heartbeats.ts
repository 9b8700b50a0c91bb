/**
 * Heartbeat bytes one node receives per second, as the fleet grows, under two schemes, both sized
 * by the node's own interval core (`targetIntervalMs`, `receivedBytesPerSec`, docs/HEARTBEATS.md):
 *
 * - `flat` (what nodes do today): every heartbeat reaches every node; past about 230 nodes the
 *   60 s cap binds and the figure grows with N.
 * - `sharded` (the plan in docs/HEARTBEATS.md): full heartbeats only within a shard of
 *   `shardSize` nodes, plus one delta-encoded digest per shard on the global topic. The digest
 *   interval is sized by the same core over the number of shards, so each of the two streams stays
 *   under the byte budget and the total stays flat in N.
 */
import { DEFAULT_INTERVAL, receivedBytesPerSec, targetIntervalMs } from '../../node/membership/interval.js'
import type { IntervalParams } from '../../node/membership/interval.js'

export interface HeartbeatCostParams {
  /** One heartbeat on the wire, bytes (docs/HEARTBEATS.md). @default 360 */
  heartbeatBytes: number
  /** Nodes per shard. @default 150 */
  shardSize: number
  /** A digest's fixed part (shard key, aggregator signature, framing), bytes. @default 96 */
  digestHeaderBytes: number
  /** One changed peer in a digest: 4-byte id prefix, status, battery bucket, versions, counters. @default 12 */
  digestEntryBytes: number
  /** Share of a shard's peers that changed since the previous digest. @default 0.01 */
  changedFraction: number
  interval: IntervalParams
}

export const DEFAULT_HEARTBEAT_COST: HeartbeatCostParams = {
  heartbeatBytes: 360,
  shardSize: 150,
  digestHeaderBytes: 96,
  digestEntryBytes: 12,
  changedFraction: 0.01,
  interval: DEFAULT_INTERVAL
}

export interface HeartbeatCost {
  fleetSize: number
  /** Bytes per second one node receives with every heartbeat sent to everyone. */
  flatBytesPerSec: number
  flatIntervalMs: number
  /** Bytes per second one node receives with shards and digests (both streams). */
  shardedBytesPerSec: number
  shardIntervalMs: number
  digestIntervalMs: number
}

/** The steady-state cost for a fleet of `fleetSize` nodes. */
export function heartbeatCost (fleetSize: number, params: HeartbeatCostParams = DEFAULT_HEARTBEAT_COST): HeartbeatCost {
  const p = params.interval
  const n = Math.max(1, fleetSize)
  const flatIntervalMs = targetIntervalMs(n, params.heartbeatBytes, p)
  const flat = receivedBytesPerSec(n, params.heartbeatBytes, flatIntervalMs, p.amplification)
  const shard = Math.min(n, params.shardSize)
  const shards = Math.ceil(n / shard)
  const shardIntervalMs = targetIntervalMs(shard, params.heartbeatBytes, p)
  const inShard = receivedBytesPerSec(shard, params.heartbeatBytes, shardIntervalMs, p.amplification)
  const digestBytes = params.digestHeaderBytes + Math.ceil(params.changedFraction * shard) * params.digestEntryBytes
  // Digests are not capped at the heartbeat cap: a remote node's status is allowed to be older.
  const digestIntervalMs = shards <= 1 ? 0 : targetIntervalMs(shards, digestBytes, { ...p, maxIntervalMs: Number.MAX_SAFE_INTEGER })
  const digests = shards <= 1 ? 0 : receivedBytesPerSec(shards, digestBytes, digestIntervalMs, p.amplification)
  return { fleetSize: n, flatBytesPerSec: flat, flatIntervalMs, shardedBytesPerSec: inShard + digests, shardIntervalMs, digestIntervalMs }
}
