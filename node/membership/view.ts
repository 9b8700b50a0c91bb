/**
 * The mesh view, as pure functions: what a node believes about each peer, from the heartbeats it
 * has heard. Ages are measured on the receiver's own clock (`receivedMs`), so the peers' clocks
 * may disagree without anyone being judged dead; thresholds scale with the interval the sender
 * announced, so a large fleet that heartbeats slowly is not flagged as failing.
 */
import type { Heartbeat } from '../../protocols/heartbeat/index.js'

export type MemberStatus = 'alive' | 'suspect' | 'dead'

export interface MemberEntry {
  peerId: string
  heartbeat: Heartbeat
  /** Receiver's clock when the latest heartbeat arrived. */
  receivedMs: number
  /** Receiver's clock when this peer was first heard of. */
  firstSeenMs: number
  /** How many times this peer has been seen to restart (a new `bootMs`). */
  restarts: number
}

export interface LivenessParams {
  /** Missed intervals before a peer is suspect. @default 3 */
  suspectAfterIntervals: number
  /** Missed intervals before a peer is dead. @default 6 */
  deadAfterIntervals: number
  /** How long a dead peer stays in the view before it is forgotten, in ms. @default 1 hour */
  forgetAfterMs: number
}

export const DEFAULT_LIVENESS: LivenessParams = {
  suspectAfterIntervals: 3,
  deadAfterIntervals: 6,
  forgetAfterMs: 60 * 60_000
}

export type Observation =
  | { kind: 'joined', entry: MemberEntry }
  | { kind: 'updated', entry: MemberEntry }
  | { kind: 'restarted', entry: MemberEntry }
  | { kind: 'stale' }

/**
 * Folds one heartbeat into what was known of its sender. A heartbeat older than the one already
 * held (same boot, lower or equal seq; or an earlier boot) is stale and changes nothing, with one
 * exception: once the held boot has gone quiet (suspect or dead), a heartbeat from any other boot
 * is a restart. A device without a real-time clock may boot with its clock behind its previous
 * boot time; it must not stay invisible until it is forgotten.
 */
export function observe (previous: MemberEntry | undefined, peerId: string, hb: Heartbeat, now: number, params: LivenessParams = DEFAULT_LIVENESS): Observation {
  if (previous == null) {
    return { kind: 'joined', entry: { peerId, heartbeat: hb, receivedMs: now, firstSeenMs: now, restarts: 0 } }
  }
  const held = previous.heartbeat
  const otherBoot = hb.bootMs !== held.bootMs
  const heldIsQuiet = statusOf(previous, now, params) !== 'alive'
  if (otherBoot && hb.bootMs < held.bootMs && heldIsQuiet) {
    return { kind: 'restarted', entry: { ...previous, heartbeat: hb, receivedMs: now, restarts: previous.restarts + 1 } }
  }
  if (hb.bootMs < held.bootMs || (hb.bootMs === held.bootMs && hb.seq <= held.seq)) {
    return { kind: 'stale' }
  }
  if (hb.bootMs > held.bootMs) {
    return { kind: 'restarted', entry: { ...previous, heartbeat: hb, receivedMs: now, restarts: previous.restarts + 1 } }
  }
  return { kind: 'updated', entry: { ...previous, heartbeat: hb, receivedMs: now } }
}

/** Alive, suspect or dead, by how many of its own intervals have passed since it was heard. */
export function statusOf (entry: MemberEntry, now: number, params: LivenessParams = DEFAULT_LIVENESS): MemberStatus {
  const age = Math.max(0, now - entry.receivedMs)
  const interval = entry.heartbeat.intervalMs
  if (age <= params.suspectAfterIntervals * interval) return 'alive'
  if (age <= params.deadAfterIntervals * interval) return 'suspect'
  return 'dead'
}

/** Whether a dead entry has been dead long enough to drop from the view. */
export function shouldForget (entry: MemberEntry, now: number, params: LivenessParams = DEFAULT_LIVENESS): boolean {
  const deadAt = entry.receivedMs + params.deadAfterIntervals * entry.heartbeat.intervalMs
  return now - deadAt > params.forgetAfterMs
}

export function validateLiveness (params: LivenessParams): LivenessParams {
  if (!(params.suspectAfterIntervals >= 1)) throw new RangeError('suspectAfterIntervals must be >= 1')
  if (!(params.deadAfterIntervals > params.suspectAfterIntervals)) throw new RangeError('deadAfterIntervals must be greater than suspectAfterIntervals')
  if (!(params.forgetAfterMs >= 0)) throw new RangeError('forgetAfterMs must be >= 0')
  return params
}
