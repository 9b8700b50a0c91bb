/**
 * @packageDocumentation
 * The heartbeat every node publishes on {@link HEARTBEAT_TOPIC}: who it is (labels), what it
 * has (properties), and when to expect it next. Receivers build their view of the mesh from it.
 */
export * from './constants.js'
export * from './errors.js'
export { encodeHeartbeat, decodeHeartbeat, checkHeartbeatClock, heartbeatReason } from './heartbeat.js'
export { checkKeyValue } from './labels.js'
export type { DecodeHeartbeatOptions } from './heartbeat.js'

/** A decoded, validated heartbeat. Times are milliseconds since the epoch on the sender's clock. */
export interface Heartbeat {
  /** When the sender's process started; a new value means the node restarted. */
  bootMs: number
  /** Per-boot sequence number. */
  seq: number
  sentMs: number
  /** The sender's current heartbeat interval. */
  intervalMs: number
  nodeVersion: string
  uptimeMs: number
  /** Static labels from flags or config, for selecting devices (`zone=eu`, `class=camera`). */
  labels: Record<string, string>
  /** Live properties (`cpus`, `arch`, `mem.total`, `mem.free`, `battery`), overridable by flags. */
  props: Record<string, string>
  /** Peers the sender considers alive, itself included. */
  fleetSize: number
  /**
   * How many times the sender has restarted, by its own count (kept in its data directory).
   * Absent (and 0 on the wire) from a node without one, or older than the field.
   */
  restarts?: number
  /** Models the sender holds. Absent and empty mean the same. */
  models?: HeartbeatModel[]
  /** Rollouts the sender takes part in, at most MAX_HEARTBEAT_ROLLOUTS. Absent and empty mean the same. */
  rollouts?: HeartbeatRollout[]
}

/**
 * Where one rollout stands on the sending device: enough for a coordinator to follow a wave and
 * for `tutti get rollouts` to show it; the details (CIDs, full reason) come from a Report request.
 */
export interface HeartbeatRollout {
  /** Rollout name, a DNS label of at most MAX_ROLLOUT_NAME_LENGTH characters. */
  name: string
  /** Version of the admin-signed policy this state refers to (>= 1). */
  policyVersion: number
  /** Device state kind (`Pending`, `Downloading`, ..., `Active`, `Failed`, `RolledBack`). */
  state: string
  /** Why, for Failed and TimedOut; printable ASCII, at most MAX_ROLLOUT_REASON_LENGTH (see heartbeatReason). '' for none. */
  reason: string
  /** Highest coordinator epoch this device promised for the rollout; 0 before any. */
  epoch: number
}

export type HeartbeatModelState = 'active' | 'previous' | 'staged' | 'partial'

/** One model version a node holds, as its heartbeat announces it. */
export interface HeartbeatModel {
  name: string
  version: string
  /** Manifest CID. */
  cid: string
  state: HeartbeatModelState
  /** Inference measurements while the version is loaded. */
  stats?: InferenceStats
}

/** What a node measured of one loaded model version (the runtime's compact summary). */
export interface InferenceStats {
  /** Requests since load. */
  n: number
  /** Failed requests. */
  e: number
  /** Latency percentiles, ms. */
  p50: number
  p95: number
  p99: number
  /** Responses with NaN or Inf outputs. */
  nf: number
  /** Memory in use, MiB. */
  mb: number
  /** Shadow agreement rate, 0..1 (shadow versions only). */
  ag?: number
  /** Samples compared with the active version, the basis of `ag` (shadow versions only). */
  sc?: number
  /** Fraction of requests the shadow is sampled on, 0..1 (shadow versions only). */
  fr?: number
}
export { encodeDigest, encodeSignedDigest, decodeSignedDigest, shardTopic, parseShardTopic } from './digest.js'
export type { HeartbeatDigest, DigestEntry, DigestTag, DigestRolloutUpdate } from './digest.js'
