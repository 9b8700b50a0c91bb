/**
 * The shell of heartbeat aggregation (docs/HEARTBEATS.md, "Aggregation"): which shard topics a
 * node hears and publishes on, its aggregator role, the digests it times, signs and publishes,
 * and the validation of the digests it receives. The decisions are the pure functions of
 * shards.ts, aggregation.ts and view.ts (`observeDigest`); the view itself, admission and the
 * merge of each listing stay in membership.ts, which this reads through {@link AggregationHost}.
 */
import {
  HEARTBEAT_DIGEST_TOPIC, HEARTBEAT_TOPIC, MAX_DIGEST_BYTES, decodeSignedDigest, encodeDigest, encodeSignedDigest, shardTopic,
  InvalidHeartbeatError, UnsupportedHeartbeatSchemaError
} from '../../protocols/heartbeat/index.js'
import { estimateDigestBytes, planDigest } from './aggregation.js'
import { jittered } from './interval.js'
import {
  acceptsAggregator, aggregatorRole, digestFullBudgetBytes, digestIntervalMs, fleetShardBits, peerHash, peerTag, rankAggregators, shardBitsFor, shardOf
} from './shards.js'
import { isCorroborated, statusOf } from './view.js'
import type { HeartbeatDigest } from '../../protocols/heartbeat/index.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { ShardMember } from './aggregation.js'
import type { IntervalParams } from './interval.js'
import type { HeartbeatTransport, MembershipEvents, MembershipStats, ShardingStatus, ValidationResult } from './membership.js'
import type { AggregationParams, AggregatorRole } from './shards.js'
import type { DigestListing, LivenessParams, MemberEntry } from './view.js'

/** Digests whose shard bits a node weighs to agree with the fleet on them. */
const RECENT_DIGEST_BITS = 32

/** What aggregation reads and asks of the membership it runs in. */
export interface AggregationHost {
  readonly peerId: string
  readonly clock: Clock
  readonly random: () => number
  readonly log: Logger
  readonly transport: HeartbeatTransport
  /** The view, by peer id (aggregation only clears `heardOnShard` in it). */
  readonly members: Map<string, MemberEntry>
  readonly liveness: LivenessParams
  readonly interval: IntervalParams
  readonly stats: MembershipStats
  /** Most identities the view tracks (bounds what is remembered per aggregator). */
  readonly maxMembers: number
  readonly signDigest?: (payload: Uint8Array) => Uint8Array | Promise<Uint8Array>
  readonly verifyDigest?: (aggregator: string, payload: Uint8Array, signature: Uint8Array) => boolean
  running: () => boolean
  bootMs: () => number
  intervalMs: () => number
  corroboratedCount: () => number
  sweep: () => void
  validateHeartbeat: (from: string, data: Uint8Array, source?: string) => ValidationResult
  receiveHeartbeat: (from: string, data: Uint8Array, source: string | undefined, onShard: boolean) => void
  /** Folds one digest listing into the view (admission, then view.ts `observeDigest`). */
  merge: (peerId: string, listed: DigestListing, via: { aggregator: string, intervalMs: number }) => void
  dispatch: <K extends 'sharding' | 'digest'>(type: K, detail: MembershipEvents[K]['detail']) => void
  listening: (type: 'digest') => boolean
}

export class Aggregation {
  private readonly selfHash: Buffer
  /** sha256 of each member's id, for its shard and tag; kept as long as the member. */
  private readonly hashes = new Map<string, Buffer>()
  /** Members by tag, rebuilt when the membership changed. */
  private tagIndex?: Map<number, string[]>
  private shardBits = 0
  private shardIndex = 0
  private role: AggregatorRole = 'none'
  private watchAll = false
  /** Shard topics subscribed now. */
  private readonly shardTopics = new Set<string>()
  private digestTimer?: TimerHandle
  private digestSeq = 0
  private digestRound = 0
  private digestEveryMs?: number
  /** When the wait announced by this node's last digest ends (this node's clock). */
  private notBeforeMs = 0
  /** Detail of each peer as last listed in full by this node's digests. */
  private digestSent = new Map<string, string>()
  /** Newest digest seen per aggregator, to drop replays and late copies. */
  private readonly digestSeen = new Map<string, { bootMs: number, seq: number }>()
  /** Shard bits of the digests accepted lately, newest last (at most RECENT_DIGEST_BITS). */
  private readonly recentBits: number[] = []
  /** The digest the validator just decoded, so receive does not decode it again. */
  private lastDecoded?: { data: Uint8Array, digest: HeartbeatDigest }

  constructor (private readonly host: AggregationHost, private readonly params: AggregationParams) {
    this.selfHash = peerHash(host.peerId)
  }

  /** Subscribes to the digest topic: digests are heard at any fleet size. */
  start (): void {
    const { transport } = this.host
    // A node that does not shard yet still sees the nodes that do.
    transport.setValidator(HEARTBEAT_DIGEST_TOPIC, (from, data, source) => this.validateDigest(from, data, source))
    transport.subscribe(HEARTBEAT_DIGEST_TOPIC, (from, data) => { this.receiveDigest(from, data) })
  }

  stop (): void {
    this.digestTimer?.cancel()
    this.digestTimer = undefined
    const { transport } = this.host
    for (const topic of this.shardTopics) {
      transport.unsubscribe(topic)
      transport.removeValidator(topic)
    }
    this.shardTopics.clear()
    this.shardBits = 0
    this.role = 'none'
    transport.unsubscribe(HEARTBEAT_DIGEST_TOPIC)
    transport.removeValidator(HEARTBEAT_DIGEST_TOPIC)
  }

  /** A member left the view: what was kept for it goes too. */
  forget (peerId: string): void {
    this.hashes.delete(peerId)
    this.digestSent.delete(peerId)
    this.digestSeen.delete(peerId)
    this.tagIndex = undefined
  }

  /** A member joined the view. */
  joined (): void {
    this.tagIndex = undefined
  }

  heartbeatTopic (): string {
    return this.shardBits === 0 ? HEARTBEAT_TOPIC : shardTopic(this.shardBits, this.shardIndex)
  }

  /** Where this node stands in heartbeat aggregation now. */
  status (): ShardingStatus {
    return {
      bits: this.shardBits,
      shard: this.shardIndex,
      topic: this.heartbeatTopic(),
      role: this.role,
      watchingAll: this.watchAll,
      ...(this.digestEveryMs != null ? { digestIntervalMs: this.digestEveryMs } : {})
    }
  }

  /**
   * Hear every shard first-hand (on), or only this node's own (off). A rollout coordinator turns it
   * on while it leads: its selector and gates then read exact, fresh properties and inference stats
   * of every target, not the digests' projection (docs/HEARTBEATS.md).
   */
  watchAllShards (on: boolean): void {
    if (this.watchAll === on) return
    this.watchAll = on
    this.host.log.info(on ? 'watching every shard' : 'watching only this node\'s shard', { bits: this.shardBits })
    if (this.host.running()) this.updateTopics()
  }

  /** Live peers of this node's shard (itself left out); empty while heartbeats are not sharded. */
  shardPeers (): string[] {
    if (this.shardBits === 0) return []
    return this.liveInShard(this.shardBits, this.shardIndex).map(c => c.id).filter(id => id !== this.host.peerId)
  }

  private hashOf (peerId: string): Buffer {
    if (peerId === this.host.peerId) return this.selfHash
    let h = this.hashes.get(peerId)
    if (h == null) {
      h = peerHash(peerId)
      if (this.host.members.has(peerId)) this.hashes.set(peerId, h)
    }
    return h
  }

  /** Live members (this node included) whose hash puts them in shard `index` of 2^`bits`. */
  private liveInShard (bits: number, index: number, now = this.host.clock.now()): Array<{ id: string, hash: Buffer }> {
    const out: Array<{ id: string, hash: Buffer }> = []
    for (const entry of this.host.members.values()) {
      const h = this.hashOf(entry.peerId)
      if (shardOf(h, bits) !== index) continue
      if (entry.peerId !== this.host.peerId && statusOf(entry, now, this.host.liveness) !== 'alive') continue
      out.push({ id: entry.peerId, hash: h })
    }
    if (shardOf(this.selfHash, bits) === index && !out.some(c => c.id === this.host.peerId)) out.push({ id: this.host.peerId, hash: this.selfHash })
    return out
  }

  /** Members of this node's shard it counts for its interval: corroborated and not dead, itself included. */
  shardPopulation (): number {
    const now = this.host.clock.now()
    let n = 1
    for (const entry of this.host.members.values()) {
      if (entry.peerId === this.host.peerId || !isCorroborated(entry) || statusOf(entry, now, this.host.liveness) === 'dead') continue
      if (shardOf(this.hashOf(entry.peerId), this.shardBits) === this.shardIndex) n++
    }
    return n
  }

  /** Re-decides the shard bits on the fleet estimate, the topics, and this node's aggregator role. */
  update (fleet: number): void {
    const bits = shardBitsFor(fleet, this.shardBits, this.params, fleetShardBits(this.recentBits, this.shardBits))
    if (bits !== this.shardBits) {
      this.host.log.info(bits === 0 ? 'heartbeats no longer sharded' : 'heartbeats sharded', { fleet, bits, shards: 2 ** bits })
      this.shardBits = bits
      this.shardIndex = shardOf(this.selfHash, bits)
      this.digestSent = new Map()
      this.digestRound = 0
    }
    this.updateTopics()
    this.updateRole()
  }

  private updateTopics (): void {
    const { transport } = this.host
    const want = new Set<string>()
    if (this.shardBits > 0) {
      if (this.watchAll) for (let i = 0; i < 2 ** this.shardBits; i++) want.add(shardTopic(this.shardBits, i))
      else want.add(shardTopic(this.shardBits, this.shardIndex))
    }
    let dropped = false
    for (const topic of [...this.shardTopics]) {
      if (want.has(topic)) continue
      transport.unsubscribe(topic)
      transport.removeValidator(topic)
      this.shardTopics.delete(topic)
      dropped = true
    }
    if (dropped) {
      // Peers of shards no longer heard are the digests' to keep fresh from now on (otherwise
      // they would be left alone until suspect, and flap back to alive at the next digest).
      for (const [id, entry] of this.host.members) {
        if (entry.heardOnShard !== true || id === this.host.peerId) continue
        if (this.shardBits > 0 && shardOf(this.hashOf(id), this.shardBits) === this.shardIndex) continue
        const { heardOnShard: _was, ...rest } = entry
        this.host.members.set(id, rest)
      }
    }
    for (const topic of want) {
      if (this.shardTopics.has(topic)) continue
      transport.setValidator(topic, (from, data, source) => this.host.validateHeartbeat(from, data, source))
      transport.subscribe(topic, (from, data, source) => { this.host.receiveHeartbeat(from, data, source, true) })
      this.shardTopics.add(topic)
    }
  }

  private updateRole (): void {
    const before = this.role
    if (this.shardBits === 0 || this.host.signDigest == null) {
      this.role = 'none'
    } else {
      const ranked = rankAggregators(this.shardBits, this.shardIndex, this.liveInShard(this.shardBits, this.shardIndex))
      this.role = aggregatorRole(this.host.peerId, ranked, this.params)
    }
    if (this.role === 'serving' && this.digestTimer == null) {
      // The first digest soon (spread a little), so remote shards learn this one right away; but
      // not before the wait the last digest announced (a role that flaps must not beat the budget).
      const soon = jittered(Math.min(this.host.intervalMs(), this.host.interval.baseIntervalMs), this.host.random) / 2
      this.scheduleDigest(Math.max(soon, this.notBeforeMs - this.host.clock.now()))
    }
    if (this.role !== 'serving') {
      this.digestTimer?.cancel()
      this.digestTimer = undefined
      this.digestEveryMs = undefined
    }
    if (before !== this.role) {
      this.host.log.info('aggregator role', { role: this.role, from: before, bits: this.shardBits, shard: this.shardIndex })
      this.host.dispatch('sharding', this.status())
    }
  }

  private scheduleDigest (ms: number): void {
    this.digestTimer?.cancel()
    // The timer stays set while its digest is built and signed, so updateRole does not start another.
    const timer = this.host.clock.setTimeout(() => {
      if (!this.host.running()) return
      this.host.sweep()
      this.updateRole()
      if (this.role !== 'serving') return
      const next = (waitMs: number): void => {
        // Only later than announced, never sooner: receivers judge ages by the announced wait.
        if (this.digestTimer === timer && this.role === 'serving' && this.host.running()) this.scheduleDigest(waitMs * (1 + 0.1 * this.host.random()))
      }
      this.publishDigest().then(every => { next(every ?? this.host.interval.baseIntervalMs) }, err => {
        this.host.log.warn('digest publish failed', { err })
        next(this.digestEveryMs ?? this.host.interval.baseIntervalMs)
      })
    }, Math.max(1, ms))
    this.digestTimer = timer
  }

  /** Publishes one digest of what this node heard first-hand on its shard topic; returns the wait it announced. */
  private async publishDigest (): Promise<number | undefined> {
    const sign = this.host.signDigest
    if (sign == null) return undefined
    const now = this.host.clock.now()
    const members: ShardMember[] = []
    for (const entry of this.host.members.values()) {
      // First-hand on a shard topic and in this shard (a coordinator here hears the others too).
      if (entry.heardOnShard !== true || entry.detailFromDigest === true) continue
      if (shardOf(this.hashOf(entry.peerId), this.shardBits) !== this.shardIndex) continue
      const self = entry.peerId === this.host.peerId
      if (!self && statusOf(entry, now, this.host.liveness) === 'dead') continue
      members.push({ peerId: entry.peerId, tag: peerTag(this.hashOf(entry.peerId)), ageMs: self ? 0 : now - entry.receivedMs, heartbeat: entry.heartbeat })
    }
    const fullRound = this.digestRound % this.params.fullEveryDigests === 0
    this.digestRound++
    const plan = planDigest(members, this.digestSent, fullRound, digestFullBudgetBytes(2 ** this.shardBits, members.length, this.params))
    const shards = 2 ** this.shardBits
    // The wait announced is sized on this digest (on an estimate: the digest carries it).
    const every = digestIntervalMs(shards, estimateDigestBytes(plan), this.host.interval, this.params)
    const payload = encodeDigest({
      shardBits: this.shardBits,
      shardIndex: this.shardIndex,
      aggregator: this.host.peerId,
      bootMs: this.host.bootMs(),
      seq: ++this.digestSeq,
      intervalMs: every,
      fleetSize: this.host.corroboratedCount(),
      entries: plan.entries,
      tagged: plan.tagged,
      updated: plan.updated
    })
    const data = encodeSignedDigest(payload, await sign(payload))
    if (!this.host.running()) return undefined
    this.digestSent = plan.sent
    // The wait is the one announced: receivers judge the ages they learn here by it.
    this.digestEveryMs = every
    this.notBeforeMs = this.host.clock.now() + every
    this.host.stats.digestsPublished++
    await this.host.transport.publish(HEARTBEAT_DIGEST_TOPIC, data)
    return every
  }

  private decodeDigestOnce (data: Uint8Array): HeartbeatDigest {
    if (this.lastDecoded?.data === data) return this.lastDecoded.digest
    const { digest, payload, signature } = decodeSignedDigest(data, MAX_DIGEST_BYTES)
    const verify = this.host.verifyDigest
    if (verify != null && !verify(digest.aggregator, payload, signature)) throw new InvalidHeartbeatError('digest signature does not verify')
    this.lastDecoded = { data, digest }
    return digest
  }

  /**
   * The validator of the digest topic. Rejected (penalised): undecodable or oversized, signed by
   * another key than its gossip author, or claiming a shard its author is not in. Ignored: a
   * replay or late copy, or an author that does not rank among the shard's serving and standby
   * aggregators in this node's view (views differ a little; that is no offence).
   */
  validateDigest (from: string, data: Uint8Array, _source: string = from): ValidationResult {
    if (from === this.host.peerId) return 'ignore'
    let digest: HeartbeatDigest
    try {
      digest = this.decodeDigestOnce(data)
    } catch (err) {
      if (err instanceof UnsupportedHeartbeatSchemaError) {
        this.host.stats.digestsIgnored++
        return 'ignore'
      }
      this.host.stats.digestsRejected++
      this.host.log.warn('rejected digest', { from, bytes: data.byteLength, reason: (err as Error).message })
      return 'reject'
    }
    if (digest.aggregator !== from || shardOf(this.hashOf(from), digest.shardBits) !== digest.shardIndex) {
      this.host.stats.digestsRejected++
      this.host.log.warn('rejected digest', { from, reason: digest.aggregator !== from ? 'signed by another peer than its author' : 'its author is not in the shard it claims' })
      return 'reject'
    }
    const seen = this.digestSeen.get(from)
    if (seen != null && (digest.bootMs < seen.bootMs || (digest.bootMs === seen.bootMs && digest.seq <= seen.seq))) {
      this.host.stats.digestsIgnored++
      return 'ignore'
    }
    const candidates = this.liveInShard(digest.shardBits, digest.shardIndex)
    if (!candidates.some(c => c.id === from)) candidates.push({ id: from, hash: this.hashOf(from) })
    if (!acceptsAggregator(from, rankAggregators(digest.shardBits, digest.shardIndex, candidates), this.params)) {
      this.host.stats.digestsIgnored++
      this.host.log.debug('ignored digest of a peer that is no aggregator of its shard here', { from, bits: digest.shardBits, shard: digest.shardIndex })
      return 'ignore'
    }
    return 'accept'
  }

  receiveDigest (from: string, data: Uint8Array): void {
    let digest: HeartbeatDigest
    try {
      digest = this.decodeDigestOnce(data)
    } catch (err) {
      if (!(err instanceof InvalidHeartbeatError || err instanceof UnsupportedHeartbeatSchemaError)) throw err
      this.host.stats.digestsRejected++
      return
    }
    if (digest.aggregator !== from) return
    this.lastDecoded = undefined
    const seen = this.digestSeen.get(from)
    if (seen != null && (digest.bootMs < seen.bootMs || (digest.bootMs === seen.bootMs && digest.seq <= seen.seq))) return
    if (this.digestSeen.size >= this.host.maxMembers) this.digestSeen.clear()
    this.digestSeen.set(from, { bootMs: digest.bootMs, seq: digest.seq })
    this.recentBits.push(digest.shardBits)
    if (this.recentBits.length > RECENT_DIGEST_BITS) this.recentBits.shift()
    this.host.stats.digestsAccepted++
    const via = { aggregator: from, intervalMs: digest.intervalMs }
    for (const e of digest.entries) this.host.merge(e.peerId, { ageMs: e.ageMs, heartbeat: e.heartbeat }, via)
    const byTag: Array<{ tag: number, listing: DigestListing }> = [
      ...digest.tagged.map(t => ({ tag: t.tag, listing: { ageMs: t.ageMs } })),
      ...(digest.updated ?? []).map(u => ({ tag: u.tag, listing: { ageMs: u.ageMs, rollouts: u.rollouts } }))
    ]
    if (byTag.length > 0) {
      const index = this.tags()
      for (const { tag, listing } of byTag) {
        const ids = (index.get(tag) ?? []).filter(id => shardOf(this.hashOf(id), digest.shardBits) === digest.shardIndex)
        // An unknown tag (this node joined since the peer was last listed in full) or an ambiguous one: wait for a full listing.
        if (ids.length === 1) this.host.merge(ids[0]!, listing, via)
      }
    }
    if (this.host.listening('digest')) {
      this.host.dispatch('digest', { aggregator: from, shardBits: digest.shardBits, shardIndex: digest.shardIndex, entries: digest.entries.length, tagged: digest.tagged.length + (digest.updated ?? []).length, bytes: data.byteLength })
    }
  }

  private tags (): Map<number, string[]> {
    if (this.tagIndex != null) return this.tagIndex
    const index = new Map<number, string[]>()
    for (const id of this.host.members.keys()) {
      const tag = peerTag(this.hashOf(id))
      const list = index.get(tag)
      if (list == null) index.set(tag, [id])
      else list.push(id)
    }
    this.tagIndex = index
    return index
  }

}
