/**
 * The simulator's multi-host mode: a {@link RealFleet} whose nodes are real `tutti node start`
 * processes, each in its own Linux network namespace on a bridge (sim/netns/lab.ts), talking real
 * TCP. Faults map to the kernel:
 *
 * | scenario | here |
 * |---|---|
 * | link bandwidth | `tc tbf` on both directions of the node's veth (node 0's uplink at the origin rate) |
 * | link loss p | nftables `numgen random` drop of 1 - sqrt(1 - p) of each node's packets in and out, so p end to end |
 * | partition / heal | nftables drops between the groups' addresses / the rules removed |
 * | crash / restart | SIGKILL (the data directory stays) / the same command on the same directory |
 * | pause / resume | SIGSTOP / SIGCONT |
 * | drainBattery | the admin call `node.setProperty` (the next heartbeat carries it) |
 * | slow | cgroups: CPU to 1/cpu of a core (cpu.max or cfs quota), disk to 100 MiB/s / disk (io.max or blkio throttle) |
 * | latency, jitter | not applied: `tc netem` is not in this kernel (sim/run.ts notes it in the summary) |
 *
 * The fleet observes the nodes from the root namespace, through the bridge, which partitions do not
 * cut: the admin protocol (as the fleet's admin) for state, the HTTP API for inference, and every
 * node's JSON log lines (stderr) as they are written. Runs at the wall clock's pace (timeScale 1).
 *
 * Needs root, `ip`, `tc` and `nft`: without them `start` throws {@link MultihostUnavailableError}
 * (the CLI exits 2). Everything it creates (namespaces, veths, the bridge, nftables tables,
 * cgroups, processes) goes on `stop()`, on process exit, on SIGINT/SIGTERM, and a crashed run's
 * leftovers at the next lab's creation.
 */
import { randomBytes } from 'node:crypto'
import { closeSync, createReadStream, createWriteStream, openSync } from 'node:fs'
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { TuttiError } from '../../core/errors.js'
import { systemClock } from '../../core/clock.js'
import { fileHasher, isManifestCid } from '../../core/cid.js'
import { silentLogger } from '../../core/logger.js'
import { callAdmin } from '../../protocols/admin/index.js'
import { ChunkServer } from '../../protocols/chunks/index.js'
import { adminIdentity, swarmKey } from '../../node/fleet/fleet.js'
import { createDialerLibp2p } from '../../node/mesh/dialer.js'
import { openEnvelope } from '../../node/models/manifest.js'
import { PackageChunkStore } from '../../node/models/package-store.js'
import { readPackageDir } from '../../node/models/package-dir.js'
import { cgroupSupport } from '../netns/cgroup.js'
import { DISK_BYTES_PER_SEC } from '../des/engine.js'
import { createLab, labUnavailable } from '../netns/lab.js'
import type { ChildProcess } from 'node:child_process'
import type { Libp2p, PrivateKey, AbortOptions } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Clock } from '../../core/clock.js'
import type { LogRecord } from '../../core/logger.js'
import type { ModelJob } from '../../node/models/service.js'
import type { ModelEntry } from '../../node/models/store.js'
import type { RolloutStatus } from '../../node/rollouts/service.js'
import type { Lab, LabNode, LabProbe, RateCap } from '../netns/lab.js'
import type { LinkShape } from '../scenario.js'
import type { DigestCheck, FleetCapabilities, FleetLogRecord, FleetNodeSpec, NodeObservation, OipInput, RealFleet, RealFleetInit } from './fleet.js'

/** The `tutti` executable the nodes run. */
const BIN = fileURLToPath(new URL('../../bin/tutti.js', import.meta.url))
const TUTTI_PORT = 7410
const API_PORT = 7411
/** Admin calls the fleet makes to observe and drive nodes. */
const CALL_TIMEOUT_MS = 5000

/** Multi-host mode cannot run here (not root, or a tool missing); retrying cannot help. */
export class MultihostUnavailableError extends TuttiError {
  constructor (why: string) {
    super('ERR_SIM_NEEDS_ROOT', `simulator mode "multihost" cannot run here: ${why}`)
    this.name = 'MultihostUnavailableError'
  }
}

/** Why multi-host mode cannot run here, or undefined when it can (root, `ip`, `tc`, `nft`). */
export function multihostUnavailable (probe?: LabProbe): string | undefined {
  return labUnavailable({ nft: true, ...(probe != null ? { probe } : {}) })
}

export interface MultihostOptions {
  /**
   * A key of one of the fleet's admins: the fleet calls the nodes' admin protocol with it. Without
   * one the fleet makes its own observer key and adds it to the admins of the fleet file its nodes
   * read (what the runner's admin signs still verifies). @default a new key
   */
  adminKey?: PrivateKey
  /** What the privilege check looks at. @default this machine */
  probe?: LabProbe
  /** Progress and what the fleet could not apply, one line each. @default none */
  log?: (line: string) => void
  /** How long a node process may take to write its node.json (2 cores, many starting). @default 120 s */
  startTimeoutMs?: number
  /** Remove the lab on SIGINT / SIGTERM (then re-raise) and on process exit. @default true */
  handleSignals?: boolean
}

type MemberState = 'up' | 'paused' | 'down'

interface Member {
  index: number
  lab: LabNode
  dir: string
  spec: FleetNodeSpec
  state: MemberState
  child?: ChildProcess
  exited?: Promise<void>
  peerId?: string
  addr?: Multiaddr
  /** The node's current link shape (what shapeLinks changes). */
  shape: LinkShape
  slow?: { disk: number, cpu: number }
}

const sleep = async (ms: number): Promise<void> => { await systemClock.sleep(ms) }

function mbit (bytesPerSec: number): number {
  return bytesPerSec * 8 / 1e6
}

/** Per-node, per-direction drop probability that makes `loss` end to end (two nodes' rules). */
export function perHopLoss (loss: number): number {
  return loss >= 1 ? 1 : 1 - Math.sqrt(1 - loss)
}

export class MultihostFleet implements RealFleet {
  readonly mode = 'multihost' as const
  readonly capabilities: FleetCapabilities
  readonly timeScale = 1
  readonly clock: Clock
  private readonly options: MultihostOptions
  private readonly members: Member[] = []
  private readonly listeners = new Set<(r: FleetLogRecord) => void>()
  private startMs = Date.now()
  private lab?: Lab
  private dialer?: Libp2p
  private init?: RealFleetInit
  private fleetFile = ''
  private tokenFile = ''
  private token = ''
  private removeHandlers?: () => void

  constructor (options: MultihostOptions = {}) {
    this.options = options
    const cg = cgroupSupport()
    this.capabilities = { slow: cg?.cpu === true, truePause: true }
    const fleet = this
    this.clock = {
      now: () => Date.now() - fleet.startMs,
      setTimeout: (fn, ms) => systemClock.setTimeout(fn, ms),
      sleep: async (ms, opts) => { await systemClock.sleep(ms, opts) }
    }
  }

  setTimeScale (scale: number): void {
    if (scale !== 1) throw new TuttiError('ERR_SIM_UNSUPPORTED', `node processes run at the wall clock's pace: a time scale of ${scale} cannot be honoured`)
  }

  get size (): number {
    return this.members.length
  }

  /** The lab's id (its namespaces are `tlab-ID-nI`), while the fleet runs. */
  get labId (): string | undefined {
    return this.lab?.id
  }

  /** The process id of node `i`'s `tutti node start`, while it has one. */
  pidOf (i: number): number | undefined {
    const m = this.member(i)
    return m.state === 'down' ? undefined : m.child?.pid
  }

  async start (init: RealFleetInit, options: AbortOptions = {}): Promise<void> {
    const why = multihostUnavailable(this.options.probe)
    if (why != null) throw new MultihostUnavailableError(why)
    let key = this.options.adminKey
    let fleet = init.fleet
    if (key == null) {
      key = await generateKeyPair('Ed25519')
      fleet = { ...fleet, admins: [...fleet.admins, adminIdentity('sim-observer', key.publicKey)] }
    }
    this.init = { ...init, fleet }
    await mkdir(init.workDir, { recursive: true })
    this.fleetFile = join(init.workDir, 'fleet.json')
    await writeFile(this.fleetFile, JSON.stringify(fleet, null, 2) + '\n', { mode: 0o600 })
    this.tokenFile = join(init.workDir, 'api.token')
    this.token = randomBytes(32).toString('hex')
    await writeFile(this.tokenFile, this.token + '\n', { mode: 0o600 })
    this.lab = createLab()
    if (this.options.handleSignals !== false) this.installHandlers()
    this.startMs = Date.now()
    this.say(`lab ${this.lab.id}: ${init.nodes.length} nodes on ${this.lab.bridge}`)
    this.dialer = await createDialerLibp2p({ privateKey: key, swarmKey: swarmKey(fleet) })
    await this.dialer.start()
    await this.addNodes(init.nodes, options)
  }

  async addNodes (specs: FleetNodeSpec[], options: AbortOptions = {}): Promise<number[]> {
    const lab = this.requireLab()
    const init = this.init!
    const added: Member[] = specs.map(spec => {
      const index = this.members.length
      const node = lab.addNode(`n${index}`)
      const member: Member = { index, lab: node, dir: join(init.workDir, `node-${index}`), spec, state: 'down', shape: { ...init.links } }
      this.members.push(member)
      this.applyShape(member)
      return member
    })
    // The first node of the fleet starts alone (everyone's bootstrap); the rest two at a time
    // (a node costs ~1.5 CPU-s to start and the machine may have two cores).
    let queue = added
    if (added[0]?.index === 0) {
      await this.spawnNode(added[0], options)
      queue = added.slice(1)
    }
    for (let i = 0; i < queue.length; i += 2) {
      await Promise.all(queue.slice(i, i + 2).map(async m => { await this.spawnNode(m, options) }))
    }
    await this.settle(added, options)
    return added.map(m => m.index)
  }

  async importModel (packageDir: string, options: AbortOptions = {}): Promise<{ cid: string }> {
    const origin = this.up(0)
    const pkg = await readPackageDir(packageDir, { fleet: this.init!.fleet })
    // As `tutti model push`: node 0 fetches the chunks from this process over the chunk protocol.
    const server = new ChunkServer({ libp2p: this.dialer!, store: new PackageChunkStore(pkg), clock: systemClock, logger: silentLogger }, { superSeed: false })
    await server.start()
    try {
      let job = await this.call<ModelJob>(origin, 'models.push', { envelope: Buffer.from(pkg.envelope).toString('base64') }, options)
      while (job.state !== 'done') {
        if (job.state === 'failed') throw new TuttiError('ERR_SIM_IMPORT', `node 0 could not import ${packageDir}: ${job.error?.message ?? 'failed'}`)
        options.signal?.throwIfAborted()
        await sleep(200)
        job = await this.call<ModelJob>(origin, 'models.job', { id: job.id }, options)
      }
    } finally {
      await server.stop()
    }
    return { cid: pkg.cid }
  }

  async activate (i: number, cid: string, options: AbortOptions = {}): Promise<void> {
    // Activation may fetch the model from peers first: give it minutes, not the default 5 s.
    await this.call(this.up(i), 'model.activate', { ref: cid }, { ...options, timeoutMs: 300_000 })
  }

  async applyPolicy (i: number, envelope: Uint8Array, options: AbortOptions = {}): Promise<void> {
    await this.call(this.up(i), 'policies.apply', { envelope: Buffer.from(envelope).toString('base64') }, { ...options, timeoutMs: 30_000 })
  }

  async infer (i: number, model: string, request: { inputs: OipInput[] }, options: AbortOptions = {}): Promise<unknown> {
    const m = this.up(i)
    const signal = options.signal != null ? AbortSignal.any([options.signal, AbortSignal.timeout(30_000)]) : AbortSignal.timeout(30_000)
    const res = await fetch(`http://${m.lab.ip}:${API_PORT}/v2/models/${encodeURIComponent(model)}/infer`, {
      method: 'POST', body: JSON.stringify(request), headers: { 'content-type': 'application/json', authorization: `Bearer ${this.token}` }, signal
    })
    const body = await res.json() as unknown
    if (!res.ok) throw new TuttiError('ERR_SIM_INFER', `inference on node ${i} failed (${res.status}): ${JSON.stringify(body).slice(0, 300)}`)
    return body
  }

  async partition (groups: number[][]): Promise<void> {
    const lab = this.requireLab()
    lab.heal()
    const nodes = groups.map(g => g.map(i => this.member(i).lab))
    for (let a = 0; a < nodes.length; a++) {
      for (let b = a + 1; b < nodes.length; b++) lab.partition(nodes[a]!, nodes[b]!)
    }
  }

  async heal (): Promise<void> {
    this.requireLab().heal()
  }

  async crash (i: number): Promise<void> {
    const m = this.member(i)
    if (m.state === 'down') return
    m.child?.kill('SIGKILL')
    await m.exited
    m.state = 'down'
  }

  async restart (i: number): Promise<void> {
    const m = this.member(i)
    if (m.state !== 'down') return
    await this.spawnNode(m, {})
  }

  async pause (i: number): Promise<void> {
    const m = this.member(i)
    if (m.state !== 'up') return
    m.child?.kill('SIGSTOP')
    m.state = 'paused'
  }

  async resume (i: number): Promise<void> {
    const m = this.member(i)
    if (m.state !== 'paused') return
    m.child?.kill('SIGCONT')
    m.state = 'up'
  }

  async setProps (i: number, props: Record<string, string>): Promise<void> {
    const m = this.up(i)
    for (const [key, value] of Object.entries(props)) await this.call(m, 'node.setProperty', { key, value })
  }

  async slow (i: number, factors: { disk: number, cpu: number }): Promise<void> {
    const m = this.member(i)
    m.slow = factors
    if (m.state !== 'down') this.applySlow(m)
  }

  async shapeLinks (nodes: number[], shape: Partial<LinkShape>): Promise<void> {
    if (shape.latencyMs !== undefined || shape.jitterMs !== undefined) {
      this.say('shapeLinks: latency and jitter are not applied in multihost mode (no tc netem in this kernel)')
    }
    for (const i of nodes) {
      const m = this.member(i)
      m.shape = { ...m.shape, ...shape }
      this.applyShape(m)
    }
  }

  async observe (i: number, options: AbortOptions = {}): Promise<NodeObservation | undefined> {
    const m = this.member(i)
    if (m.state !== 'up' || m.peerId == null) return undefined
    try {
      const [models, rollouts, view, served] = await Promise.all([
        this.call<{ models: ModelEntry[] }>(m, 'models.list', {}, options),
        this.call<{ rollouts: RolloutStatus[] }>(m, 'rollouts.list', {}, options),
        this.call<{ nodes: Array<{ status: string, self?: boolean, rollouts?: Array<{ name: string, epoch?: number }> }> }>(m, 'nodes.list', {}, options),
        this.call<{ stats: { bytesSent: number } | null }>(m, 'models.serverStats', {}, options)
      ])
      const self = view.nodes.find(n => n.self === true)
      const running: Record<string, string> = {}
      for (const e of models.models) if (e.active) running[e.name] = e.version
      const policies: Record<string, number> = {}
      const out: NodeObservation['rollouts'] = {}
      for (const r of rollouts.rollouts) {
        policies[r.name] = r.version
        const device = r.devices.find(d => d.peerId === m.peerId)
        const p = r.progress
        out[r.name] = {
          ...(device != null && device.state !== 'NotStarted' ? { state: device.state } : {}),
          ...(device?.reason != null && device.reason !== '' ? { reason: device.reason } : {}),
          promised: self?.rollouts?.find(x => x.name === r.name)?.epoch ?? 0,
          ...(p != null ? { progress: { phase: p.phase, epoch: p.epoch, seq: p.seq, policyVersion: p.policyVersion, coordinator: p.coordinator, step: p.step, ...(p.message != null ? { message: p.message } : {}), ...(p.trip != null ? { trip: p.trip } : {}) } } : {})
        }
      }
      return { peerId: m.peerId, running, policies, rollouts: out, chunkBytesSent: served.stats?.bytesSent ?? 0, aliveSeen: view.nodes.filter(n => n.self === true || n.status === 'alive').length }
    } catch (err) {
      // Crashed or paused between the check and the answer: as good as down.
      if (m.state !== 'up') return undefined
      throw err
    }
  }

  /** Node `i`'s membership view: each member's status and properties, with its index when it is one of ours. */
  async viewOf (i: number, options: AbortOptions = {}): Promise<Array<{ peerId: string, index?: number, status: string, props: Record<string, unknown> }>> {
    const res = await this.call<{ nodes: Array<{ peerId: string, status: string, props?: Record<string, unknown> }> }>(this.up(i), 'nodes.list', {}, options)
    const byPeer = new Map(this.members.map(m => [m.peerId, m.index]))
    return res.nodes.map(n => ({ peerId: n.peerId, status: n.status, props: n.props ?? {}, ...(byPeer.has(n.peerId) ? { index: byPeer.get(n.peerId)! } : {}) }))
  }

  async verifyModels (i: number, options: AbortOptions = {}): Promise<DigestCheck[]> {
    const m = this.member(i)
    const root = join(m.dir, 'models')
    const out: DigestCheck[] = []
    let names: string[] = []
    try {
      names = await readdir(join(root, 'manifests'))
    } catch {
      return out // never held a model
    }
    for (const cid of names.filter(isManifestCid).sort()) {
      options.signal?.throwIfAborted()
      let manifest
      try {
        manifest = (await openEnvelope(new Uint8Array(await readFile(join(root, 'manifests', cid))), this.init!.fleet, { expectedCid: cid })).manifest
      } catch {
        continue // the store ignores (and collects) a manifest that does not verify
      }
      const file = join(root, 'models', `${cid}.onnx`)
      const size = await stat(file).then(s => s.size, () => -1)
      // Only complete files count: the store's own test (size), the one it serves by.
      if (size !== manifest.size) continue
      const hasher = fileHasher()
      for await (const chunk of createReadStream(file)) hasher.update(chunk as Buffer)
      out.push({ file: `${manifest.name}@${manifest.version}`, ok: hasher.cid() === manifest.digest })
    }
    return out
  }

  onRecord (listener: (r: FleetLogRecord) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  async stop (): Promise<void> {
    const lab = this.lab
    if (lab == null) return
    for (const m of this.members) if (m.state === 'paused') m.child?.kill('SIGCONT')
    try {
      await lab.stopProcesses(5000)
      await this.dialer?.stop()
    } finally {
      lab.destroy()
      this.lab = undefined
      this.removeHandlers?.()
      this.removeHandlers = undefined
    }
  }

  // -------------------------------------------------------------------------------------------

  private say (line: string): void {
    this.options.log?.(line)
  }

  private requireLab (): Lab {
    if (this.lab == null) throw new TuttiError('ERR_SIM_FLEET', 'the multihost fleet is not started (or already stopped)')
    return this.lab
  }

  private member (i: number): Member {
    const m = this.members[i]
    if (m == null) throw new TuttiError('ERR_SIM_FLEET', `no node ${i} (the fleet has ${this.members.length})`)
    return m
  }

  private up (i: number): Member {
    const m = this.member(i)
    if (m.state !== 'up') throw new TuttiError('ERR_SIM_NODE_DOWN', `node ${i} is ${m.state === 'down' ? 'down' : 'paused'}`)
    return m
  }

  private async call<T = unknown> (m: Member, method: string, params: Record<string, unknown>, options: AbortOptions & { timeoutMs?: number } = {}): Promise<T> {
    const timeout = AbortSignal.timeout(options.timeoutMs ?? CALL_TIMEOUT_MS)
    const signal = options.signal != null ? AbortSignal.any([options.signal, timeout]) : timeout
    return await callAdmin<T>(this.dialer!, m.addr!, method, params, { signal })
  }

  private applyShape (m: Member): void {
    const lab = this.requireLab()
    const cap = (bytesPerSec: number): RateCap | undefined => Number.isFinite(bytesPerSec) && bytesPerSec > 0 ? { mbit: mbit(bytesPerSec) } : undefined
    const up = m.index === 0 ? Math.min(this.init!.originBytesPerSec, m.shape.bytesPerSec) : m.shape.bytesPerSec
    const caps = { up: cap(up), down: cap(m.shape.bytesPerSec) }
    lab.setLink(m.lab, caps)
    lab.setLoss(m.lab, perHopLoss(m.shape.loss))
  }

  private applySlow (m: Member): void {
    const f = m.slow
    if (f == null || m.child?.pid == null) return
    this.requireLab().capProcess(m.lab, m.child.pid, {
      ...(f.cpu > 1 ? { cpuCores: 1 / f.cpu } : {}),
      ...(f.disk > 1 && cgroupSupport()?.disk === true ? { diskBytesPerSec: DISK_BYTES_PER_SEC / f.disk, diskPath: m.dir } : {})
    })
    if (f.disk > 1 && cgroupSupport()?.disk !== true) this.say(`slow: no io cgroup controller here; node ${m.index}'s disk is not slowed`)
  }

  /** Starts (or restarts) the node's process and waits for its node.json. */
  private async spawnNode (m: Member, options: AbortOptions): Promise<void> {
    const lab = this.requireLab()
    const init = this.init!
    await mkdir(m.dir, { recursive: true })
    await rm(join(m.dir, 'node.json'), { force: true }) // a killed process leaves it behind
    const bootstrap = this.members.filter(o => o !== m && o.state === 'up' && o.addr != null).slice(0, 3).map(o => o.addr!.toString())
    const args = [BIN, 'node', 'start', '--data', m.dir, '--fleet', this.fleetFile,
      '--listen', `/ip4/${m.lab.ip}/tcp/${TUTTI_PORT}`, '--api', `${m.lab.ip}:${API_PORT}`, '--api-token-file', this.tokenFile,
      '--heartbeat-ms', String(init.heartbeatMs),
      ...Object.entries(m.spec.labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]),
      ...Object.entries(m.spec.props).flatMap(([k, v]) => ['--prop', `${k}=${v}`]),
      ...bootstrap.flatMap(b => ['--bootstrap', b])]
    const logFile = join(m.dir, 'node.log')
    const out = openSync(logFile, 'a')
    const child = lab.spawn(m.lab, process.execPath, args, { stdio: ['ignore', out, 'pipe'], env: { ...process.env, TUTTI_DEBUG: '' } })
    closeSync(out)
    m.child = child
    m.exited = new Promise(resolve => child.once('exit', () => { resolve() }))
    const log = createWriteStream(logFile, { flags: 'a' })
    const lines = createInterface({ input: child.stderr! })
    lines.on('line', line => {
      log.write(line + '\n')
      this.forward(m.index, line)
    })
    lines.once('close', () => { log.end() })
    const deadline = Date.now() + (this.options.startTimeoutMs ?? 120_000)
    for (;;) {
      try {
        const info = JSON.parse(await readFile(join(m.dir, 'node.json'), 'utf8')) as { peerId: string, pid: number }
        if (info.pid === child.pid) {
          m.peerId = info.peerId
          m.addr = multiaddr(`/ip4/${m.lab.ip}/tcp/${TUTTI_PORT}/p2p/${info.peerId}`)
          break
        }
      } catch {
        // not written yet
      }
      if (child.exitCode !== null || child.signalCode !== null) throw new TuttiError('ERR_SIM_NODE_START', `node ${m.index} exited before it started; see ${logFile}`)
      if (Date.now() > deadline) {
        child.kill('SIGKILL')
        throw new TuttiError('ERR_SIM_NODE_START', `node ${m.index} did not start within ${Math.round((deadline - this.startMs) / 1000)} s; see ${logFile}`)
      }
      options.signal?.throwIfAborted()
      await sleep(100)
    }
    m.state = 'up'
    child.once('exit', () => { if (m.child === child) m.state = 'down' })
    this.applySlow(m)
  }

  private forward (node: number, line: string): void {
    if (this.listeners.size === 0 || !line.startsWith('{')) return
    let record: LogRecord
    try {
      record = JSON.parse(line) as LogRecord
    } catch {
      return
    }
    if (typeof record.ts !== 'string' || typeof record.msg !== 'string') return
    const t = Date.parse(record.ts) - this.startMs
    for (const listener of this.listeners) listener({ node, t, record })
  }

  /**
   * Waits until each of `nodes` has joined: at the start, sees every node alive; a late joiner,
   * any other node alive (a partition may hide the rest, and the run goes on meanwhile). Bounded:
   * after `boundMs` it goes on (the runner judges what follows).
   */
  private async settle (nodes: Member[], options: AbortOptions): Promise<void> {
    const initial = nodes[0]?.index === 0
    const boundMs = initial ? 60_000 : 20_000
    const deadline = Date.now() + boundMs
    for (;;) {
      const want = initial ? this.members.filter(m => m.state === 'up').length : 2
      const seen = await Promise.all(nodes.filter(m => m.state === 'up').map(async m => {
        try {
          const res = await this.call<{ nodes: Array<{ status: string }> }>(m, 'nodes.list', {}, options)
          return res.nodes.filter(n => n.status === 'alive').length
        } catch {
          return 0
        }
      }))
      if (seen.every(s => s >= want)) return
      if (Date.now() > deadline) {
        this.say(`the nodes did not settle within ${boundMs / 1000} s (alive seen: ${seen.join(', ')}, wanted ${want}); going on`)
        return
      }
      options.signal?.throwIfAborted()
      await sleep(250)
    }
  }

  private installHandlers (): void {
    const destroy = (): void => { this.lab?.destroy() }
    const onSignal = (signal: NodeJS.Signals): void => {
      destroy()
      this.removeHandlers?.()
      process.kill(process.pid, signal)
    }
    process.once('exit', destroy)
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    this.removeHandlers = () => {
      process.off('exit', destroy)
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  }
}

/** A multi-host fleet (see {@link MultihostFleet}); `start` checks that it can run here. */
export function createMultihostFleet (options: MultihostOptions = {}): MultihostFleet {
  return new MultihostFleet(options)
}

