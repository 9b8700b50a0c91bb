/**
 * The `inprocess` {@link RealFleet}: real `TuttiNode`s (the production assembly: libp2p with pnet,
 * noise, yamux, gossipsub, kad-dht; the model store, fetcher and chunk server; onnxruntime
 * inference; the rollout agent and coordinator) in this process, on the shaped in-memory transport
 * (sim/shaped/transport.ts), every node on one virtual clock that runs `timeScale` x the wall clock.
 *
 * What is approximated, because the nodes share one process and one event loop:
 *
 * - *pause* freezes the node's clock (its timers wait, then fire at once on resume) and stalls
 *   every link from and to it (peers' data waits, as in a stopped process's socket buffers). Work
 *   already running (a promise chain, an inference in its worker thread) is not frozen. The
 *   faithful SIGSTOP is the `multihost` mode's.
 * - *crash* stalls the node's links, resets its connections at both ends (the RSTs a dead
 *   process's kernel sends) and then stops the node; the data directory stays. The stop itself is
 *   orderly (files are closed), unlike `kill -9`; the `multihost` mode kills for real.
 * - *slow* (disk, CPU factors): the node waits where a slow device would take longer
 *   (sim/real/pace.ts, core/pace.ts): each inference and session load (f - 1) times what it took
 *   here, chunk writes and model reads behind a disk cap of 100 MiB/s / f. The shared process
 *   itself is not slowed: libp2p, gossip and the rollout agent run at everyone's pace. Kept
 *   across the node's restarts, as a device's hardware is.
 * - libp2p's own timers (dial timeout, connection monitor, gossipsub heartbeat) run on the wall
 *   clock, so at a time scale of S they are S times slower in virtual time.
 */
import { appendFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createLogger } from '../../core/logger.js'
import { seededRandom } from '../../core/random.js'
import { TuttiError } from '../../core/errors.js'
import { rawCid } from '../../core/cid.js'
import { TuttiNode } from '../../node/tutti-node.js'
import { ShapedNetwork } from '../shaped/transport.js'
import { FreezableClock, ScaledClock } from './clock.js'
import { SlowDevice } from './pace.js'
import type { SlowFactors } from './pace.js'
import type { Clock } from '../../core/clock.js'
import type { LinkShape } from '../scenario.js'
import type { OipInput, DigestCheck, FleetCapabilities, FleetLogRecord, FleetNodeSpec, NodeObservation, RealFleet, RealFleetInit } from './fleet.js'
import type { AbortOptions } from '@libp2p/interface'

type Slot =
  | { state: 'up', node: TuttiNode, clock: FreezableClock, spec: FleetNodeSpec }
  | { state: 'paused', node: TuttiNode, clock: FreezableClock, spec: FleetNodeSpec }
  | { state: 'down', spec: FleetNodeSpec }

let fleets = 0

export class InProcessFleet implements RealFleet {
  readonly mode = 'inprocess' as const
  readonly capabilities: FleetCapabilities = { slow: true, truePause: false }
  private base?: ScaledClock
  private originMs = 0
  private init?: RealFleetInit
  private net?: ShapedNetwork
  private readonly slots: Slot[] = []
  /** Each node's slow-down factors (`slow`), which outlive its restarts. */
  private readonly slowness: SlowFactors[] = []
  /** Each running node's pace, to change its factors. */
  private readonly paces: SlowDevice[] = []
  private readonly listeners = new Set<(r: FleetLogRecord) => void>()
  private readonly tag = `sim-${process.pid}-${fleets++}`
  private stopped = false
  /** Boots so far (restarts included): each boot's randomness is seeded apart. */
  private boots = 0

  /** Virtual ms since the start; timers in virtual time. */
  readonly clock: Clock = {
    now: () => this.base === undefined ? 0 : this.base.now() - this.originMs,
    setTimeout: (fn, ms) => this.scaled().setTimeout(fn, ms),
    sleep: async (ms, options) => { await this.scaled().sleep(ms, options) }
  }

  get timeScale (): number {
    return this.base?.scale ?? 1
  }

  setTimeScale (scale: number): void {
    this.scaled().setScale(scale)
  }

  get size (): number {
    return this.slots.length
  }

  /** The shaped network (for tests and figures: bytes per host). */
  get network (): ShapedNetwork {
    if (this.net === undefined) throw new TuttiError('ERR_SIM_FLEET', 'the fleet has not started')
    return this.net
  }

  async start (init: RealFleetInit, options: AbortOptions = {}): Promise<void> {
    this.init = init
    this.originMs = Date.now()
    this.base = new ScaledClock(init.timeScale, this.originMs)
    this.net = new ShapedNetwork({ clock: this.base, random: seededRandom(init.seed ?? 1), links: init.links })
    this.net.setEgress(host(0), init.originBytesPerSec)
    await this.addNodes(init.nodes, options)
  }

  async addNodes (specs: FleetNodeSpec[], options: AbortOptions = {}): Promise<number[]> {
    const added: number[] = []
    for (const spec of specs) {
      options.signal?.throwIfAborted()
      const i = this.slots.length
      this.slots.push({ state: 'down', spec })
      await this.boot(i)
      added.push(i)
    }
    return added
  }

  async importModel (packageDir: string, options: AbortOptions = {}): Promise<{ cid: string }> {
    const node = this.live(0)
    const { cid } = await node.models!.store.importPackage(packageDir, options)
    await node.models!.announceAll(options)
    return { cid }
  }

  async activate (i: number, cid: string, options: AbortOptions = {}): Promise<void> {
    await this.live(i).serving.activate(cid, {}, options)
  }

  async applyPolicy (i: number, envelope: Uint8Array, options: AbortOptions = {}): Promise<void> {
    const node = this.live(i)
    await node.policies.apply(envelope, options)
    node.rollouts?.kick()
  }

  async infer (i: number, model: string, request: { inputs: OipInput[] }, options: AbortOptions = {}): Promise<unknown> {
    const inputs = Object.fromEntries(request.inputs.map(x => [x.name, { type: 'float32' as const, dims: x.shape, data: Float32Array.from(x.data) }]))
    return await this.live(i).inference.infer(model, undefined, inputs, options)
  }

  async partition (groups: number[][]): Promise<void> {
    this.network.partition(groups.map(g => g.map(host)))
  }

  async heal (): Promise<void> {
    this.network.heal()
  }

  async crash (i: number): Promise<void> {
    const slot = this.slots[i]
    if (slot === undefined || slot.state === 'down') return
    this.network.stall(host(i))
    this.network.resetHost(host(i))
    this.slots[i] = { state: 'down', spec: slot.spec }
    slot.clock.thaw()
    await slot.node.stop()
  }

  async restart (i: number): Promise<void> {
    if (this.slots[i]?.state !== 'down') return
    this.network.unstall(host(i))
    await this.boot(i)
  }

  async pause (i: number): Promise<void> {
    const slot = this.slots[i]
    if (slot?.state !== 'up') return
    slot.clock.freeze()
    this.network.stall(host(i))
    this.slots[i] = { ...slot, state: 'paused' }
  }

  async resume (i: number): Promise<void> {
    const slot = this.slots[i]
    if (slot?.state !== 'paused') return
    this.slots[i] = { ...slot, state: 'up' }
    this.network.unstall(host(i))
    slot.clock.thaw()
  }

  async setProps (i: number, props: Record<string, string>): Promise<void> {
    const slot = this.slots[i]
    if (slot === undefined) return
    slot.spec = { ...slot.spec, props: { ...slot.spec.props, ...props } }
    if (slot.state !== 'down') for (const [k, v] of Object.entries(props)) slot.node.setProperty(k, v)
  }

  async slow (i: number, factors: { disk: number, cpu: number }): Promise<void> {
    if (this.slots[i] === undefined) throw new TuttiError('ERR_SIM_FLEET', `no node ${i} (the fleet has ${this.slots.length})`)
    const f = { disk: Math.max(1, factors.disk), cpu: Math.max(1, factors.cpu) }
    this.slowness[i] = f
    this.paces[i]?.set(f)
  }

  async shapeLinks (nodes: number[], shape: Partial<LinkShape>): Promise<void> {
    for (const i of nodes) this.network.shapeHost(host(i), shape)
  }

  async observe (i: number): Promise<NodeObservation | undefined> {
    const slot = this.slots[i]
    if (slot?.state !== 'up') return undefined
    const node = slot.node
    const running: Record<string, string> = {}
    for (const name of new Set((node.models?.list() ?? []).map(e => e.name))) {
      const active = node.serving.activeOf(name)
      if (active !== undefined) running[name] = active.version
    }
    const policies: Record<string, number> = {}
    const rollouts: NodeObservation['rollouts'] = {}
    const devices = new Map((node.rollouts?.heartbeatRollouts() ?? []).map(r => [r.name, r]))
    for (const p of node.policies.list()) {
      policies[p.doc.name] = p.doc.version
      const d = devices.get(p.doc.name)
      const progress = node.rollouts?.latestProgress(p.doc.name)?.progress
      rollouts[p.doc.name] = {
        ...(d !== undefined ? { state: d.state, ...(d.reason !== '' && d.reason !== undefined ? { reason: d.reason } : {}) } : {}),
        promised: d?.epoch ?? 0,
        ...(progress !== undefined ? { progress: { phase: progress.phase, epoch: progress.epoch, seq: progress.seq, policyVersion: progress.policyVersion, coordinator: progress.coordinator, step: progress.step, message: progress.message, ...(progress.trip !== undefined ? { trip: progress.trip } : {}) } } : {})
      }
    }
    return { peerId: node.peerId, running, policies, rollouts, chunkBytesSent: node.models?.serverStats()?.bytesSent ?? 0, aliveSeen: node.nodes().filter(m => m.self || m.status === 'alive').length }
  }

  async verifyModels (i: number, options: AbortOptions = {}): Promise<DigestCheck[]> {
    const slot = this.slots[i]
    if (slot === undefined || slot.state === 'down') return []
    const store = slot.node.models?.store
    if (store === undefined) return []
    const out: DigestCheck[] = []
    for (const e of store.list().filter(x => x.complete)) {
      const path = store.modelPath(e.cid)
      const m = await store.getManifest(e.cid, options)
      if (path === undefined || m === undefined) continue
      const bytes = new Uint8Array(await readFile(path))
      // The whole file against the manifest's digest: right for fixed and content-defined chunks alike.
      out.push({ file: `${e.name}@${e.version}`, ok: rawCid(bytes) === m.manifest.digest })
    }
    return out
  }

  onRecord (listener: (r: FleetLogRecord) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async stop (): Promise<void> {
    this.stopped = true
    const running = this.slots.map((s, i) => [s, i] as const).filter(([s]) => s.state !== 'down')
    for (const [s, i] of running) {
      if (s.state === 'down') continue
      s.clock.thaw()
      this.slots[i] = { state: 'down', spec: s.spec }
    }
    await Promise.all(running.map(async ([s]) => { if (s.state !== 'down') await s.node.stop() }))
  }

  private scaled (): ScaledClock {
    if (this.base === undefined) throw new TuttiError('ERR_SIM_FLEET', 'the fleet has not started')
    return this.base
  }

  private live (i: number): TuttiNode {
    const slot = this.slots[i]
    if (slot === undefined || slot.state !== 'up') throw new TuttiError('ERR_SIM_NODE_DOWN', `node ${i} is not up`)
    return slot.node
  }

  private address (i: number): string {
    return `/memory/${this.tag}-${host(i)}`
  }

  private async boot (i: number): Promise<void> {
    const init = this.init!
    const spec = this.slots[i]!.spec
    const clock = new FreezableClock(this.scaled())
    const pace = new SlowDevice(clock, () => this.scaled().scale)
    pace.set(this.slowness[i] ?? { disk: 1, cpu: 1 })
    this.paces[i] = pace
    const file = process.env.TUTTI_MESH_LOG
    const logger = createLogger({
      level: 'info',
      clock,
      fields: { node: i },
      sink: record => {
        if (this.stopped) return
        if (file != null && file !== '') appendFileSync(file, JSON.stringify(record, (_k, v: unknown) => v instanceof Error ? { name: v.name, message: v.message } : v) + '\n')
        const r = { node: i, t: this.clock.now(), record }
        for (const l of this.listeners) l(r)
      }
    })
    const node = await TuttiNode.create({
      fleet: init.fleet,
      dataDir: join(init.workDir, `node-${i}`),
      transport: 'memory',
      listen: [this.address(i)],
      bootstrap: i === 0 ? [] : [this.address(0)],
      api: false,
      labels: spec.labels,
      props: spec.props,
      heartbeat: { baseIntervalMs: init.heartbeatMs },
      connectivityCheckMs: Math.max(250, init.heartbeatMs / 2)
    }, {
      clock,
      logger,
      random: seededRandom((init.seed ?? 1) * 1009 + i * 7919 + this.boots++),
      readProperties: async () => ({ ...spec.props }),
      transports: [this.network.transport(host(i))],
      pace
    })
    await node.start()
    this.slots[i] = { state: 'up', node, clock, spec }
  }
}

const host = (i: number): string => `n${i}`
