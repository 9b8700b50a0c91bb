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
  /**
   * Boots of this peer that a later boot replaced, as this receiver saw them, most recent last,
   * at most {@link MAX_PAST_BOOTS}. A heartbeat of one of them is a replay. Absent means none.
   */
  pastBoots?: number[]
  /**
   * Peers its heartbeats were delivered by, distinct, at most two (enough to tell); `peerId`
   * itself when heard directly. Absent means not recorded (counts as corroborated).
   */
  sources?: string[]
  /**
   * Set while the entry's freshness (`receivedMs`) last came from a shard digest rather than a
   * heartbeat: the aggregator that listed it, and its digest interval, by which the entry's age is
   * judged (docs/HEARTBEATS.md, "Aggregation"). Absent: heard first-hand.
   */
  viaDigest?: { aggregator: string, intervalMs: number }
  /** The heartbeat detail came from a digest (no inference stats, no volatile properties). */
  detailFromDigest?: boolean
  /** The latest first-hand heartbeat arrived on a shard topic (what an aggregator lists, for its own shard). */
  heardOnShard?: boolean
}

/** The interval an entry's age is judged by: its sender's, or the digest's it was last refreshed by, if longer. */
export function judgedIntervalMs (entry: Pick<MemberEntry, 'heartbeat' | 'viaDigest'>): number {
  const own = entry.heartbeat.intervalMs
  const viaDigest = entry.viaDigest?.intervalMs ?? 0
  return viaDigest > own ? viaDigest : own
}

/** Heard from itself, or relayed by two different peers: not only one peer's word. */
export function isCorroborated (entry: MemberEntry): boolean {
  const sources = entry.sources
  return sources == null || sources.length >= 2 || sources.includes(entry.peerId)
}

/** The entry with `source` among its delivering peers. */
export function withSource (entry: MemberEntry, source: string): MemberEntry {
  const sources = entry.sources ?? []
  if (sources.includes(source) || sources.length >= 2 || sources.includes(entry.peerId)) return entry.sources == null ? { ...entry, sources } : entry
  return { ...entry, sources: [...sources, source] }
}

/** Most replaced boots remembered per peer. @default 16 */
export const MAX_PAST_BOOTS = 16

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
 * Folds one heartbeat into what was known of its sender. Stale, changing nothing: a heartbeat of
 * the held boot with a seq already seen (a replay or a late copy), one of a boot this receiver has
 * seen replaced (a replay of an old boot), and one of an earlier boot while the held boot is still
 * alive. A later boot is a restart. An earlier boot never seen before is a restart only once the
 * held boot has gone quiet (suspect or dead) and only if its uptime fits in the time since the held
 * boot was last heard, on the receiver's clock: a device without a real-time clock may boot with
 * its clock behind its previous boot time and must not stay invisible until it is forgotten, but
 * a boot that was already running while the held one spoke is not a restart.
 */
export function observe (previous: MemberEntry | undefined, peerId: string, hb: Heartbeat, now: number, params: LivenessParams = DEFAULT_LIVENESS): Observation {
  if (previous == null) {
    return { kind: 'joined', entry: { peerId, heartbeat: hb, receivedMs: now, firstSeenMs: now, restarts: 0 } }
  }
  const held = previous.heartbeat
  if (hb.bootMs === held.bootMs) {
    if (hb.seq <= held.seq) return { kind: 'stale' }
    return { kind: 'updated', entry: { ...previous, heartbeat: hb, receivedMs: now } }
  }
  if ((previous.pastBoots ?? []).includes(hb.bootMs)) return { kind: 'stale' }
  if (hb.bootMs < held.bootMs) {
    const heldIsQuiet = statusOf(previous, now, params) !== 'alive'
    const bootedAfterHeld = hb.uptimeMs <= now - previous.receivedMs
    if (!heldIsQuiet || !bootedAfterHeld) return { kind: 'stale' }
  }
  const pastBoots = [...(previous.pastBoots ?? []), held.bootMs].slice(-MAX_PAST_BOOTS)
  return { kind: 'restarted', entry: { ...previous, heartbeat: hb, receivedMs: now, restarts: previous.restarts + 1, pastBoots } }
}

/** Alive, suspect or dead, by how many of its own intervals have passed since it was heard. */
export function statusOf (entry: MemberEntry, now: number, params: LivenessParams = DEFAULT_LIVENESS): MemberStatus {
  const age = Math.max(0, now - entry.receivedMs)
  const interval = judgedIntervalMs(entry)
  if (age <= params.suspectAfterIntervals * interval) return 'alive'
  if (age <= params.deadAfterIntervals * interval) return 'suspect'
  return 'dead'
}

/**
 * The first moment after `now` at which some member other than `self` changes status (alive ->
 * suspect or suspect -> dead) if it stays silent, or undefined when none will. A sweep scheduled
 * then notices a silent peer at the same instant on every node that heard its last heartbeat at
 * about the same time, instead of up to one sweep period later on some of them.
 */
export function nextStatusChangeMs (entries: Iterable<[string, MemberEntry]>, now: number, params: LivenessParams, self: string): number | undefined {
  let next: number | undefined
  for (const [peerId, entry] of entries) {
    if (peerId === self) continue
    for (const intervals of [params.suspectAfterIntervals, params.deadAfterIntervals]) {
      // statusOf: the status changes once the age exceeds the threshold, 1 ms after it.
      const at = entry.receivedMs + intervals * judgedIntervalMs(entry) + 1
      if (at > now && (next === undefined || at < next)) next = at
    }
  }
  return next
}

/** Whether a dead entry has been dead long enough to drop from the view. */
export function shouldForget (entry: MemberEntry, now: number, params: LivenessParams = DEFAULT_LIVENESS): boolean {
  const deadAt = entry.receivedMs + params.deadAfterIntervals * judgedIntervalMs(entry)
  return now - deadAt > params.forgetAfterMs
}

export function validateLiveness (params: LivenessParams): LivenessParams {
  if (!(params.suspectAfterIntervals >= 1)) throw new RangeError('suspectAfterIntervals must be >= 1')
  if (!(params.deadAfterIntervals > params.suspectAfterIntervals)) throw new RangeError('deadAfterIntervals must be greater than suspectAfterIntervals')
  if (!(params.forgetAfterMs >= 0)) throw new RangeError('forgetAfterMs must be >= 0')
  return params
}

/** A digest's listing of one peer: its age at the aggregator, and its heartbeat when listed in full. */
export interface DigestListing {
  ageMs: number
  heartbeat?: Heartbeat
  /** The peer's rollout states, when only they changed (a rollout update). */
  rollouts?: Heartbeat['rollouts']
}

export type DigestObservation = Observation | { kind: 'refreshed', entry: MemberEntry }

/**
 * Folds one peer's listing in a shard digest into what was known of it. The peer was heard
 * `ageMs` before the digest arrived, on the receiver's clock (no clock of the aggregator's is
 * trusted); the entry is then judged by the digest's interval as well as its own.
 *
 * - A peer not known yet joins, if listed in full; a tag alone says nothing of who it is: stale.
 * - A peer this node hears on a shard topic itself, and hears alive, is left alone.
 * - Full detail replaces what is held only if the held detail also came from a digest, or the
 *   first-hand detail is no longer kept alive by its own heartbeats, and then only if it is newer by boot and seq
 *   ({@link observe}): a digest never overrides fresher first-hand detail (which carries the
 *   inference stats a digest leaves out).
 * - A rollout update (the rollout states alone) replaces the held ones on the same terms, if it is
 *   not older than what is held.
 * - Otherwise it refreshes the peer's freshness, only forward in time and only for the boot held.
 * A peer the aggregator no longer lists (dead in its view) is simply not refreshed: it ages out as
 * any silent peer does.
 */
export function observeDigest (previous: MemberEntry | undefined, peerId: string, listed: DigestListing, via: { aggregator: string, intervalMs: number }, now: number, params: LivenessParams = DEFAULT_LIVENESS): DigestObservation {
  const heardAt = now - listed.ageMs
  const hb = listed.heartbeat
  if (previous == null) {
    if (hb == null) return { kind: 'stale' }
    return { kind: 'joined', entry: { peerId, heartbeat: hb, receivedMs: heardAt, firstSeenMs: now, restarts: 0, viaDigest: via, detailFromDigest: true } }
  }
  // Kept current by its own heartbeats: alive on first-hand freshness, detail first-hand.
  const firstHand = previous.detailFromDigest !== true && previous.viaDigest == null && statusOf(previous, now, params) === 'alive'
  // Heard on a shard topic, as well as the aggregator hears it: the digest adds nothing.
  if (firstHand && previous.heardOnShard === true) return { kind: 'stale' }
  if (hb != null && !firstHand) {
    const o = observe(previous, peerId, hb, heardAt, params)
    if (o.kind === 'updated' || o.kind === 'restarted') {
      const receivedMs = o.kind === 'updated' ? Math.max(previous.receivedMs, heardAt) : heardAt
      return { kind: o.kind, entry: { ...o.entry, receivedMs, viaDigest: via, detailFromDigest: true } }
    }
  }
  // A listing of another boot says nothing of the boot held.
  if (hb != null && hb.bootMs !== previous.heartbeat.bootMs) return { kind: 'stale' }
  if (listed.rollouts != null && !firstHand && heardAt >= previous.receivedMs) {
    const { rollouts: _held, ...rest } = previous.heartbeat
    const heartbeat = listed.rollouts.length > 0 ? { ...rest, rollouts: listed.rollouts } : rest
    return { kind: 'updated', entry: { ...previous, heartbeat, receivedMs: heardAt, viaDigest: via, detailFromDigest: true } }
  }
  if (heardAt <= previous.receivedMs) return { kind: 'stale' }
  return { kind: 'refreshed', entry: { ...previous, receivedMs: heardAt, viaDigest: via } }
}
