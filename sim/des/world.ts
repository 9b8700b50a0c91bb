/**
 * The simulated world under the discrete-event engine: logical nodes on one ManualClock, their
 * processes (up, paused like SIGSTOP, crashed), the network between them (partition segments,
 * per-node link shapes, loss, latency, RPCs that time out) and the heartbeats every node
 * publishes, from which each node's view of who is alive is computed with the node's own
 * `statusOf` (node/membership/view.ts) and interval core (node/membership/interval.ts).
 *
 * Views are not stored per pair (10,000 x 10,000 would not fit): every node keeps a ring of its
 * last {@link RING} heartbeats (send time, segment, interval, rollout state), and what node i
 * last heard from node j is worked out on demand: the newest beat of j that reached i's segment
 * while i was awake since its boot and was not lost. A node that leads a rollout keeps a cache of
 * its whole view, brought up to date with the beats sent since its last look.
 */
import { nextIntervalMs, jittered, DEFAULT_INTERVAL } from '../../node/membership/interval.js'
import { DEFAULT_LIVENESS, statusOf } from '../../node/membership/view.js'
import { HeartbeatTraffic } from './heartbeats.js'
import type { ManualClock } from '../../core/clock.js'
import type { MemberEntry, MemberStatus } from '../../node/membership/view.js'
import type { LinkShape } from '../scenario.js'

/** Heartbeats remembered per node. A peer silent for more beats of others than this is "never heard". */
export const RING = 16
/** One heartbeat on the wire, bytes (docs/HEARTBEATS.md). */
export const HEARTBEAT_BYTES = 360
/** Deadline of one RPC (the coordinator's `rpcTimeoutMs`), ms. */
export const RPC_TIMEOUT_MS = 5000

export type Liveness = 'up' | 'paused' | 'down'

export interface SimNode {
  i: number
  id: string
  /** Labels and live properties as they are now (labels win on a clash). */
  attrs: Record<string, string>
  /** As the latest heartbeat announced them. */
  hbAttrs: Record<string, string>
  hbAttrsVersion: number
  liveness: Liveness
  /** Bumped on every crash and restart: timers of an earlier boot never fire. */
  boot: number
  bootAt: number
  /** Awake intervals since boot: [from, to), to = Infinity while awake. */
  awakeFrom: number[]
  awakeTo: number[]
  /** Timers that came due while paused: they fire on resume, late, as after SIGCONT. */
  deferred: Array<() => void>
  intervalMs: number
  beats: number
  /** Slowdown factors of the disk (verify) and CPU (load, smoke test). */
  slowDisk: number
  slowCpu: number
  link?: Partial<LinkShape>
  /** Index of the next progress publication to fold into this node's copy. */
  progressUpto: number
}

/** A published progress record and where it went. */
export interface Publication<P> { t: number, seg: number, progress: P }

const AMPLIFICATION = DEFAULT_INTERVAL.amplification

export class World<P extends { epoch: number, seq: number, policyVersion: number }> {
  readonly nodes: SimNode[] = []
  /** Ring buffers, RING slots per node. */
  private beatT = new Float64Array(0)
  private beatSeg = new Int32Array(0)
  private beatIv = new Int32Array(0)
  /** Device state code of the rollout (index + 1 into the caller's kinds; 0 = none). */
  private beatKind = new Int8Array(0)
  /** When the device became Active on the rolled-out version, as of the beat; NaN if not. */
  private beatActiveAt = new Float64Array(0)
  /** Segment of every node, one snapshot per topology change. */
  private readonly topoAt: number[] = []
  private readonly topo: Int32Array[] = []
  private nextSeg = 1
  private segPop = new Map<number, number>()
  /**
   * Heartbeat and digest bytes the nodes receive, with the node's own aggregation past the
   * threshold (heartbeats.ts): a beat reaches the sender's shard, digests every node.
   */
  readonly traffic: HeartbeatTraffic
  /** Bumped whenever who runs, or where, changes. */
  popVersion = 0
  private digestsStarted = false
  hbBeats = 0
  readonly pubs: Array<Publication<P>> = []
  /** Each node's newest progress (persisted) and when it arrived (0 after a restart). */
  readonly held: Array<{ progress: P, receivedMs: number } | undefined> = []
  /** One-way delay of a flooded message (heartbeat, progress): gossip hops x link latency. */
  floodDelayMs = 0
  private readonly lossHash: number

  constructor (
    readonly clock: ManualClock,
    readonly random: () => number,
    readonly base: LinkShape,
    readonly degree: number,
    seed: number,
    private readonly isNewer: (a: P, b: P | undefined) => boolean
  ) {
    this.lossHash = seed >>> 0
    this.traffic = new HeartbeatTraffic(this)
  }

  /** Heartbeat and digest bytes received by all nodes, for the per-node rate. */
  get hbBytesReceived (): number { return this.traffic.bytesReceived }

  get now (): number { return this.clock.now() }

  // ---- nodes and processes ------------------------------------------------------------------

  addNode (id: string, attrs: Record<string, string>): SimNode {
    const i = this.nodes.length
    const now = this.now
    const node: SimNode = {
      i, id, attrs, hbAttrs: { ...attrs }, hbAttrsVersion: 0, liveness: 'up', boot: 0, bootAt: now,
      awakeFrom: [now], awakeTo: [Number.POSITIVE_INFINITY], deferred: [], intervalMs: DEFAULT_INTERVAL.baseIntervalMs,
      beats: 0, slowDisk: 1, slowCpu: 1, progressUpto: 0
    }
    this.nodes.push(node)
    this.held.push(undefined)
    this.growRings()
    return node
  }

  private growRings (): void {
    const need = this.nodes.length * RING
    if (this.beatT.length >= need) return
    const cap = Math.max(need, this.beatT.length * 2)
    const grow = <T extends Float64Array | Int32Array | Int8Array>(old: T, make: (n: number) => T, fill?: number): T => {
      const next = make(cap)
      if (fill !== undefined) next.fill(fill)
      next.set(old)
      return next
    }
    this.beatT = grow(this.beatT, n => new Float64Array(n), Number.NEGATIVE_INFINITY)
    this.beatSeg = grow(this.beatSeg, n => new Int32Array(n))
    this.beatIv = grow(this.beatIv, n => new Int32Array(n))
    this.beatKind = grow(this.beatKind, n => new Int8Array(n))
    this.beatActiveAt = grow(this.beatActiveAt, n => new Float64Array(n), Number.NaN)
  }

  /** Runs `fn` after `ms` in `node`'s process: dropped if it crashed since, deferred while paused. */
  after (node: SimNode, ms: number, fn: () => void): void {
    const boot = node.boot
    this.clock.setTimeout(() => {
      if (node.boot !== boot || node.liveness === 'down') return
      if (node.liveness === 'paused') node.deferred.push(fn)
      else fn()
    }, ms)
  }

  awakeAt (node: SimNode, t: number): boolean {
    if (t < node.bootAt) return false
    for (let k = node.awakeFrom.length - 1; k >= 0; k--) {
      if (t >= node.awakeFrom[k]!) return t < node.awakeTo[k]!
    }
    return false
  }

  pause (node: SimNode): void {
    if (node.liveness !== 'up') return
    node.liveness = 'paused'
    node.awakeTo[node.awakeTo.length - 1] = this.now
    this.recount()
  }

  resume (node: SimNode): void {
    if (node.liveness !== 'paused') return
    node.liveness = 'up'
    node.awakeFrom.push(this.now)
    node.awakeTo.push(Number.POSITIVE_INFINITY)
    this.recount()
    const due = node.deferred.splice(0)
    for (const fn of due) {
      if (node.liveness !== 'up') break
      fn()
    }
  }

  crash (node: SimNode): void {
    if (node.liveness === 'down') return
    this.foldProgress(node)
    node.liveness = 'down'
    node.boot++
    node.deferred = []
    if (node.awakeTo[node.awakeTo.length - 1] === Number.POSITIVE_INFINITY) node.awakeTo[node.awakeTo.length - 1] = this.now
    this.recount()
  }

  /** Back with its data directory: persisted progress survives (received at 0: stale), the view starts empty. */
  restart (node: SimNode): void {
    if (node.liveness !== 'down') return
    node.liveness = 'up'
    node.boot++
    node.bootAt = this.now
    node.awakeFrom = [this.now]
    node.awakeTo = [Number.POSITIVE_INFINITY]
    node.progressUpto = this.pubs.length
    const held = this.held[node.i]
    if (held !== undefined) this.held[node.i] = { progress: held.progress, receivedMs: 0 }
    this.recount()
  }

  // ---- topology ------------------------------------------------------------------------------

  /** The segment each node is in now. */
  segOf (i: number): number {
    const snap = this.topo[this.topo.length - 1]
    return snap === undefined || i >= snap.length ? 0 : snap[i]!
  }

  private segAt (i: number, t: number): number {
    let lo = 0
    let hi = this.topoAt.length - 1
    if (hi < 0 || t < this.topoAt[0]!) return -1
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1
      if (this.topoAt[mid]! <= t) lo = mid
      else hi = mid - 1
    }
    const snap = this.topo[lo]!
    return i < snap.length ? snap[i]! : -1
  }

  /** A new topology: `groupOf(i)` names each node's group; every group becomes a new segment. */
  setTopology (groupOf: (i: number) => number): void {
    const segs = new Map<number, number>()
    const snap = new Int32Array(this.nodes.length)
    for (let i = 0; i < snap.length; i++) {
      const g = groupOf(i)
      let s = segs.get(g)
      if (s === undefined) { s = this.nextSeg++; segs.set(g, s) }
      snap[i] = s
    }
    this.topoAt.push(this.now)
    this.topo.push(snap)
    this.recount()
    this.updateFloodDelay()
  }

  private updateFloodDelay (): void {
    const hops = Math.max(1, Math.ceil(Math.log(Math.max(2, this.nodes.length)) / Math.log(Math.max(2, this.degree))))
    this.floodDelayMs = hops * (this.base.latencyMs + this.base.jitterMs / 2)
  }

  /** Nodes added since the last topology change join the segment of `like` (or the first). */
  extendTopology (like = 0): void {
    const last = this.topo[this.topo.length - 1]
    const seg = last === undefined ? 0 : this.segOf(like)
    const snap = new Int32Array(this.nodes.length)
    if (last !== undefined) snap.set(last.subarray(0, Math.min(last.length, snap.length)))
    for (let i = last?.length ?? 0; i < snap.length; i++) snap[i] = seg
    this.topoAt.push(this.now)
    this.topo.push(snap)
    this.recount()
    this.updateFloodDelay()
  }

  private popDirty = true
  private recount (): void {
    this.popDirty = true
    this.popVersion++
  }

  /** Running nodes in a segment: what each node's fleet-size estimate is based on. */
  segmentPopulation (seg: number): number {
    if (this.popDirty) {
      const pop = new Map<number, number>()
      for (const n of this.nodes) if (n.liveness !== 'down') pop.set(this.segOf(n.i), (pop.get(this.segOf(n.i)) ?? 0) + 1)
      this.segPop = pop
      this.popDirty = false
    }
    return this.segPop.get(seg) ?? 0
  }

  /** Both processes run and the network joins them now. */
  canTalk (a: number, b: number): boolean {
    return this.nodes[a]!.liveness === 'up' && this.nodes[b]!.liveness === 'up' && this.segOf(a) === this.segOf(b)
  }

  /** The shape of the link between two nodes: the worse of what each end was given. */
  shape (a: number, b: number): LinkShape {
    const la = this.nodes[a]!.link
    const lb = this.nodes[b]!.link
    if (la === undefined && lb === undefined) return this.base
    const base = this.base
    return {
      latencyMs: Math.max(la?.latencyMs ?? base.latencyMs, lb?.latencyMs ?? base.latencyMs),
      jitterMs: Math.max(la?.jitterMs ?? base.jitterMs, lb?.jitterMs ?? base.jitterMs),
      bytesPerSec: Math.min(la?.bytesPerSec ?? base.bytesPerSec, lb?.bytesPerSec ?? base.bytesPerSec),
      loss: Math.max(la?.loss ?? base.loss, lb?.loss ?? base.loss)
    }
  }

  latency (a: number, b: number): number {
    const s = this.shape(a, b)
    return s.latencyMs + (s.jitterMs > 0 ? this.random() * s.jitterMs : 0)
  }

  /**
   * A request from `from` to `to` and its answer, each way with the link's latency and loss, both
   * checked at delivery (a partition or a pause in flight drops it). `handle` runs on `to` when the
   * request arrives; `done` runs in `from`'s process with the answer, or with undefined at the RPC
   * deadline when either way failed.
   */
  rpc<R> (from: SimNode, to: SimNode, handle: () => R, done: (reply: R | undefined) => void): void {
    const sent = this.now
    const fail = (): void => { this.after(from, Math.max(0, sent + RPC_TIMEOUT_MS - this.now), () => { done(undefined) }) }
    if (from.i === to.i) {
      done(handle())
      return
    }
    const loss = this.shape(from.i, to.i).loss
    if (!this.canTalk(from.i, to.i) || this.random() < loss) { fail(); return }
    this.clock.setTimeout(() => {
      if (!this.canTalk(from.i, to.i)) { fail(); return }
      const reply = handle()
      if (this.random() < loss) { fail(); return }
      const back = this.latency(to.i, from.i)
      this.clock.setTimeout(() => {
        if (this.segOf(from.i) !== this.segOf(to.i)) { fail(); return }
        this.after(from, 0, () => { done(reply) })
      }, back)
    }, this.latency(from.i, to.i))
  }

  // ---- heartbeats and views ------------------------------------------------------------------

  /**
   * Starts `node`'s heartbeat: one now, then one every jittered interval, sized by the node's own
   * interval core on the fleet it sees (the running nodes of its segment). `state` reads what the
   * beat says about the rollout.
   */
  startHeartbeats (node: SimNode, state: () => { kind: number, activeAt: number }): void {
    if (!this.digestsStarted) {
      this.digestsStarted = true
      const round = (): void => {
        this.traffic.digestRound()
        this.clock.setTimeout(round, DEFAULT_INTERVAL.baseIntervalMs)
      }
      this.clock.setTimeout(round, DEFAULT_INTERVAL.baseIntervalMs)
    }
    const beat = (): void => {
      const now = this.now
      const seg = this.segOf(node.i)
      const s = state()
      // Who hears the beat (the shard, once sharded) is what the node sizes its interval on.
      const heard = this.traffic.beat(node.i, seg, s.kind)
      node.intervalMs = nextIntervalMs(node.intervalMs, heard, HEARTBEAT_BYTES)
      const k = node.i * RING + (node.beats % RING)
      node.beats++
      this.beatT[k] = now
      this.beatSeg[k] = seg
      this.beatIv[k] = node.intervalMs
      this.beatKind[k] = s.kind
      this.beatActiveAt[k] = s.activeAt
      if (node.hbAttrsVersion === 0 || !sameAttrs(node.hbAttrs, node.attrs)) {
        node.hbAttrs = { ...node.attrs }
        node.hbAttrsVersion++
      }
      this.hbBeats++
      this.after(node, jittered(node.intervalMs, this.random), beat)
    }
    beat()
  }

  private lost (receiver: number, sender: number, seq: number, loss: number): boolean {
    if (loss <= 0) return false
    // Gossip delivers each heartbeat over several paths: it is missed only if every copy is lost.
    let h = Math.imul(receiver ^ this.lossHash, 0x9e3779b1) ^ Math.imul(sender + 1, 0x85ebca6b) ^ Math.imul(seq + 7, 0xc2b2ae35)
    h ^= h >>> 16
    h = Math.imul(h, 0x7feb352d)
    h ^= h >>> 15
    return (h >>> 0) / 4294967296 < loss ** AMPLIFICATION
  }

  /** Whether `receiver` heard beat number `seq` of `sender` by `now`. */
  private heard (receiver: SimNode, sender: number, seq: number, now: number): boolean {
    const k = sender * RING + (seq % RING)
    const t = this.beatT[k]!
    const at = t + this.floodDelayMs
    if (at > now || at < receiver.bootAt) return false
    if (!this.awakeAt(receiver, at)) return false
    if (sender !== receiver.i && this.segAt(receiver.i, t) !== this.beatSeg[k]) return false
    return sender === receiver.i || !this.lost(receiver.i, sender, seq, this.shape(receiver.i, sender).loss)
  }

  /** The newest beat of `sender` that `receiver` heard, as a ring slot, or -1. */
  lastHeard (receiver: SimNode, sender: number, now = this.now): number {
    const n = this.nodes[sender]!
    for (let seq = n.beats - 1; seq >= 0 && seq >= n.beats - RING; seq--) {
      const k = sender * RING + (seq % RING)
      if (this.beatT[k]! + this.floodDelayMs < receiver.bootAt) return -1
      if (this.heard(receiver, sender, seq, now)) return k
    }
    return -1
  }

  private readonly probe = { receivedMs: 0, heartbeat: { intervalMs: 0 } }

  /** The node's own `statusOf` over a ring slot (receiver's clock). */
  statusOfSlot (slot: number, now = this.now): MemberStatus {
    this.probe.receivedMs = this.beatT[slot]! + this.floodDelayMs
    this.probe.heartbeat.intervalMs = this.beatIv[slot]!
    return statusOf(this.probe as unknown as MemberEntry, now, DEFAULT_LIVENESS)
  }

  slotKind (slot: number): number { return this.beatKind[slot]! }
  slotActiveAt (slot: number): number { return this.beatActiveAt[slot]! }
  slotReceivedMs (slot: number): number { return this.beatT[slot]! + this.floodDelayMs }

  /** Whether `receiver` sees `sender` alive now (itself always). */
  seesAlive (receiver: SimNode, sender: number): boolean {
    if (receiver.i === sender) return true
    const slot = this.lastHeard(receiver, sender)
    return slot >= 0 && this.statusOfSlot(slot) === 'alive'
  }

  /** A cached whole view for a node that needs one every tick (a coordinator). */
  newViewCache (receiver: SimNode): ViewCache {
    const n = this.nodes.length
    return {
      recv: new Float64Array(n).fill(Number.NaN), iv: new Int32Array(n), kind: new Int8Array(n), activeAt: new Float64Array(n).fill(Number.NaN),
      checked: new Int32Array(n).fill(-1), boot: receiver.boot
    }
  }

  private keep (c: ViewCache, j: number, slot: number): void {
    c.recv[j] = this.beatT[slot]! + this.floodDelayMs
    c.iv[j] = this.beatIv[slot]!
    c.kind[j] = this.beatKind[slot]!
    c.activeAt[j] = this.beatActiveAt[slot]!
  }

  /**
   * Brings `cache` up to date for `receiver`: only beats that arrived since its last look are
   * examined (a copy of the newest heard one is kept, so the ring may move on).
   */
  refreshView (receiver: SimNode, cache: ViewCache | undefined): ViewCache {
    const now = this.now
    let c = cache
    if (c === undefined || c.boot !== receiver.boot) c = this.newViewCache(receiver)
    else if (c.recv.length < this.nodes.length) {
      const grown = this.newViewCache(receiver)
      grown.recv.set(c.recv); grown.iv.set(c.iv); grown.kind.set(c.kind); grown.activeAt.set(c.activeAt); grown.checked.set(c.checked)
      c = grown
    }
    for (let j = 0; j < this.nodes.length; j++) {
      const n = this.nodes[j]!
      const done = c.checked[j]!
      let seq = n.beats - 1
      if (seq <= done) continue
      // Beats still on their way are left for the next look.
      while (seq > done && this.beatT[j * RING + (seq % RING)]! + this.floodDelayMs > now) seq--
      if (seq <= done) continue
      const newest = seq
      const lowest = Math.max(done + 1, n.beats - RING)
      for (; seq >= lowest; seq--) {
        if (this.heard(receiver, j, seq, now)) { this.keep(c, j, j * RING + (seq % RING)); break }
      }
      c.checked[j] = newest
    }
    return c
  }

  /** The node's own `statusOf` over a cached entry. */
  statusIn (c: ViewCache, j: number, now = this.now): MemberStatus | undefined {
    const recv = c.recv[j]!
    if (Number.isNaN(recv)) return undefined
    this.probe.receivedMs = recv
    this.probe.heartbeat.intervalMs = c.iv[j]!
    return statusOf(this.probe as unknown as MemberEntry, now, DEFAULT_LIVENESS)
  }

  // ---- progress --------------------------------------------------------------------------------

  /** A coordinator publishes progress: it floods `from`'s segment after the flood delay. */
  publish (from: SimNode, progress: P): void {
    this.pubs.push({ t: this.now, seg: this.segOf(from.i), progress })
    // The publisher keeps its own record at once.
    if (this.isNewer(progress, this.held[from.i]?.progress)) this.held[from.i] = { progress, receivedMs: this.now }
  }

  /** Segments that hold at least one running node. */
  liveSegments (): number {
    this.segmentPopulation(0)
    let n = 0
    for (const v of this.segPop.values()) if (v > 0) n++
    return n
  }

  /** Folds the publications that reached `node` since its last look into its held progress. */
  foldProgress (node: SimNode): { progress: P, receivedMs: number } | undefined {
    const now = this.now
    let held = this.held[node.i]
    let k = node.progressUpto
    for (; k < this.pubs.length; k++) {
      const p = this.pubs[k]!
      const at = p.t + this.floodDelayMs
      if (at > now) break
      if (at < node.bootAt || !this.awakeAt(node, at) || this.segAt(node.i, p.t) !== p.seg) continue
      if (this.isNewer(p.progress, held?.progress)) held = { progress: p.progress, receivedMs: at }
    }
    node.progressUpto = k
    this.held[node.i] = held
    return held
  }
}

/** One node's whole view: per peer, a copy of the newest heartbeat it heard (NaN: never). */
export interface ViewCache {
  /** Receiver's clock when that beat arrived. */
  recv: Float64Array
  /** The interval the beat announced. */
  iv: Int32Array
  /** Rollout state code the beat carried. */
  kind: Int8Array
  activeAt: Float64Array
  /** The newest beat number examined per peer. */
  checked: Int32Array
  boot: number
}

function sameAttrs (a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  for (const k of ka) if (a[k] !== b[k]) return false
  return true
}
