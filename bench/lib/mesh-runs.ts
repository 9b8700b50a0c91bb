/**
 * One run of the mesh benchmark: N real Tutti nodes, or N plain gossipsub nodes (the baseline),
 * on the in-process memory transport. Both are started the same way (one after the other, node 0
 * the bootstrap peer, the same connectivity loop) and measured the same way.
 */
import { createHash } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { systemClock } from '../../core/clock.js'
import { swarmKey } from '../../node/fleet/fleet.js'
import { silentLogger } from '../../core/logger.js'
import { Connectivity } from '../../node/mesh/connectivity.js'
import { createMeshLibp2p } from '../../node/mesh/libp2p.js'
import { decodeHeartbeat, HEARTBEAT_TOPIC } from '../../protocols/heartbeat/index.js'
import { createMeshNode, fullyConverged, waitFor } from '../../sim/local-mesh.js'
import { mean, median, randomBytesFrom, seededRandom } from './stats.js'
import type { FleetConfig } from '../../node/fleet/fleet.js'
import type { MembershipStats } from '../../node/membership/membership.js'
import type { MeshLibp2p } from '../../node/mesh/libp2p.js'
import type { TuttiNode } from '../../node/tutti-node.js'
import type { PrivateKey } from '@libp2p/interface'

export type System = 'tutti' | 'baseline'

/** One run, as handed to a worker thread (plain data). */
export interface MeshJob {
  system: System
  size: number
  rep: number
  fleet: FleetConfig
  /** Seeds the peer identities: the same seed gives the same peer ids. */
  keySeed: string
  /** Baseline payload size: the size of a Tutti heartbeat. */
  payloadBytes: number
  intervalMs: number
  windowMs: number
  settleMs: number
  joinTimeoutMs: number
  seed: number
  /** Wait between starting one node and creating the next, in ms (spreads the connection storm). */
  startGapMs: number
}

/** What both systems are given, so they run on identical terms. */
export interface RunSpec extends MeshJob {
  keys: PrivateKey[]
  /** Progress and diagnostics. */
  log: (line: string) => void
}

/** Deterministic Ed25519 identities derived from `seed`. */
export async function seededKeys (seed: string, size: number): Promise<PrivateKey[]> {
  const keys: PrivateKey[] = []
  for (let i = 0; i < size; i++) {
    keys.push(await generateKeyPairFromSeed('Ed25519', createHash('sha256').update(`${seed}/${i}`).digest()))
  }
  return keys
}

/** What one run of one system at one size measured. Times in ms. */
export interface RunResult {
  system: System
  size: number
  rep: number
  intervalMs: number
  converged: boolean
  /** First node's creation to the last node started. */
  startAllMs: number
  /** First node's creation to every node seeing all N alive (baseline: heard from all N-1). */
  meshJoinMs: number
  /** Last node's creation to it seeing all N. */
  lastNodeJoinMs: number
  /** Per node: its creation to it seeing all N. */
  perNodeJoinMs: number[]
  /**
   * receivedMs - sentMs of every message received in the window that was newer than the last one
   * from its sender: what Tutti's 'heartbeat' event reports (a heartbeat that arrives after a newer
   * one from the same sender is stale, changes nothing and emits no event).
   */
  latencyMs: number[]
  /** Baseline only: receivedMs - sentMs of every delivery in the window, stale ones included. */
  allLatencyMs: number[]
  /**
   * From the sentMs a message carries to the moment it is handed to gossipsub's publish(), per
   * message published in the window. Tutti stamps sentMs, then reads the device properties, then
   * publishes; the baseline stamps and publishes at once (0 by construction).
   */
  publishDelayMs: number[]
  /** receivedMs minus the moment the sender handed the message to publish(), per fresh delivery. */
  transitMs: number[]
  /** Messages published during the window. */
  published: number
  /** Deliveries during the window, fresh and stale. */
  delivered: number
  stale: number
  windowMs: number
  payloadBytesMean: number
  /** Payload bytes of all deliveries, per node per second (no gossip duplicates, no framing). */
  bytesPerNodePerSec: number
  /** Process CPU time over wall time during the window (1.0 = one core busy). */
  cpuCores: number
  eventLoopUtilization: number
  connectionsPerNode: number
  publishErrors: number
  /** Set when the run failed outright (its worker threw). */
  error?: string
  /** Whether the run's worker thread ended by itself after stopping every node. */
  exitedOnItsOwn?: boolean
}

const BASELINE_TOPIC = 'bench/baseline/1'
/** Baseline payload header: sentMs (float64) then seq (uint32); the rest is seeded random bytes. */
const HEADER_BYTES = 12

/** The bookkeeping both systems share: join times, window samples, CPU. */
class Recorder {
  readonly t0 = performance.now()
  readonly createdAt: number[] = []
  readonly joinedAt: Array<number | undefined> = []
  readonly latencyMs: number[] = []
  readonly allLatencyMs: number[] = []
  readonly publishDelayMs: number[] = []
  readonly transitMs: number[] = []
  collecting = false
  payloadBytes = 0
  published = 0
  delivered = 0
  stale = 0
  startAllMs = 0

  created (i: number): void {
    this.createdAt[i] = performance.now()
  }

  joined (i: number): void {
    this.joinedAt[i] ??= performance.now()
  }

  joinedCount (): number {
    return this.joinedAt.filter(t => t != null).length
  }

  allStarted (): void {
    this.startAllMs = performance.now() - this.t0
  }

  /** The steady-state window: samples are collected only while it is open. */
  async window (windowMs: number): Promise<{ wallMs: number, cpuCores: number, elu: number }> {
    const cpu0 = process.cpuUsage()
    const elu0 = performance.eventLoopUtilization()
    const start = performance.now()
    this.collecting = true
    await sleep(windowMs)
    this.collecting = false
    const wallMs = performance.now() - start
    const cpu = process.cpuUsage(cpu0)
    return { wallMs, cpuCores: (cpu.user + cpu.system) / 1000 / wallMs, elu: performance.eventLoopUtilization(elu0).utilization }
  }

  result (system: System, spec: MeshJob, converged: boolean, window: { wallMs: number, cpuCores: number, elu: number }, connections: number[], publishErrors: number): RunResult {
    const { size } = spec
    const joinedAt = this.joinedAt.map(t => t ?? Number.NaN)
    const payloadBytesMean = this.payloadBytes / Math.max(1, this.latencyMs.length)
    return {
      system,
      size,
      rep: spec.rep,
      intervalMs: spec.intervalMs,
      converged,
      startAllMs: this.startAllMs,
      meshJoinMs: converged ? Math.max(...joinedAt) - this.t0 : Number.NaN,
      lastNodeJoinMs: converged ? joinedAt[size - 1]! - this.createdAt[size - 1]! : Number.NaN,
      perNodeJoinMs: converged ? joinedAt.map((t, i) => t - this.createdAt[i]!) : [],
      latencyMs: this.latencyMs,
      allLatencyMs: this.allLatencyMs,
      publishDelayMs: this.publishDelayMs,
      transitMs: this.transitMs,
      published: this.published,
      delivered: this.delivered,
      stale: this.stale,
      windowMs: window.wallMs,
      payloadBytesMean,
      bytesPerNodePerSec: payloadBytesMean * this.delivered / size / (window.wallMs / 1000),
      cpuCores: window.cpuCores,
      eventLoopUtilization: window.elu,
      connectionsPerNode: mean(connections),
      publishErrors
    }
  }
}

/**
 * Names the nodes the others do not hear, with what their gossipsub sees: a node that kept only
 * its bootstrap connection and has no inbound gossipsub stream on it can send nothing and learns
 * of no one to dial.
 */
function describeUnheard (heardBy: number[], libp2ps: MeshLibp2p[], topic: string): string {
  const size = heardBy.length
  const lines = heardBy.flatMap((count, i) => {
    if (count === size - 1) return []
    const node = libp2ps[i]!
    const pubsub = node.services.pubsub
    return [`node ${i} heard by ${count}/${size - 1}, ${node.getConnections().length} connection(s), ${pubsub.getPeers().length} gossipsub peer(s), ${pubsub.getSubscribers(topic).length} subscriber(s) of the topic`]
  })
  return lines.length === 0 ? 'every node is heard by all others' : lines.join('; ')
}

/** How often the run names the nodes still stopping, and when it gives up on them, in ms. */
const STOP_WARN_MS = 30_000
const STOP_GIVE_UP_MS = 90_000

/**
 * Stops every node. A stop that never settles would otherwise go unnoticed: libp2p's own timers
 * are unref'd, so the thread would simply run out of work and end, the run's result unsent. The
 * (ref'd) watchdog keeps the thread alive long enough to name the nodes that hang, then gives up
 * on them so the result still gets out (the main thread then terminates the worker).
 */
async function stopAll (stops: Array<() => Promise<void>>, log: (line: string) => void): Promise<void> {
  const pending = new Set(stops.map((_, i) => i))
  const all = Promise.allSettled(stops.map(async (stop, i) => {
    try {
      await stop()
    } finally {
      pending.delete(i)
    }
  }))
  const started = Date.now()
  let giveUp: () => void = () => {}
  const gaveUp = new Promise<'gave up'>(resolve => { giveUp = () => { resolve('gave up') } })
  const watchdog = setInterval(() => {
    const waited = Date.now() - started
    log(`${pending.size} node(s) still stopping after ${waited} ms: ${[...pending].join(', ')}`)
    if (waited >= STOP_GIVE_UP_MS) giveUp()
  }, STOP_WARN_MS)
  try {
    const outcome = await Promise.race([all, gaveUp])
    if (outcome === 'gave up') {
      log(`gave up waiting for ${pending.size} node(s) to stop`)
      return
    }
    for (const o of outcome) {
      if (o.status === 'rejected') log(`a node failed to stop: ${String(o.reason)}`)
    }
  } finally {
    clearInterval(watchdog)
  }
}

const NO_WINDOW = { wallMs: 0, cpuCores: Number.NaN, elu: Number.NaN }

/** The result of a run that produced nothing (its worker died). */
export function failedRun (job: MeshJob, error: string): RunResult {
  const rec = new Recorder()
  return { ...rec.result(job.system, job, false, NO_WINDOW, [], 0), error }
}

/** N Tutti nodes (the production TuttiNode, via sim/local-mesh.ts), measured through Membership events. */
export async function runTutti (spec: RunSpec): Promise<RunResult> {
  const { size } = spec
  const tag = `bench-${process.pid}-tutti-${size}-${spec.rep}`
  const address = (i: number): string => `/memory/${tag}-${i}`
  const init = {
    size,
    fleet: spec.fleet,
    node: (i: number) => ({
      privateKey: spec.keys[i],
      // Pinned: the adaptive interval would stretch with N (interval.ts) while the baseline
      // publishes at a fixed one; equal message rates keep the comparison fair.
      heartbeat: { baseIntervalMs: spec.intervalMs, budgetBytesPerSec: Number.MAX_SAFE_INTEGER }
    })
  }
  const rec = new Recorder()
  const nodes: TuttiNode[] = []
  /** When each heartbeat (peer id / seq) was handed to gossipsub, ms since the epoch. */
  const publishedAt = new Map<string, number>()
  const ids = new Set(spec.keys.map(k => k.publicKey.toString()))
  const aliveIn = (node: TuttiNode): number => node.nodes().filter(m => m.status === 'alive' && ids.has(m.peerId)).length
  const check = (i: number): void => {
    const node = nodes[i]
    if (node != null && rec.joinedAt[i] == null && aliveIn(node) === size) rec.joined(i)
  }
  try {
    for (let i = 0; i < size; i++) {
      rec.created(i)
      const node = await createMeshNode(init, i, address)
      nodes[i] = node
      // Observes (does not change) when the node hands each heartbeat to gossipsub.
      const pubsub = node.libp2p.services.pubsub
      const publish = pubsub.publish.bind(pubsub)
      pubsub.publish = async (topic: string, data?: Uint8Array) => {
        if (topic === HEARTBEAT_TOPIC && data != null) {
          const now = Date.now()
          const hb = decodeHeartbeat(data)
          publishedAt.set(`${node.peerId}/${hb.seq}`, now)
          if (rec.collecting) rec.publishDelayMs.push(now - hb.sentMs)
        }
        return await publish(topic, data)
      }
      node.membership.addEventListener('member:joined', () => { check(i) })
      node.membership.addEventListener('member:status', () => { check(i) })
      node.membership.addEventListener('heartbeat', evt => {
        if (!rec.collecting) return
        const { peerId, seq, sentMs, receivedMs, bytes } = evt.detail
        rec.latencyMs.push(receivedMs - sentMs)
        const at = publishedAt.get(`${peerId}/${seq}`)
        if (at != null) rec.transitMs.push(receivedMs - at)
        rec.payloadBytes += bytes
      })
      await node.start()
      if (i < size - 1) await sleep(spec.startGapMs)
    }
    rec.allStarted()
    let converged = true
    try {
      await waitFor(`${size} Tutti nodes to see each other alive`, () => rec.joinedCount() === size && fullyConverged(nodes), spec.joinTimeoutMs, 20)
    } catch {
      converged = false
      const views = nodes.map(aliveIn)
      spec.log(`tutti N=${size}: ${rec.joinedCount()}/${size} nodes ever saw all; alive in views now: min ${Math.min(...views)}, median ${median(views)}`)
      const seenBy = nodes.map(n => nodes.filter(o => o !== n && o.membership.get(n.peerId)?.status === 'alive').length)
      spec.log(`tutti N=${size}: ${describeUnheard(seenBy, nodes.map(n => n.libp2p), HEARTBEAT_TOPIC)}`)
    }
    let window = NO_WINDOW
    if (converged) {
      await sleep(spec.settleMs)
      const before = nodes.map(n => n.membership.getStats())
      window = await rec.window(spec.windowMs)
      const after = nodes.map(n => n.membership.getStats())
      const delta = (key: keyof MembershipStats): number => after.reduce((sum, s, i) => sum + s[key] - before[i]![key], 0)
      rec.published = delta('published')
      rec.stale = delta('stale')
      rec.delivered = delta('accepted') + rec.stale
    }
    return rec.result('tutti', spec, converged, window, nodes.map(n => n.libp2p.getConnections().length), 0)
  } finally {
    await stopAll(nodes.map(n => async () => { await n.stop() }), spec.log)
  }
}

interface BaselineNode {
  libp2p: MeshLibp2p
  connectivity: Connectivity
  timer?: NodeJS.Timeout
  stopped: boolean
}

/**
 * N plain gossipsub nodes on the same libp2p stack as Tutti (createMeshLibp2p: pnet, noise, yamux,
 * gossipsub, kad-dht), each publishing a payload the size of a Tutti heartbeat every interval, with
 * the same +-10% jitter. No validator, no decoding, no mesh view.
 */
export async function runBaseline (spec: RunSpec): Promise<RunResult> {
  const { size } = spec
  const tag = `bench-${process.pid}-baseline-${size}-${spec.rep}`
  const address = (i: number): string => `/memory/${tag}-${i}`
  const random = seededRandom(spec.seed)
  const template = randomBytesFrom(random, Math.max(HEADER_BYTES, spec.payloadBytes))
  const rec = new Recorder()
  const nodes: BaselineNode[] = []
  const heardSets: Array<Set<string>> = []
  let publishErrors = 0
  try {
    for (let i = 0; i < size; i++) {
      rec.created(i)
      const bootstrap = i === 0 ? [] : [address(0)]
      const libp2p = await createMeshLibp2p({
        privateKey: spec.keys[i]!,
        swarmKey: swarmKey(spec.fleet),
        transport: 'memory',
        listen: [address(i)],
        bootstrap
      })
      const heard = new Set<string>()
      heardSets.push(heard)
      const lastSeq = new Map<string, number>()
      // The connectivity loop Tutti runs (same check period as sim/local-mesh.ts), fed with the
      // peers heard on the test topic, as Tutti feeds it with the peers heard on heartbeats.
      const connectivity = new Connectivity({
        libp2p,
        clock: systemClock,
        logger: silentLogger,
        random,
        knownPeers: () => [...heard]
      }, { bootstrap, checkIntervalMs: 250 })
      const node: BaselineNode = { libp2p, connectivity, stopped: false }
      nodes[i] = node
      const self = libp2p.peerId.toString()
      libp2p.services.pubsub.addEventListener('message', evt => {
        const msg = evt.detail
        if (msg.topic !== BASELINE_TOPIC || msg.type !== 'signed' || msg.data.byteLength < HEADER_BYTES) return
        const receivedMs = Date.now()
        const from = msg.from.toString()
        if (from === self) return
        heard.add(from)
        if (heard.size === size - 1) rec.joined(i)
        const header = new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength)
        const seq = header.getUint32(8)
        const fresh = seq > (lastSeq.get(from) ?? 0)
        if (fresh) lastSeq.set(from, seq)
        if (!rec.collecting) return
        const latency = receivedMs - header.getFloat64(0)
        rec.delivered++
        rec.allLatencyMs.push(latency)
        if (!fresh) {
          rec.stale++
          return
        }
        rec.latencyMs.push(latency)
        rec.transitMs.push(latency) // stamped as it is published
        rec.payloadBytes += msg.data.byteLength
      })
      await libp2p.start()
      libp2p.services.pubsub.subscribe(BASELINE_TOPIC)
      connectivity.start()
      let seq = 0
      const publish = (): void => {
        if (node.stopped) return
        const data = template.slice()
        const header = new DataView(data.buffer)
        header.setFloat64(0, Date.now())
        header.setUint32(8, ++seq)
        if (rec.collecting) {
          rec.published++
          rec.publishDelayMs.push(0)
        }
        libp2p.services.pubsub.publish(BASELINE_TOPIC, data).catch(() => { publishErrors++ })
        // Tutti's jitter (interval.ts jittered()), from the seeded source.
        node.timer = setTimeout(publish, Math.round(spec.intervalMs * (0.9 + 0.2 * random())))
      }
      publish() // Tutti publishes its first heartbeat on start, too
      if (i < size - 1) await sleep(spec.startGapMs)
    }
    rec.allStarted()
    let converged = true
    try {
      await waitFor(`${size} baseline nodes to hear from each other`, () => rec.joinedCount() === size, spec.joinTimeoutMs, 20)
    } catch {
      converged = false
      spec.log(`baseline N=${size}: ${rec.joinedCount()}/${size} nodes heard from all others`)
      const heardBy = nodes.map(n => heardSets.filter(h => h.has(n.libp2p.peerId.toString())).length)
      spec.log(`baseline N=${size}: ${describeUnheard(heardBy, nodes.map(n => n.libp2p), BASELINE_TOPIC)}`)
    }
    let window = NO_WINDOW
    if (converged) {
      await sleep(spec.settleMs)
      window = await rec.window(spec.windowMs)
    }
    return rec.result('baseline', spec, converged, window, nodes.map(n => n.libp2p.getConnections().length), publishErrors)
  } finally {
    for (const node of nodes) {
      node.stopped = true
      clearTimeout(node.timer)
      node.connectivity.stop()
    }
    await stopAll(nodes.map(n => async () => { await n.libp2p.stop() }), spec.log)
  }
}
