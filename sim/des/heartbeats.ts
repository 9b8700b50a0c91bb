/**
 * Heartbeat traffic in the simulator, with the node's own aggregation (docs/HEARTBEATS.md): shard
 * bits from the fleet size (`shardBitsFor`), shards from peer-id hashes (`shardOf`), aggregators by
 * XOR distance (`rankAggregators`), digest contents (`planDigest`: changed peers in full, the rest
 * by tag, everyone every `fullEveryDigests`), digest sizes from the real encoder (`encodeDigest`,
 * `encodeSignedDigest`) and the digest interval (`digestIntervalMs`).
 *
 * Two parts:
 * - {@link heartbeatCost}: the steady state for a fleet of N, with and without aggregation (what
 *   a node would receive if every heartbeat went to every node: past about 230 nodes the 60 s cap
 *   binds and that grows with N).
 * - {@link HeartbeatTraffic}: what the simulated nodes of a run receive, beat by beat and digest by
 *   digest, for the "measured" figure. Views in the simulator are still worked out from the beats
 *   themselves (world.ts); what aggregation changes there, that a remote peer's status and detail
 *   arrive a digest interval later, is not modelled.
 */
import { encodeDigest, encodeSignedDigest } from '../../protocols/heartbeat/index.js'
import { estimateDigestBytes, planDigest } from '../../node/membership/aggregation.js'
import { DEFAULT_INTERVAL, receivedBytesPerSec, targetIntervalMs } from '../../node/membership/interval.js'
import { DEFAULT_AGGREGATION, digestFullBudgetBytes, digestIntervalMs, peerHash, peerTag, rankAggregators, shardBitsFor, shardOf } from '../../node/membership/shards.js'
import type { Heartbeat } from '../../protocols/heartbeat/index.js'
import type { ShardMember } from '../../node/membership/aggregation.js'
import type { IntervalParams } from '../../node/membership/interval.js'
import type { AggregationParams } from '../../node/membership/shards.js'

/** What a gossip message costs beyond its payload (membership.ts): envelope, signature, framing. */
export const GOSSIP_ENVELOPE_BYTES = 170

export interface HeartbeatCostParams {
  /** One heartbeat on the wire, bytes (docs/HEARTBEATS.md). @default 360 */
  heartbeatBytes: number
  /** Share of a shard's peers whose detail (rollout state, battery...) changed since its previous digest. @default 0.01 */
  changedFraction: number
  interval: IntervalParams
  aggregation: AggregationParams
}

export const DEFAULT_HEARTBEAT_COST: HeartbeatCostParams = {
  heartbeatBytes: 360,
  changedFraction: 0.01,
  interval: DEFAULT_INTERVAL,
  aggregation: DEFAULT_AGGREGATION
}

/** A heartbeat as a simulated node sends it: its attributes as properties, and its rollout state. */
export function simHeartbeat (attrs: Record<string, string>, state?: string): Heartbeat {
  return {
    bootMs: 1_700_000_000_000, seq: 100, sentMs: 1_700_000_600_000, intervalMs: 60_000, nodeVersion: '0.1.0', uptimeMs: 600_000,
    labels: {}, props: { cpus: '4', arch: 'arm64', 'mem.total': '4294967296', 'mem.free': '2147483648', ...attrs }, fleetSize: 10_000,
    models: [{ name: 'detector', version: '1.0.0', cid: 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku', state: 'active', stats: { n: 1000, e: 0, p50: 4, p95: 9, p99: 14, nf: 0, mb: 60 } }],
    ...(state != null ? { rollouts: [{ name: 'detector-v2', policyVersion: 1, state, reason: '', epoch: 1 }] } : {})
  }
}

const SAMPLE = simHeartbeat({ class: 'camera', battery: '57.3' }, 'Active')

/**
 * Bytes on the wire of one digest listing `full` peers in full, `updated` by rollout update and
 * `tagged` by tag (the real encoder, over a realistic heartbeat).
 */
export function digestWireBytes (full: number, tagged: number, updated = 0, sample: Heartbeat = SAMPLE): number {
  const members: ShardMember[] = Array.from({ length: full + tagged + updated }, (_, i) => ({
    peerId: `12D3KooW${String(i).padStart(44, 'x')}`, tag: (i * 2654435761) >>> 0, ageMs: 20_000 + i * 100, heartbeat: sample
  }))
  const plan = planDigest(members.slice(0, full), new Map(), true, Number.MAX_SAFE_INTEGER)
  const payload = encodeDigest({
    shardBits: 6, shardIndex: 17, aggregator: '12D3KooWaggregatoraggregatoraggregatoraggregator00', bootMs: 1_700_000_000_000, seq: 1000,
    intervalMs: 300_000, fleetSize: 10_000, entries: plan.entries,
    tagged: members.slice(full, full + tagged).map(m => ({ tag: m.tag, ageMs: m.ageMs })),
    updated: members.slice(full + tagged).map(m => ({ tag: m.tag, ageMs: m.ageMs, rollouts: sample.rollouts ?? [] }))
  })
  return encodeSignedDigest(payload, new Uint8Array(64)).byteLength + GOSSIP_ENVELOPE_BYTES
}

export interface HeartbeatCost {
  fleetSize: number
  /** Bytes per second one node receives with every heartbeat sent to everyone. */
  flatBytesPerSec: number
  flatIntervalMs: number
  /** Shard bits the node's core picks for this fleet (0: not sharded). */
  shardBits: number
  /** Bytes per second one node receives with shards and digests (both streams). */
  shardedBytesPerSec: number
  /** Of which digests. */
  digestBytesPerSec: number
  shardIntervalMs: number
  /** 0 when not sharded. */
  digestIntervalMs: number
  /** Mean bytes of one digest, full rounds included. */
  digestBytes: number
}

/** The steady-state cost for a fleet of `fleetSize` nodes. */
export function heartbeatCost (fleetSize: number, params: HeartbeatCostParams = DEFAULT_HEARTBEAT_COST): HeartbeatCost {
  const p = params.interval
  const a = params.aggregation
  const n = Math.max(1, fleetSize)
  const flatIntervalMs = targetIntervalMs(n, params.heartbeatBytes, p)
  const flat = receivedBytesPerSec(n, params.heartbeatBytes, flatIntervalMs, p.amplification)
  const bits = shardBitsFor(n, 0, a)
  if (bits === 0) {
    return { fleetSize: n, flatBytesPerSec: flat, flatIntervalMs, shardBits: 0, shardedBytesPerSec: flat, digestBytesPerSec: 0, shardIntervalMs: flatIntervalMs, digestIntervalMs: 0, digestBytes: 0 }
  }
  const shards = 2 ** bits
  const shard = Math.ceil(n / shards)
  const shardIntervalMs = targetIntervalMs(shard, params.heartbeatBytes, p)
  const inShard = receivedBytesPerSec(shard, params.heartbeatBytes, shardIntervalMs, p.amplification)
  // Steady state: the changed peers go as rollout updates, the rest by tag; every
  // fullEveryDigests the shard is listed in full again, at most digestFullBytes a digest.
  const changed = Math.ceil(params.changedFraction * shard)
  const perFull = Math.max(1, Math.floor(digestFullBudgetBytes(shards, shard, a) / 300))
  const relisting = Math.ceil(shard / perFull)
  const plain = digestWireBytes(0, shard - changed, changed)
  const full = digestWireBytes(perFull, shard - perFull - changed, changed)
  const rounds = Math.max(a.fullEveryDigests, relisting)
  const digestBytes = (relisting * full + (rounds - relisting) * plain) / rounds
  const every = digestIntervalMs(shards, digestBytes, p, a)
  const digests = receivedBytesPerSec(shards * a.aggregators, digestBytes, every, a.digestAmplification)
  return { fleetSize: n, flatBytesPerSec: flat, flatIntervalMs, shardBits: bits, shardedBytesPerSec: inShard + digests, digestBytesPerSec: digests, shardIntervalMs, digestIntervalMs: every, digestBytes }
}

/** What the traffic model reads of the simulated world. */
export interface TrafficWorld {
  readonly nodes: ReadonlyArray<{ i: number, id: string, liveness: 'up' | 'paused' | 'down', hbAttrs: Record<string, string>, hbAttrsVersion: number }>
  segOf: (i: number) => number
  segmentPopulation: (seg: number) => number
  /** Bumped whenever who runs or where changes. */
  readonly popVersion: number
  readonly now: number
}

interface ShardState {
  seg: number
  bits: number
  index: number
  members: number[]
  /** Serving aggregators (node indexes) among the running members. */
  serving: number[]
  nextDueMs: number
  round: number
  sent: Map<string, string>
  /** Bytes per second all receivers get from this shard's latest digests: their bytes over the interval that follows them. */
  pacedBytesPerSec: number
}

/**
 * The heartbeat and digest bytes simulated nodes receive. A beat reaches the running nodes of the
 * sender's shard (all of its segment while not sharded); every base interval the model walks the
 * shards, and each one whose digest is due sends one digest per serving aggregator to every other
 * running node of the segment, of the size the real encoder gives for what the shard changed.
 */
export class HeartbeatTraffic {
  /** Bytes received by all nodes together. */
  bytesReceived = 0
  digestBytesReceived = 0
  digests = 0
  private readonly hashes: Buffer[] = []
  /** The rollout state each node's latest beat announced (0: none). */
  private readonly kind: number[] = []
  private readonly segBits = new Map<number, number>()
  private shards = new Map<string, ShardState>()
  private shardOfNode: Int32Array = new Int32Array(0)
  private version = -1

  constructor (private readonly world: TrafficWorld, private readonly params: HeartbeatCostParams = DEFAULT_HEARTBEAT_COST) {}

  private hash (i: number): Buffer {
    let h = this.hashes[i]
    if (h === undefined) { h = peerHash(this.world.nodes[i]!.id); this.hashes[i] = h }
    return h
  }

  private key (seg: number, bits: number, index: number): string { return `${seg}/${bits}/${index}` }

  /** Re-derives segments' bits and shards after a change of who runs where. */
  private refresh (): void {
    if (this.version === this.world.popVersion && this.shardOfNode.length === this.world.nodes.length) return
    this.version = this.world.popVersion
    const nodes = this.world.nodes
    const members = new Map<string, number[]>()
    this.shardOfNode = new Int32Array(nodes.length)
    // Every node of a segment sees the same fleet size there: one decision per segment, with the
    // hysteresis of the bits it had.
    const decided = new Set<number>()
    for (const n of nodes) {
      if (n.liveness === 'down') continue
      const seg = this.world.segOf(n.i)
      if (!decided.has(seg)) {
        decided.add(seg)
        this.segBits.set(seg, shardBitsFor(this.world.segmentPopulation(seg), this.segBits.get(seg) ?? 0, this.params.aggregation))
      }
      const bits = this.segBits.get(seg)!
      const index = shardOf(this.hash(n.i), bits)
      this.shardOfNode[n.i] = index
      const k = this.key(seg, bits, index)
      const list = members.get(k)
      if (list === undefined) members.set(k, [n.i])
      else list.push(n.i)
    }
    const next = new Map<string, ShardState>()
    for (const [k, list] of members) {
      const [seg, bits, index] = k.split('/').map(Number) as [number, number, number]
      const old = this.shards.get(k)
      const up = list.filter(i => nodes[i]!.liveness === 'up')
      const ranked = rankAggregators(bits, index, up.map(i => ({ id: String(i), hash: this.hash(i) })))
      next.set(k, {
        seg, bits, index, members: list,
        serving: ranked.slice(0, this.params.aggregation.aggregators).map(Number),
        nextDueMs: old?.nextDueMs ?? this.world.now,
        round: old?.round ?? 0,
        sent: old?.sent ?? new Map(),
        pacedBytesPerSec: old?.pacedBytesPerSec ?? 0
      })
    }
    this.shards = next
  }

  /**
   * One beat of node `i` in segment `seg`, announcing rollout state `kind`: adds what its receivers
   * get and returns how many running nodes hear it (the sender included), what the node sizes its
   * interval on.
   */
  beat (i: number, seg: number, kind: number): number {
    this.refresh()
    this.kind[i] = kind
    const bits = this.segBits.get(seg) ?? 0
    const heard = bits === 0 ? this.world.segmentPopulation(seg) : (this.shards.get(this.key(seg, bits, this.shardOfNode[i]!))?.members.length ?? 1)
    this.bytesReceived += this.params.heartbeatBytes * this.params.interval.amplification * Math.max(0, heard - 1)
    return heard
  }

  /** Every shard whose digest is due sends it; call every base interval. */
  digestRound (): void {
    this.refresh()
    const now = this.world.now
    const nodes = this.world.nodes
    const a = this.params.aggregation
    for (const s of this.shards.values()) {
      if (s.bits === 0 || now < s.nextDueMs) continue
      const serving = s.serving.filter(i => nodes[i]!.liveness === 'up')
      if (serving.length === 0) continue
      const members: ShardMember[] = s.members.filter(i => nodes[i]!.liveness === 'up').map(i => {
        const n = nodes[i]!
        return { peerId: n.id, tag: peerTag(this.hash(i)), ageMs: 0, heartbeat: this.detail(i) }
      })
      const full = s.round > 0 && s.round % a.fullEveryDigests === 0
      s.round++
      const plan = planDigest(members, s.sent, full, digestFullBudgetBytes(2 ** s.bits, members.length, a))
      s.sent = plan.sent
      const bytes = this.sizeOf(plan.entries.length, plan.tagged.length, plan.updated.length)
      // Paced as the node paces it: on its estimate of the digest just sent.
      const intervalMs = digestIntervalMs(2 ** s.bits, estimateDigestBytes(plan), this.params.interval, a)
      s.nextDueMs = now + intervalMs
      const receivers = Math.max(0, this.world.segmentPopulation(s.seg) - 1)
      const got = serving.length * bytes * a.digestAmplification * receivers
      s.pacedBytesPerSec = got / (intervalMs / 1000)
      this.digests += serving.length
      this.bytesReceived += got
      this.digestBytesReceived += got
    }
  }

  /**
   * Digest bytes per second all nodes receive at the pace the shards have set now: each shard's
   * latest digests over the interval after them. Unlike the run's total over its duration, this
   * leaves out the round every shard sends at once when sharding starts (at 100,000 nodes a
   * digest interval is about half of a 40-minute run).
   */
  pacedDigestBytesPerSec (): number {
    let sum = 0
    for (const s of this.shards.values()) if (s.bits > 0) sum += s.pacedBytesPerSec
    return sum
  }

  private readonly details = new Map<string, Heartbeat>()
  /** The detail a node's beat carries, as a digest compares it: its attributes and rollout state. */
  private detail (i: number): Heartbeat {
    const n = this.world.nodes[i]!
    const k = `${i}:${n.hbAttrsVersion}:${this.kind[i] ?? 0}`
    let hb = this.details.get(k)
    if (hb === undefined) {
      hb = simHeartbeat(n.hbAttrs, (this.kind[i] ?? 0) === 0 ? undefined : `S${this.kind[i]!}`)
      if (this.details.size > 4 * this.world.nodes.length) this.details.clear()
      this.details.set(k, hb)
    }
    return hb
  }

  /**
   * Bytes of a digest: what the real encoder writes for an empty one, plus what it writes per full
   * entry, per rollout update and per tag (measured once on 64 of each: encoding every simulated
   * digest made small runs four times slower, for a difference of a few bytes of varint lengths).
   */
  private readonly unit = (() => {
    const empty = digestWireBytes(0, 0)
    return { empty, full: (digestWireBytes(64, 0) - empty) / 64, tag: (digestWireBytes(0, 64) - empty) / 64, update: (digestWireBytes(0, 0, 64) - empty) / 64 }
  })()

  private sizeOf (full: number, tagged: number, updated: number): number {
    const u = this.unit
    return Math.round(u.empty + full * u.full + tagged * u.tag + updated * u.update)
  }
}
