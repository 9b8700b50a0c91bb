import { TypedEventEmitter } from 'main-event'
import {
  HEARTBEAT_TOPIC, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_MODELS, MAX_HEARTBEAT_ROLLOUTS, decodeHeartbeat, encodeHeartbeat,
  InvalidHeartbeatError, UnsupportedHeartbeatSchemaError
} from '../../protocols/heartbeat/index.js'
import { Aggregation } from './sharding.js'
import { DEFAULT_AGGREGATION, validateAggregation } from './shards.js'
import { DEFAULT_ADMISSION, admitIdentity, isFull, validateAdmission } from './admission.js'
import { DEFAULT_INTERVAL, jittered, nextIntervalMs, validateInterval } from './interval.js'
import { DEFAULT_LOCAL_HEALTH, judgedLiveness, nextHealthScore, validateLocalHealth } from './health.js'
import { DEFAULT_LIVENESS, isCorroborated, nextStatusChangeMs, observe, observeDigest, shouldForget, statusOf, validateLiveness, withSource } from './view.js'
import type { Heartbeat, HeartbeatModel, HeartbeatRollout } from '../../protocols/heartbeat/index.js'
import type { AggregationParams, AggregatorRole } from './shards.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { Properties } from '../telemetry/props.js'
import type { AdmissionParams, SourceBudget } from './admission.js'
import type { IntervalParams } from './interval.js'
import type { LocalHealthParams } from './health.js'
import type { DigestListing, DigestObservation, MemberEntry, MemberStatus, LivenessParams } from './view.js'

/**
 * What each heartbeat costs on the wire beyond its payload, from the message layout: gossipsub's
 * envelope (author peer id 40, seqno 10, topic 19, Ed25519 signature 66, RPC framing 3) is about
 * 140 bytes, yamux and noise framing about 30 more.
 */
const GOSSIP_ENVELOPE_BYTES = 170

/** Accept, ignore (drop, do not forward, no penalty) or reject (drop and penalise the sender). */
export type ValidationResult = 'accept' | 'ignore' | 'reject'

/**
 * The slice of a pubsub router membership needs. Gossipsub provides it through a thin adapter;
 * the simulator can provide its own.
 */
export interface HeartbeatTransport {
  /**
   * `from` is the identity that signed the message, `source` the peer that delivered it (gossip's
   * propagation source); a transport that does not know passes only `from` (heard directly).
   */
  subscribe(topic: string, onMessage: (from: string, data: Uint8Array, source?: string) => void): void
  unsubscribe(topic: string): void
  setValidator(topic: string, validate: (from: string, data: Uint8Array, source?: string) => ValidationResult): void
  removeValidator(topic: string): void
  publish(topic: string, data: Uint8Array): Promise<void>
}

export interface MembershipComponents {
  clock: Clock
  logger: Logger
  /** Uniform in [0, 1); seeded in the simulator. */
  random: () => number
  peerId: string
  transport: HeartbeatTransport
  /** Live properties, read before each heartbeat (overrides are applied by the membership). */
  readProperties: () => Promise<Properties>
  /** Models this node holds, read before each heartbeat. @default none */
  readModels?: () => HeartbeatModel[]
  /** Where this node stands in each rollout, read before each heartbeat (the first MAX_HEARTBEAT_ROLLOUTS are sent). @default none */
  readRollouts?: () => HeartbeatRollout[]
  /**
   * Whether an identity not in the view may join it; where an enrolled-devices-only check goes
   * (a later issue). Must answer fast: it runs in the gossip validator. @default every identity
   */
  admit?: (peerId: string, context: { source: string }) => boolean
  /**
   * Signs a digest payload with this node's key. Without it the node never publishes a digest,
   * even where it ranks as its shard's aggregator. @default none
   */
  signDigest?: (payload: Uint8Array) => Uint8Array | Promise<Uint8Array>
  /**
   * Whether `signature` is `aggregator`'s over `payload`. Must answer fast (it runs in the gossip
   * validator). Without it a digest is trusted on gossip's own signature of its author. @default none
   */
  verifyDigest?: (aggregator: string, payload: Uint8Array, signature: Uint8Array) => boolean
}

export interface MembershipInit {
  /** Static labels this node announces. @default {} */
  labels?: Record<string, string>
  /** Properties that replace what the platform reports (tests, simulation). @default {} */
  propertyOverrides?: Properties
  /** @default '0.0.0' */
  nodeVersion?: string
  interval?: Partial<IntervalParams>
  liveness?: Partial<LivenessParams>
  /**
   * How this node stretches the time it gives peers while its own timers run late (health.ts,
   * after Lifeguard). `{ maxScore: 0 }` turns it off.
   */
  localHealth?: Partial<LocalHealthParams>
  /** Bounds on the identities the view tracks and how fast one source adds them (admission.ts). */
  admission?: Partial<AdmissionParams>
  /** Largest heartbeat accepted, in bytes. @default MAX_HEARTBEAT_BYTES */
  maxHeartbeatBytes?: number
  /** When heartbeats are sharded and how digests are sized (shards.ts, docs/HEARTBEATS.md). */
  aggregation?: Partial<AggregationParams>
}

/** One peer as this node sees it. */
export interface MemberInfo {
  peerId: string
  self: boolean
  status: MemberStatus
  labels: Record<string, string>
  props: Record<string, string>
  nodeVersion: string
  /** Sender's uptime as of its latest heartbeat. */
  uptimeMs: number
  bootMs: number
  seq: number
  intervalMs: number
  fleetSize: number
  /** Models the peer holds, as its latest heartbeat says. */
  models: HeartbeatModel[]
  /** Rollouts the peer takes part in, as its latest heartbeat says. */
  rollouts: HeartbeatRollout[]
  /** Receiver's clock when the latest heartbeat arrived. */
  lastSeenMs: number
  ageMs: number
  firstSeenMs: number
  restarts: number
  /**
   * How this node knows the peer: from its own heartbeats, or from a shard digest (the detail then
   * lacks inference stats and volatile properties such as `mem.free`; see docs/HEARTBEATS.md).
   */
  via?: 'heartbeat' | 'digest'
  /** The aggregator whose digest last refreshed the peer, when one did. */
  aggregator?: string
}

export interface MembershipStats {
  published: number
  accepted: number
  rejected: number
  ignored: number
  stale: number
  /** Heartbeats of new identities refused by the admission check, the view cap or a source's rate. */
  limited: number
  /** Shard digests this node published, and those it accepted, rejected (invalid) or ignored. */
  digestsPublished: number
  digestsAccepted: number
  digestsRejected: number
  digestsIgnored: number
}

/** Where this node stands in heartbeat aggregation. */
export interface ShardingStatus {
  /** Bits of the shard name (2^bits shards); 0: not sharded. */
  bits: number
  shard: number
  /** The topic this node's heartbeats go on. */
  topic: string
  role: AggregatorRole
  /** Every shard topic is subscribed (a rollout coordinator here). */
  watchingAll: boolean
  digestIntervalMs?: number
}

export interface MembershipEvents {
  'member:joined': CustomEvent<MemberInfo>
  'member:status': CustomEvent<{ peerId: string, from: MemberStatus, to: MemberStatus }>
  'member:restarted': CustomEvent<MemberInfo>
  /** Every accepted heartbeat from another peer (for metrics and benchmarks). */
  'heartbeat': CustomEvent<{ peerId: string, seq: number, sentMs: number, receivedMs: number, bytes: number }>
  /** This node's aggregator role or shard changed. */
  'sharding': CustomEvent<ShardingStatus>
  /** A shard digest was accepted (for tests and benchmarks). */
  'digest': CustomEvent<{ aggregator: string, shardBits: number, shardIndex: number, entries: number, tagged: number, bytes: number }>
}

/**
 * Publishes this node's heartbeat and keeps the mesh view. Heartbeats are validated before
 * gossipsub forwards them (oversized, undecodable or out-of-range ones are rejected and change
 * nothing); the interval stretches with fleet size (see interval.ts).
 */
export class Membership extends TypedEventEmitter<MembershipEvents> {
  private readonly components: MembershipComponents
  private readonly labels: Record<string, string>
  private readonly overrides: Properties
  private readonly nodeVersion: string
  private readonly intervalParams: IntervalParams
  private readonly liveness: LivenessParams
  private readonly healthParams: LocalHealthParams
  /** Local health score (health.ts): 0 while this node's timers fire on time. */
  private health = 0
  private readonly admission: AdmissionParams
  /** Sources that introduced new relayed identities lately; dropped once their bucket is full. */
  private readonly budgets = new Map<string, SourceBudget>()
  /** Sources already warned about since their bucket was last full (one warning, not a flood). */
  private readonly warned = new Set<string>()
  private readonly maxBytes: number
  private readonly log: Logger
  private readonly members = new Map<string, MemberEntry>()
  private readonly lastStatus = new Map<string, MemberStatus>()
  private readonly stats: MembershipStats = { published: 0, accepted: 0, rejected: 0, ignored: 0, stale: 0, limited: 0, digestsPublished: 0, digestsAccepted: 0, digestsRejected: 0, digestsIgnored: 0 }
  /** Shard topics, aggregator role and digests (sharding.ts). */
  private readonly aggregation: Aggregation
  private bootMs = 0
  private restarts = 0
  private seq = 0
  private lastHeard?: number
  private intervalMs: number
  private lastBytes = 350
  private timer?: TimerHandle
  private running = false

  constructor (components: MembershipComponents, init: MembershipInit = {}) {
    super()
    this.components = components
    this.labels = { ...init.labels }
    this.overrides = { ...init.propertyOverrides }
    this.nodeVersion = init.nodeVersion ?? '0.0.0'
    this.intervalParams = validateInterval({ ...DEFAULT_INTERVAL, ...init.interval })
    this.liveness = validateLiveness({ ...DEFAULT_LIVENESS, ...init.liveness })
    this.healthParams = validateLocalHealth({ ...DEFAULT_LOCAL_HEALTH, ...init.localHealth })
    this.admission = validateAdmission({ ...DEFAULT_ADMISSION, ...init.admission })
    this.maxBytes = init.maxHeartbeatBytes ?? MAX_HEARTBEAT_BYTES
    this.intervalMs = this.intervalParams.baseIntervalMs
    this.log = components.logger.child('membership')
    this.aggregation = new Aggregation({
      peerId: components.peerId,
      clock: components.clock,
      random: components.random,
      log: this.log,
      transport: components.transport,
      members: this.members,
      liveness: this.liveness,
      interval: this.intervalParams,
      stats: this.stats,
      maxMembers: this.admission.maxMembers,
      signDigest: components.signDigest,
      verifyDigest: components.verifyDigest,
      running: () => this.running,
      bootMs: () => this.bootMs,
      intervalMs: () => this.intervalMs,
      corroboratedCount: () => this.corroboratedCount(),
      sweep: () => { this.sweep() },
      validateHeartbeat: (from, data, source) => this.validate(from, data, source),
      receiveHeartbeat: (from, data, source, onShard) => { this.receive(from, data, source, onShard) },
      merge: (peerId, listed, via) => { this.merge(peerId, listed, via) },
      dispatch: (type, detail) => { this.safeDispatch(type, detail) },
      listening: type => this.listenerCount(type) > 0
    }, validateAggregation({ ...DEFAULT_AGGREGATION, ...init.aggregation }))
  }

  /**
   * Subscribes, installs the validator and publishes the first heartbeat right away. `restarts` is
   * this node's own count of its restarts (the node keeps it in its data directory), announced in
   * every heartbeat so that every peer shows the same number.
   */
  start (options: { restarts?: number } = {}): void {
    if (this.running) return
    this.running = true
    this.restarts = options.restarts ?? 0
    this.bootMs = this.components.clock.now()
    this.seq = 0
    const { transport } = this.components
    transport.setValidator(HEARTBEAT_TOPIC, (from, data, source) => this.validate(from, data, source))
    transport.subscribe(HEARTBEAT_TOPIC, (from, data, source) => { this.receive(from, data, source) })
    this.aggregation.start()
    this.tick()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.timer?.cancel()
    this.timer = undefined
    this.aggregation.stop()
    const { transport } = this.components
    transport.unsubscribe(HEARTBEAT_TOPIC)
    transport.removeValidator(HEARTBEAT_TOPIC)
  }

  /**
   * Publishes a heartbeat now, outside the schedule (what this node holds just changed), so peers
   * learn it within one gossip hop rather than one interval. The next scheduled beat is unchanged.
   */
  async publishNow (): Promise<void> {
    if (!this.running) return
    await this.publish(this.corroboratedCount())
  }

  /** The mesh view now, this node first, then by peer id. */
  view (): MemberInfo[] {
    const now = this.components.clock.now()
    return [...this.members.values()]
      .map(entry => this.toInfo(entry, now))
      .sort((a, b) => Number(b.self) - Number(a.self) || a.peerId.localeCompare(b.peerId))
  }

  get (peerId: string): MemberInfo | undefined {
    const entry = this.members.get(peerId)
    return entry == null ? undefined : this.toInfo(entry, this.components.clock.now())
  }

  /**
   * Sets (or with `undefined` removes) a property override at run time: the next heartbeat
   * carries it, over what the platform reports.
   */
  setProperty (key: string, value: string | undefined): void {
    if (value === undefined) delete this.overrides[key]
    else this.overrides[key] = value
  }

  /** The property overrides the next heartbeat carries. */
  propertyOverrides (): Properties {
    return { ...this.overrides }
  }

  /** Peers (this one included) currently alive or suspect. */
  liveCount (): number {
    const now = this.components.clock.now()
    let n = 0
    for (const entry of this.members.values()) {
      if (statusOf(entry, now, this.judging()) !== 'dead') n++
    }
    return n
  }

  /**
   * The fleet size the interval is sized on: live peers heard from themselves or through two
   * sources, this one included. Identities only ever relayed by one peer (what a member minting
   * identities produces) do not stretch the interval.
   */
  corroboratedCount (): number {
    const now = this.components.clock.now()
    let n = 1 // this node, however late its own last beat was recorded (a blocked event loop)
    for (const entry of this.members.values()) {
      if (entry.peerId !== this.components.peerId && isCorroborated(entry) && statusOf(entry, now, this.judging()) !== 'dead') n++
    }
    return n
  }

  /** When (this node's clock) a heartbeat from another peer was last accepted; undefined if never. */
  lastHeardMs (): number | undefined {
    return this.lastHeard
  }

  currentIntervalMs (): number {
    return this.intervalMs
  }

  getStats (): MembershipStats {
    return { ...this.stats }
  }

  /**
   * The validator gossipsub runs before it forwards a heartbeat. Must answer fast. `source` is
   * the peer that delivered it (default: `from` itself).
   */
  validate (from: string, data: Uint8Array, source: string = from): ValidationResult {
    if (from === this.components.peerId) return 'ignore'
    try {
      decodeHeartbeat(data, this.maxBytes, { receivedMs: this.components.clock.now() })
      if (!this.members.has(from) && !this.admitNew(from, source)) {
        this.stats.limited++
        return 'ignore'
      }
      return 'accept'
    } catch (err) {
      if (err instanceof UnsupportedHeartbeatSchemaError) {
        this.stats.ignored++
        this.log.debug('ignored heartbeat from a newer schema', { from, schema: err.schema })
        return 'ignore'
      }
      this.stats.rejected++
      this.log.warn('rejected heartbeat', { from, bytes: data.byteLength, reason: (err as Error).message })
      return 'reject'
    }
  }

  /** Admission of an identity the view does not hold (admission.ts); spends the source's token. */
  private admitNew (peerId: string, source: string): boolean {
    if (this.components.admit != null && !this.components.admit(peerId, { source })) {
      this.log.debug('identity refused by the admission check', { peer: peerId, source })
      return false
    }
    const now = this.components.clock.now()
    const full = this.members.size >= this.admission.maxMembers
    const decision = admitIdentity({
      author: peerId,
      source,
      size: this.members.size,
      canEvictDead: full && this.oldestDead(now) != null,
      budget: this.budgets.get(source),
      now
    }, this.admission)
    if (!decision.admit) {
      if (!this.warned.has(source)) {
        if (this.warned.size < this.admission.maxMembers) this.warned.add(source)
        this.log.warn('not adding new identities to the mesh view', { source, reason: decision.reason, size: this.members.size })
      }
      return false
    }
    if (decision.budget != null && (this.budgets.has(source) || this.budgets.size < this.admission.maxMembers)) this.budgets.set(source, decision.budget)
    if (decision.evictDead) {
      const dead = this.oldestDead(now)
      if (dead != null) {
        this.dropMember(dead)
        this.log.info('forgot dead peer to make room', { peer: dead })
      }
    }
    return true
  }

  /** The dead member heard from longest ago, if any. */
  private oldestDead (now: number): string | undefined {
    let oldest: MemberEntry | undefined
    for (const entry of this.members.values()) {
      if (entry.peerId === this.components.peerId || statusOf(entry, now, this.judging()) !== 'dead') continue
      if (oldest == null || entry.receivedMs < oldest.receivedMs) oldest = entry
    }
    return oldest?.peerId
  }

  private receive (from: string, data: Uint8Array, source: string = from, onShard = false): void {
    let hb: Heartbeat
    try {
      hb = decodeHeartbeat(data, this.maxBytes, { receivedMs: this.components.clock.now() })
    } catch (err) {
      // Only reachable if a transport delivers without validating; still changes nothing.
      if (!(err instanceof InvalidHeartbeatError || err instanceof UnsupportedHeartbeatSchemaError)) throw err
      this.stats.rejected++
      return
    }
    // Only reachable past the cap if a transport delivers without validating.
    if (!this.members.has(from) && this.members.size >= this.admission.maxMembers) {
      this.stats.limited++
      return
    }
    this.record(from, hb, data.byteLength, source, onShard)
  }

  private record (peerId: string, hb: Heartbeat, bytes = 0, source: string = peerId, onShard = false): void {
    const now = this.components.clock.now()
    const held = this.members.get(peerId)
    let result = observe(held, peerId, hb, now, this.judging())
    // The same beat a digest already told of, without its stats: first-hand detail wins the tie.
    if (result.kind === 'stale' && held?.detailFromDigest === true && held.heartbeat.bootMs === hb.bootMs && held.heartbeat.seq === hb.seq) {
      result = { kind: 'updated', entry: { ...held, heartbeat: hb, receivedMs: Math.max(now, held.receivedMs) } }
    }
    if (result.kind !== 'stale') {
      // Heard first-hand: what digests said of it no longer applies.
      const { viaDigest: _via, detailFromDigest: _detail, heardOnShard: _shard, ...entry } = withSource(result.entry, source)
      result.entry = onShard || peerId === this.components.peerId ? { ...entry, heardOnShard: true } : entry
    }
    if (result.kind !== 'stale' && peerId !== this.components.peerId) this.lastHeard = now
    if (result.kind !== 'stale' && peerId !== this.components.peerId && this.listenerCount('heartbeat') > 0) {
      this.safeDispatch('heartbeat', { peerId, seq: hb.seq, sentMs: hb.sentMs, receivedMs: now, bytes })
    }
    switch (result.kind) {
      case 'stale':
        this.stats.stale++
        return
      default:
        if (peerId !== this.components.peerId) this.stats.accepted++
        this.apply(peerId, result, now)
    }
  }

  /** Stores an observation (of a heartbeat or a digest listing) and announces what changed. */
  private apply (peerId: string, result: Exclude<DigestObservation, { kind: 'stale' }>, now: number): void {
    switch (result.kind) {
      case 'joined':
        this.members.set(peerId, result.entry)
        this.aggregation.joined()
        if (peerId !== this.components.peerId) this.log.info('peer joined', { peer: peerId, labels: result.entry.heartbeat.labels, via: result.entry.viaDigest?.aggregator })
        this.lastStatus.set(peerId, statusOf(result.entry, now, this.judging()))
        this.safeDispatch('member:joined', this.toInfo(result.entry, now))
        return
      case 'refreshed':
      case 'restarted':
      case 'updated': {
        this.members.set(peerId, result.entry)
        const before = this.lastStatus.get(peerId)
        const after = statusOf(result.entry, now, this.judging())
        if (before != null && before !== after && after === 'alive') {
          this.lastStatus.set(peerId, 'alive')
          this.log.info('peer is alive again', { peer: peerId, was: before })
          this.safeDispatch('member:status', { peerId, from: before, to: 'alive' })
        }
        if (result.kind === 'restarted') {
          this.log.info('peer restarted', { peer: peerId })
          this.safeDispatch('member:restarted', this.toInfo(result.entry, now))
        }
        return
      }
      default: {
        const unreachable: never = result
        throw new Error(`unknown observation ${String(unreachable)}`)
      }
    }
  }

  private dropMember (peerId: string): void {
    this.members.delete(peerId)
    this.lastStatus.delete(peerId)
    this.aggregation.forget(peerId)
  }

  /**
   * Drops a peer from the view now (`tutti delete node`), as the sweep does once it has been dead
   * for `forgetAfterMs`. Refused for this node and for a peer still alive, which its next
   * heartbeat would bring back: 'self' and 'alive' say so, 'unknown' that it is not in the view.
   */
  forget (peerId: string): 'forgotten' | 'self' | 'alive' | 'unknown' {
    const entry = this.members.get(peerId)
    if (entry == null) return 'unknown'
    if (peerId === this.components.peerId) return 'self'
    if (statusOf(entry, this.components.clock.now(), this.judging()) === 'alive') return 'alive'
    this.dropMember(peerId)
    this.log.info('forgot peer on request', { peer: peerId })
    return 'forgotten'
  }

  /** This node's local health score (health.ts): 0 while its timers fire on time. */
  localHealth (): number {
    return this.health
  }

  /** The liveness thresholds peers are judged by now: the configured ones, stretched while this node is slow. */
  private judging (): LivenessParams {
    return judgedLiveness(this.liveness, this.health)
  }

  private noteTimer (latenessMs: number, stepMs: number): void {
    const before = this.health
    this.health = nextHealthScore(before, latenessMs, stepMs, this.intervalMs, this.healthParams)
    if (before === 0 && this.health > 0) {
      this.log.warn('this node runs late: giving peers more time before suspecting them', { latenessMs, score: this.health, times: 1 + this.health })
    } else if (before > 0 && this.health === 0) {
      this.log.info('this node runs on time again: judging peers by the usual thresholds')
    } else if (this.health > before) {
      this.log.debug('this node runs late', { latenessMs, score: this.health })
    }
  }

  /** Re-judges every member, announcing status changes and forgetting long-dead peers. */
  sweep (): void {
    const now = this.components.clock.now()
    for (const [source, budget] of this.budgets) {
      if (!isFull(budget, now, this.admission)) continue
      this.budgets.delete(source)
      this.warned.delete(source)
    }
    for (const d of sweepDecisions(this.members, this.lastStatus, now, this.judging(), this.components.peerId)) {
      switch (d.kind) {
        case 'forget':
          this.dropMember(d.peerId)
          this.log.info('forgot dead peer', { peer: d.peerId })
          break
        case 'status':
          this.lastStatus.set(d.peerId, d.to)
          this.log.info(`peer is ${d.to}`, { peer: d.peerId, ageMs: d.ageMs })
          this.safeDispatch('member:status', { peerId: d.peerId, from: d.from, to: d.to })
          break
        default: {
          const unreachable: never = d
          throw new Error(`unknown sweep decision ${String(unreachable)}`)
        }
      }
    }
  }

  private tick (): void {
    if (!this.running) return
    this.sweep()
    const fleet = this.corroboratedCount()
    this.aggregation.update(fleet)
    // Sharded, a node hears heartbeats of its shard only: the interval is sized on the shard.
    const heard = this.aggregation.status().bits === 0 ? fleet : this.aggregation.shardPopulation()
    this.intervalMs = nextIntervalMs(this.intervalMs, heard, this.lastBytes, this.intervalParams)
    // Re-check frequently enough to notice suspect/dead peers on time even at long intervals.
    const sweepEvery = Math.min(this.intervalMs, this.intervalParams.baseIntervalMs)
    let untilBeat = jittered(this.intervalMs, this.components.random)
    const beat = (): void => {
      void this.publish(fleet).catch(err => {
        this.log.warn('heartbeat publish failed', { err })
      })
    }
    beat()
    const wait = (): void => {
      if (!this.running) return
      // Also wake when a silent member is due to turn suspect or dead, to see it on the spot.
      const change = nextStatusChangeMs(this.members, this.components.clock.now(), this.judging(), this.components.peerId)
      const step = Math.max(1, Math.min(sweepEvery, untilBeat, change === undefined ? Infinity : change - this.components.clock.now()))
      const dueAt = this.components.clock.now() + step
      this.timer = this.components.clock.setTimeout(() => {
        this.noteTimer(this.components.clock.now() - dueAt, step)
        untilBeat -= step
        if (untilBeat <= 0) {
          this.tick()
        } else {
          this.sweep()
          wait()
        }
      }, step)
    }
    wait()
  }

  private async publish (fleetSize: number): Promise<void> {
    // Read first, stamp after: on a busy event loop the read can take a while, and the stamp
    // must say when the heartbeat left, not when it was started.
    const props = { ...(await this.components.readProperties()), ...this.overrides }
    if (!this.running) return
    const now = this.components.clock.now()
    const hb: Heartbeat = {
      bootMs: this.bootMs,
      seq: ++this.seq,
      sentMs: Math.max(now, this.bootMs),
      intervalMs: this.intervalMs,
      nodeVersion: this.nodeVersion,
      uptimeMs: now - this.bootMs,
      labels: this.labels,
      props,
      fleetSize,
      ...(this.restarts > 0 ? { restarts: this.restarts } : {}),
      models: selectModels(this.components.readModels?.() ?? []),
      rollouts: (this.components.readRollouts?.() ?? []).slice(0, MAX_HEARTBEAT_ROLLOUTS)
    }
    let data: Uint8Array
    try {
      data = encodeHeartbeat(hb)
    } catch (err) {
      // Model and rollout state come from other subsystems; a bad entry must not silence the node.
      if (!(err instanceof InvalidHeartbeatError) || ((hb.models ?? []).length === 0 && (hb.rollouts ?? []).length === 0)) throw err
      data = this.encodeWithout(hb, err)
    }
    this.lastBytes = data.byteLength + GOSSIP_ENVELOPE_BYTES
    this.record(this.components.peerId, hb)
    this.stats.published++
    await this.components.transport.publish(this.aggregation.heartbeatTopic(), data)
  }

  // ---- aggregation (sharding.ts, docs/HEARTBEATS.md) --------------------------------------------

  /** Where this node stands in heartbeat aggregation now. */
  sharding (): ShardingStatus {
    return this.aggregation.status()
  }

  /**
   * Hear every shard first-hand (on), or only this node's own (off). A rollout coordinator turns it
   * on while it leads: its selector and gates then read exact, fresh properties and inference stats
   * of every target, not the digests' projection (docs/HEARTBEATS.md).
   */
  watchAllShards (on: boolean): void {
    this.aggregation.watchAllShards(on)
  }

  /** Live peers of this node's shard (itself left out); empty while heartbeats are not sharded. */
  shardPeers (): string[] {
    return this.aggregation.shardPeers()
  }

  /** The validator of the digest topic (sharding.ts). */
  validateDigest (from: string, data: Uint8Array, source: string = from): ValidationResult {
    return this.aggregation.validateDigest(from, data, source)
  }

  /** Folds one digest listing into the view (view.ts `observeDigest`), admission first for a new peer. */
  private merge (peerId: string, listed: DigestListing, via: { aggregator: string, intervalMs: number }): void {
    if (peerId === this.components.peerId) return
    const now = this.components.clock.now()
    const held = this.members.get(peerId)
    if (held == null && !this.admitNew(peerId, via.aggregator)) {
      this.stats.limited++
      return
    }
    const result = observeDigest(held, peerId, listed, via, now, this.judging())
    if (result.kind === 'stale') return
    result.entry = withSource(result.entry, via.aggregator)
    this.apply(peerId, result, now)
  }

  /** Drops rollout state, then model state, until the heartbeat encodes. */
  private encodeWithout (hb: Heartbeat, err: InvalidHeartbeatError): Uint8Array {
    if ((hb.rollouts ?? []).length > 0) {
      this.log.error('heartbeat rollout state is invalid; sending the heartbeat without it', { err })
      hb.rollouts = []
      try {
        return encodeHeartbeat(hb)
      } catch (again) {
        if (!(again instanceof InvalidHeartbeatError) || (hb.models ?? []).length === 0) throw again
        err = again
      }
    }
    this.log.error('heartbeat model state is invalid; sending the heartbeat without it', { err })
    hb.models = []
    return encodeHeartbeat(hb)
  }

  private toInfo (entry: MemberEntry, now: number): MemberInfo {
    const hb = entry.heartbeat
    const self = entry.peerId === this.components.peerId
    return {
      peerId: entry.peerId,
      self,
      status: self ? 'alive' : statusOf(entry, now, this.judging()),
      labels: { ...hb.labels },
      props: { ...hb.props },
      nodeVersion: hb.nodeVersion,
      uptimeMs: hb.uptimeMs,
      bootMs: hb.bootMs,
      seq: hb.seq,
      intervalMs: hb.intervalMs,
      fleetSize: hb.fleetSize,
      models: (hb.models ?? []).map(m => ({ ...m })),
      rollouts: (hb.rollouts ?? []).map(r => ({ ...r })),
      lastSeenMs: entry.receivedMs,
      ageMs: Math.max(0, now - entry.receivedMs),
      firstSeenMs: entry.firstSeenMs,
      via: entry.detailFromDigest === true ? 'digest' : 'heartbeat',
      ...(entry.viaDigest != null ? { aggregator: entry.viaDigest.aggregator } : {}),
      // The node's own count where it announces one; a peer that saw more (the node lost its data
      // directory, or is older than the field) keeps what it saw.
      restarts: self ? hb.restarts ?? 0 : Math.max(hb.restarts ?? 0, entry.restarts)
    }
  }

  private safeDispatch<K extends keyof MembershipEvents> (type: K, detail: MembershipEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail } as any)
    } catch (err) {
      this.log.error('event listener threw', { event: type, err })
    }
  }
}

/** What a sweep does to one member: forget it (dead long enough), or announce its new status. */
export type SweepDecision =
  | { kind: 'forget', peerId: string }
  | { kind: 'status', peerId: string, from: MemberStatus, to: MemberStatus, ageMs: number }

/**
 * The sweep, pure: every member but `self` is judged at `now`. One dead for longer than
 * `forgetAfterMs` is forgotten; one whose status differs from the last announced (`lastStatus`,
 * a member never announced counts as alive) gets its change announced. Everyone else: nothing.
 */
export function sweepDecisions (entries: ReadonlyMap<string, MemberEntry>, lastStatus: ReadonlyMap<string, MemberStatus>, now: number, params: LivenessParams, self: string): SweepDecision[] {
  const out: SweepDecision[] = []
  for (const [peerId, entry] of entries) {
    if (peerId === self) continue
    const status = statusOf(entry, now, params)
    if (status === 'dead' && shouldForget(entry, now, params)) {
      out.push({ kind: 'forget', peerId })
      continue
    }
    const before = lastStatus.get(peerId) ?? 'alive'
    if (before !== status) out.push({ kind: 'status', peerId, from: before, to: status, ageMs: now - entry.receivedMs })
  }
  return out
}

const STATE_ORDER: Record<HeartbeatModel['state'], number> = { active: 0, previous: 1, staged: 2, partial: 3 }

/** The models a heartbeat has room for: active ones first, partial downloads last. */
export function selectModels (models: HeartbeatModel[]): HeartbeatModel[] {
  return [...models]
    .sort((a, b) => STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.name.localeCompare(b.name))
    .slice(0, MAX_HEARTBEAT_MODELS)
}
