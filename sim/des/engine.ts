/**
 * The discrete-event engine: thousands of logical nodes on one ManualClock, each running the
 * node's own decision code for one rollout:
 *
 * - devices: `onPrepare` and `checkCommand` (node/rollouts/epoch.ts, agent.ts), `transition`
 *   (device.ts) through download (chunk model, transfer.ts), verify, load and smoke test;
 * - coordinators (sim/des/coordinator.ts): `leadershipMove`, `quorumOf`, `refusalFences`
 *   (leadership.ts), `hrwRank`, `nextEpoch`, `decide`, `nextPhase` (plan.ts), gates;
 * - views from modelled heartbeats: `statusOf` against the liveness thresholds, intervals from
 *   `nextIntervalMs` (world.ts);
 * - policy spread by gossip with the node's `mergePolicy` and anti-entropy (gossip.ts).
 *
 * The timeline's faults act on this world: partitions and heals, crashes and restarts (persisted
 * state survives: acceptor promises, device records, held models and progress), pauses (timers
 * stop, then fire late on resume with stale state), a killed coordinator, drained batteries,
 * late joiners, slow disks and CPUs, and links shaped per group. Deterministic from the seed.
 */
import { ManualClock } from '../../core/clock.js'
import { TuttiError } from '../../core/errors.js'
import { seededRandom } from '../../core/random.js'
import { matchesSelector } from '../../core/selector.js'
import { hrwRank } from '../../node/rollouts/hrw.js'
import { onPrepare } from '../../node/rollouts/epoch.js'
import { checkCommand } from '../../node/rollouts/agent.js'
import { isNewerProgress } from '../../node/rollouts/leadership.js'
import { DEVICE_STATE_KINDS, isInProgress, transition } from '../../node/rollouts/device.js'
import { PolicyGossip } from './gossip.js'
import { ChunkTransfer } from './transfer.js'
import { World } from './world.js'
import { SimCoordinators } from './coordinator.js'
import type { AcceptorState } from '../../node/rollouts/epoch.js'
import type { DeviceEvent, DeviceState, DeviceStateKind } from '../../node/rollouts/device.js'
import type { RolloutSpec } from '../../node/rollouts/spec.js'
import { resolveNodeSet } from '../scenario.js'
import type { Distribution, NodeSet, Scenario, ScenarioAction, ScenarioModel } from '../scenario.js'
import type { SimEvent } from './invariants.js'
import type { RunResult, Sample } from './report.js'
import type { SimNode } from './world.js'
import type { CoordinatorHost, DeviceAnswer, SimProgress } from './coordinator.js'

/** Disk read rate for verifying a model, bytes per second (divided by a `slow` disk factor). */
export const DISK_BYTES_PER_SEC = 100 * 1024 * 1024
/** Loading a model into onnxruntime, ms (times a `slow` CPU factor; 30 s for `behaviour: slow`). */
export const LOAD_MS = 2000
/** The smoke test's one inference, ms (times the CPU factor). */
export const SMOKE_MS = 300
/** Going back to the previous version from the local store, ms (times the CPU factor). */
export const REVERT_MS = 2000
/** Requests per second each device serves, for the gates' stats. */
export const REQUESTS_PER_SEC = 1

export interface EngineOptions {
  /** Fleet size (overrides the scenario's). */
  nodes?: number
  /** Plot resolution, ms. @default 5000 */
  sampleEveryMs?: number
  /** Breaks the engine on purpose, to prove the checker catches it. Tests only. */
  unsafe?: { acceptStaleEpochs?: boolean }
}

export type { Sample } from './report.js'

/** The DES run's result: what every mode reports, plus its modelled heartbeats and gossip counts. */
export interface EngineResult extends RunResult {
  heartbeat: {
    beats: number
    /** Heartbeats and digests together. */
    bytesReceivedPerNodePerSec: number
    /** Of which digests. */
    digestBytesReceivedPerNodePerSec: number
    /** Digests at the pace the shards set last (HeartbeatTraffic.pacedDigestBytesPerSec), per node. */
    digestPacedBytesPerNodePerSec: number
    digests: number
    meanIntervalMs: number
  }
  gossip: { messages: number, dropped: number }
  coordinatorRequests: { prepare: number, command: number, report: number }
}

interface DeviceRecord {
  acceptor: AcceptorState
  device?: DeviceState
  cid?: string
  policyVersion: number
  /** What ran before the rollout's first activation here: where a revert goes. */
  previous?: string | null
  running?: string
  activeAt: number
  /** Volatile: an activation or revert runs now; a token ends the older one. */
  activating: boolean
  reverting: boolean
  token: number
}

const KIND_CODE = new Map<DeviceStateKind, number>(DEVICE_STATE_KINDS.map((k, i) => [k, i + 1]))
const OPEN_CONTROL = { paused: false, resumedThrough: -1, undo: false, deleted: false }

/** One value of a label or property distribution (seeded). */
export function draw (d: Distribution, random: () => number): string {
  if ('fixed' in d) return d.fixed
  if ('uniform' in d) return String(Math.round(d.uniform[0] + random() * (d.uniform[1] - d.uniform[0])))
  const entries = Object.entries(d.choice)
  let x = random() * entries.reduce((s, [, w]) => s + w, 0)
  for (const [k, w] of entries) { if ((x -= w) < 0) return k }
  return entries[entries.length - 1]![0]
}

/** One node's properties and labels drawn from the fleet's distributions (properties first). */
export function drawNode (labels: Record<string, Distribution>, props: Record<string, Distribution>, random: () => number): { labels: Record<string, string>, props: Record<string, string> } {
  const p: Record<string, string> = {}
  const l: Record<string, string> = {}
  for (const [k, d] of Object.entries(props)) p[k] = draw(d, random)
  for (const [k, d] of Object.entries(labels)) l[k] = draw(d, random)
  return { labels: l, props: p }
}

/** Runs one scenario in the discrete-event mode; deterministic from its seed. */
export function runDes (scenario: Scenario, options: EngineOptions = {}): EngineResult {
  const n0 = options.nodes ?? scenario.fleet.nodes
  const clock = new ManualClock(0)
  const random = seededRandom(scenario.seed)
  const events: SimEvent[] = []
  const emit = (e: SimEvent): void => { events.push(e) }

  const applies = scenario.timeline.filter(e => e.action.kind === 'apply')
  const apply = applies[0]
  if (applies.length !== 1 || apply === undefined || apply.action.kind !== 'apply') {
    throw new TuttiError('ERR_SIM_UNSUPPORTED', `the DES engine runs scenarios with exactly one apply (this one has ${applies.length})`)
  }
  const rollout = apply.action.name
  const modelName = apply.action.spec.model.name!
  const newVersion = apply.action.spec.model.version!
  const cid = `sim:${modelName}@${newVersion}`
  const spec = { ...apply.action.spec, model: { ...apply.action.spec.model, cid } } as RolloutSpec
  const model = scenario.models.find(m => m.name === modelName) as ScenarioModel
  const version = model.versions.find(v => v.version === newVersion)!
  const oldVersions = scenario.initial.filter(x => x.model === modelName).map(x => x.version)
  const fileKey = (v: string): string => `${modelName}@${v}`

  const world = new World<SimProgress>(clock, random, scenario.fleet.links, scenario.fleet.gossipDegree, scenario.seed, isNewerProgress)
  const devs: DeviceRecord[] = []
  const gossip = new PolicyGossip(clock, random, scenario.fleet.links, n0, scenario.fleet.gossipDegree,
    e => { emit({ t: e.atMs, type: 'policyHeld', node: e.node, rollout: e.policy.name, policyVersion: e.policy.version }) },
    (a, b) => world.shape(a, b))
  const transfer = new ChunkTransfer(world, 0, scenario.fleet.originBytesPerSec)
  for (const m of scenario.models) for (const v of m.versions) { transfer.addFile(`${m.name}@${v.version}`, v.sizeBytes); transfer.seed(`${m.name}@${v.version}`, 0) }

  // Selector matches as of each node's latest heartbeat, cached per announced attribute version.
  const matchVersion: number[] = []
  const matchValue: boolean[] = []
  const matchesAnnounced = (j: number): boolean => {
    const node = world.nodes[j]!
    if (matchVersion[j] !== node.hbAttrsVersion) { matchVersion[j] = node.hbAttrsVersion; matchValue[j] = matchesSelector(spec.selector, node.hbAttrs) }
    return matchValue[j]!
  }

  const addNode = (labels: Record<string, Distribution>, props: Record<string, Distribution>, how?: 'join'): SimNode => {
    const drawn = drawNode(labels, props, random)
    const attrs: Record<string, string> = { ...drawn.props, ...drawn.labels }
    const i = world.nodes.length
    const node = world.addNode(`node-${String(i).padStart(6, '0')}`, attrs)
    const running = scenario.initial.find(x => x.model === modelName)?.version
    devs.push({ acceptor: { promised: 0 }, policyVersion: 0, running, activeAt: Number.NaN, activating: false, reverting: false, token: 0 })
    for (const x of scenario.initial) transfer.seed(`${x.model}@${x.version}`, i)
    if (how === 'join') {
      gossip.join()
      emit({ t: clock.now(), type: 'up', node: i, how: 'join' })
    }
    for (const x of scenario.initial) emit({ t: clock.now(), type: 'running', node: i, model: x.model, version: x.version })
    return node
  }

  for (let i = 0; i < n0; i++) addNode(scenario.fleet.labels, scenario.fleet.props)
  world.setTopology(() => 0)
  world.extendTopology()

  const beatState = (i: number) => (): { kind: number, activeAt: number } => {
    const d = devs[i]!
    if (d.cid !== cid || d.device === undefined) return { kind: 0, activeAt: Number.NaN }
    return { kind: KIND_CODE.get(d.device.kind)!, activeAt: d.device.kind === 'Active' ? d.activeAt : Number.NaN }
  }
  const startProcesses = (node: SimNode, firstBeatWithinMs: number): void => {
    world.after(node, random() * firstBeatWithinMs, () => { world.startHeartbeats(node, beatState(node.i)) })
  }
  // Nodes started at about the same time: first beats spread over one base interval.
  for (const node of world.nodes) startProcesses(node, 5000)

  // ---- devices ---------------------------------------------------------------------------------

  const step = (i: number, ev: DeviceEvent): boolean => {
    const d = devs[i]!
    const r = transition(d.device, ev)
    if (!r.ok) return false
    d.device = r.state
    const k = r.state.kind
    if (k === 'Pending' || k === 'Active' || k === 'Failed' || k === 'TimedOut' || k === 'RollingBack' || k === 'RolledBack') {
      emit({ t: clock.now(), type: 'deviceState', node: i, rollout, state: k, ...(k === 'Failed' ? { reason: r.state.kind === 'Failed' ? r.state.reason : '' } : {}) })
    }
    return true
  }
  const answer = (i: number): DeviceAnswer => {
    const d = devs[i]!
    return { state: d.device?.kind, policyVersion: d.policyVersion, cid: d.cid }
  }
  const startActivation = (i: number): void => {
    const d = devs[i]!
    const node = world.nodes[i]!
    if (d.cid !== cid) {
      d.previous = d.running !== undefined && d.running !== newVersion ? d.running : null
      if (d.device !== undefined && d.device.kind !== 'Pending') d.device = undefined
    }
    d.cid = cid
    step(i, { type: 'dispatched' })
    const token = ++d.token
    d.activating = true
    const live = (): boolean => d.token === token
    const end = (): void => { if (live()) d.activating = false }
    world.after(node, spec.strategy.activationTimeoutMs, () => {
      if (!live() || d.device === undefined || !isInProgress(d.device.kind)) return
      d.token++
      d.activating = false
      step(i, { type: 'timedOut' })
    })
    step(i, { type: 'downloadStarted' })
    transfer.fetch(node, fileKey(newVersion), () => {
      if (!live()) return
      step(i, { type: 'downloaded' })
      world.after(node, (version.sizeBytes / DISK_BYTES_PER_SEC) * 1000 * node.slowDisk, () => {
        if (!live()) return
        step(i, { type: 'verified' })
        if (version.behaviour === 'failing') {
          world.after(node, LOAD_MS * node.slowCpu, () => { if (live()) { step(i, { type: 'failed', reason: 'the model does not load' }); end() } })
          return
        }
        world.after(node, (version.behaviour === 'slow' ? 15 * LOAD_MS : LOAD_MS) * node.slowCpu, () => {
          if (!live()) return
          step(i, { type: 'loaded' })
          world.after(node, SMOKE_MS * node.slowCpu, () => {
            if (!live()) return
            if (step(i, { type: 'smokePassed' })) {
              d.activeAt = clock.now()
              d.running = newVersion
              emit({ t: clock.now(), type: 'running', node: i, model: modelName, version: newVersion })
            }
            end()
          })
        })
      })
    })
  }
  const startRevert = (i: number): void => {
    const d = devs[i]!
    const node = world.nodes[i]!
    d.token++
    d.activating = false
    const token = d.token
    d.reverting = true
    step(i, { type: 'revertStarted' })
    world.after(node, REVERT_MS * node.slowCpu, () => {
      if (d.token !== token) return
      d.reverting = false
      if (!step(i, { type: 'reverted' })) return
      const back = d.previous
      if (back != null && transfer.complete(fileKey(back), i)) {
        d.running = back
        emit({ t: clock.now(), type: 'running', node: i, model: modelName, version: back })
      }
    })
  }

  const host: CoordinatorHost = {
    world,
    rollout,
    spec,
    emit,
    unsafe: options.unsafe ?? {},
    policyAt: i => {
      const held = gossip.nodes[i]?.held.get(rollout)
      return held === undefined ? undefined : { version: held.version, control: OPEN_CONTROL }
    },
    matchesAnnounced,
    stats: (beatAtMs, activeAt) => {
      if (Number.isNaN(activeAt)) return undefined
      const n = Math.floor(Math.max(0, beatAtMs - activeAt) / 1000 * REQUESTS_PER_SEC)
      return { n, e: 0, nf: version.behaviour === 'nan' ? n : 0, p50: 20, p95: version.behaviour === 'slow' ? 900 : 40, p99: 60, mb: 64 }
    },
    kindOfCode: code => code === 0 ? undefined : DEVICE_STATE_KINDS[code - 1],
    prepare: (j, epoch, from) => {
      const d = devs[j]!
      const r = onPrepare(d.acceptor, epoch, from)
      const progress = world.foldProgress(world.nodes[j]!)?.progress
      if (r.kind === 'promised') {
        if (r.changed) emit({ t: clock.now(), type: 'promised', node: j, rollout, epoch, coordinator: from })
        d.acceptor = r.state
        return { kind: 'promised', device: answer(j), progress }
      }
      return { kind: 'rejected', promisedEpoch: r.promised, promisedTo: r.promisedTo, device: answer(j), progress }
    },
    command: (j, cmd) => {
      const d = devs[j]!
      const policy = host.policyAt(j)
      let check = checkCommand({
        policy: policy === undefined ? undefined : { version: policy.version, control: policy.control, spec },
        record: d,
        cmd: { ...cmd, rollout },
        attributes: world.nodes[j]!.attrs,
        activating: d.activating,
        reverting: d.reverting
      })
      if (check.kind === 'refuse' && check.code === 'ERR_STALE_EPOCH' && host.unsafe.acceptStaleEpochs === true) {
        check = { kind: 'accept', acceptor: d.acceptor, setPolicyVersion: true, start: cmd.action === 'activate' ? 'activation' : 'revert' }
      }
      if (check.kind === 'refuse') {
        if (check.code === 'ERR_STALE_EPOCH') emit({ t: clock.now(), type: 'commandRefused', node: j, rollout, epoch: cmd.epoch, coordinator: cmd.coordinator, code: check.code })
        return { kind: 'refused', code: check.code, retryable: check.retryable, promisedEpoch: d.acceptor.promised }
      }
      d.acceptor = check.acceptor
      if (check.setPolicyVersion) d.policyVersion = cmd.policyVersion
      emit({ t: clock.now(), type: 'commandAccepted', node: j, rollout, epoch: cmd.epoch, coordinator: cmd.coordinator, action: cmd.action })
      if (check.start === 'activation') startActivation(j)
      else if (check.start === 'revert') startRevert(j)
      return { kind: 'accepted', device: answer(j) }
    },
    report: j => answer(j),
    ownPromised: i => devs[i]!.acceptor.promised
  }
  const coordinators = new SimCoordinators(host)

  // ---- faults ----------------------------------------------------------------------------------

  const resolve = (set: NodeSet, eligible: (node: SimNode) => boolean): SimNode[] =>
    resolveNodeSet(set, world.nodes.length, i => eligible(world.nodes[i]!), i => world.nodes[i]!.attrs, () => coordinators.current(), random).map(i => world.nodes[i]!)
  const isUp = (n: SimNode): boolean => n.liveness === 'up'
  const crash = (node: SimNode): void => {
    world.crash(node)
    gossip.crash(node.i)
    coordinators.forget(node.i)
    const d = devs[node.i]!
    d.activating = false
    d.reverting = false
    d.token++
    emit({ t: clock.now(), type: 'down', node: node.i, how: 'crash' })
  }
  const restart = (node: SimNode): void => {
    world.restart(node)
    gossip.restart(node.i)
    const d = devs[node.i]!
    const k = d.device?.kind
    // The agent resumes nothing: an activation or revert cut short by the restart is Failed.
    if (k !== undefined && (isInProgress(k) || k === 'RollingBack')) step(node.i, { type: 'failed', reason: `interrupted in ${k} by a restart` })
    emit({ t: clock.now(), type: 'up', node: node.i, how: 'restart' })
    for (const file of transfer.files.keys()) {
      if (transfer.complete(file, node.i)) emit({ t: clock.now(), type: 'digestCheck', node: node.i, file, ok: transfer.chunksHeld(file, node.i) === transfer.files.get(file)!.chunks })
    }
    coordinators.woke(node.i)
    startProcesses(node, 1)
  }

  const act = (action: ScenarioAction): void => {
    switch (action.kind) {
      case 'apply': {
        const attach = world.nodes.find(isUp) ?? world.nodes[0]!
        emit({ t: clock.now(), type: 'rolloutApplied', rollout, policyVersion: 1, model: modelName, oldVersions, newVersion })
        gossip.apply(attach.i, { name: rollout, version: 1, cid: `policy:${rollout}` })
        coordinators.start()
        return
      }
      case 'partition': {
        const groupOf = new Int32Array(world.nodes.length).fill(action.groups.length)
        action.groups.forEach((g, k) => {
          for (const n of resolve(g, () => true)) if (groupOf[n.i] === action.groups.length) groupOf[n.i] = k
        })
        world.setTopology(i => groupOf[i]!)
        gossip.partition(i => world.segOf(i))
        const sizes = Array.from({ length: action.groups.length + 1 }, (_, k) => groupOf.filter(g => g === k).length)
        emit({ t: clock.now(), type: 'partitioned', groups: sizes })
        return
      }
      case 'heal':
        world.setTopology(() => 0)
        gossip.heal()
        emit({ t: clock.now(), type: 'healed' })
        return
      case 'crash':
        for (const n of resolve(action.target, n => n.liveness !== 'down')) crash(n)
        return
      case 'killCoordinator': {
        const c = coordinators.current()
        if (c !== undefined) crash(world.nodes[c]!)
        return
      }
      case 'restart':
        for (const n of resolve(action.target, n => n.liveness === 'down')) restart(n)
        return
      case 'pause':
        for (const n of resolve(action.target, isUp)) {
          world.pause(n)
          gossip.crash(n.i)
          emit({ t: clock.now(), type: 'down', node: n.i, how: 'pause' })
        }
        return
      case 'resume':
        for (const n of resolve(action.target, n => n.liveness === 'paused')) {
          emit({ t: clock.now(), type: 'up', node: n.i, how: 'resume' })
          gossip.restart(n.i)
          coordinators.woke(n.i)
          world.resume(n)
        }
        return
      case 'drainBattery': {
        const nodes = resolve(action.target, () => true)
        for (const n of nodes) n.attrs = { ...n.attrs, battery: String(action.to) }
        emit({ t: clock.now(), type: 'fault', action: `drainBattery to ${action.to}`, nodes: nodes.length })
        return
      }
      case 'addNodes': {
        const before = world.nodes.length
        const added: SimNode[] = []
        for (let k = 0; k < action.count; k++) added.push(addNode({ ...scenario.fleet.labels, ...action.labels }, { ...scenario.fleet.props, ...action.props }, 'join'))
        world.extendTopology(before > 0 ? world.nodes.findIndex(isUp) : 0)
        for (const n of added) gossip.setGroup(n.i, gossip.nodes[Math.max(0, world.nodes.findIndex(isUp))]!.group)
        coordinators.joined(added.map(n => n.i))
        for (const n of added) startProcesses(n, 1)
        return
      }
      case 'slow': {
        const nodes = resolve(action.target, () => true)
        for (const n of nodes) { n.slowDisk = action.disk; n.slowCpu = action.cpu }
        emit({ t: clock.now(), type: 'fault', action: `slow disk x${action.disk} cpu x${action.cpu}`, nodes: nodes.length })
        return
      }
      case 'shapeLinks': {
        const nodes = resolve(action.target, () => true)
        for (const n of nodes) n.link = { ...n.link, ...action.links }
        emit({ t: clock.now(), type: 'fault', action: `links ${JSON.stringify(action.links)}`, nodes: nodes.length })
        return
      }
      default: {
        const never: never = action
        throw new TypeError(`unknown action ${JSON.stringify(never)}`)
      }
    }
  }
  for (const entry of scenario.timeline) clock.setTimeout(() => { act(entry.action) }, entry.atMs)

  // Anti-entropy: each node syncs its policies with one random neighbour every 30 s.
  const antiEntropy = (): void => { gossip.antiEntropy(); clock.setTimeout(antiEntropy, 30_000) }
  clock.setTimeout(antiEntropy, 30_000)

  const samples: Sample[] = []
  const sampleEvery = options.sampleEveryMs ?? 5000
  const sample = (): void => {
    const states = { none: 0 } as Sample['states']
    for (const k of DEVICE_STATE_KINDS) states[k] = 0
    let up = 0
    let onNew = 0
    let holders = 0
    for (let i = 0; i < world.nodes.length; i++) {
      const d = devs[i]!
      if (world.nodes[i]!.liveness === 'up') up++
      states[d.cid === cid && d.device !== undefined ? d.device.kind : 'none']++
      if (d.running === newVersion) onNew++
      if (gossip.nodes[i]?.held.has(rollout) === true) holders++
    }
    samples.push({ t: clock.now(), up, states, policyHolders: holders, onNew, originBytes: transfer.stats.originBytes, peerBytes: transfer.stats.peerBytes })
    clock.setTimeout(sample, sampleEvery)
  }
  sample()

  clock.advance(scenario.durationMs)

  // The outcome: the newest progress any coordinator published.
  let newest: SimProgress | undefined
  for (const p of world.pubs) if (isNewerProgress(p.progress, newest)) newest = p.progress
  const phase = newest?.phase ?? 'Pending'
  let targets = 0
  let upTargets = 0
  let active = 0
  let lastActive = 0
  const reachable = new Map<number, number>()
  for (const node of world.nodes) {
    if (!matchesSelector(spec.selector, node.attrs)) continue
    targets++
    if (node.liveness !== 'up') continue
    upTargets++
    reachable.set(world.segOf(node.i), (reachable.get(world.segOf(node.i)) ?? 0) + 1)
    const d = devs[node.i]!
    if (d.cid === cid && d.device?.kind === 'Active') { active++; lastActive = Math.max(lastActive, d.activeAt) }
  }
  if (clock.now() >= apply.atMs) emit({ t: clock.now(), type: 'end', rollout, phase, reachableTargets: Math.max(0, ...reachable.values()), targets, ...(newest !== undefined && newest.message !== '' ? { message: newest.message } : {}) })
  const meanNodes = samples.reduce((s, x) => s + x.up, 0) / Math.max(1, samples.length)
  return {
    mode: 'des',
    events,
    samples,
    phase,
    rollout,
    newVersion,
    oldVersions,
    applyAtMs: apply.atMs,
    modelBytes: version.sizeBytes,
    originBytes: transfer.stats.originBytes,
    peerBytes: transfer.stats.peerBytes,
    uploaded: Array.from({ length: world.nodes.length }, (_, i) => transfer.stats.uploaded[i] ?? 0),
    end: active === upTargets && upTargets > 0 ? { targets: upTargets, active, allActiveAtMs: lastActive } : { targets: upTargets, active },
    nodes: world.nodes.length,
    simulatedMs: scenario.durationMs,
    heartbeat: {
      beats: world.hbBeats,
      bytesReceivedPerNodePerSec: world.hbBytesReceived / Math.max(1, meanNodes) / (scenario.durationMs / 1000),
      digestBytesReceivedPerNodePerSec: world.traffic.digestBytesReceived / Math.max(1, meanNodes) / (scenario.durationMs / 1000),
      digestPacedBytesPerNodePerSec: world.traffic.pacedDigestBytesPerSec() / Math.max(1, world.nodes.filter(n => n.liveness !== 'down').length),
      digests: world.traffic.digests,
      meanIntervalMs: world.nodes.reduce((s, n) => s + n.intervalMs, 0) / Math.max(1, world.nodes.length)
    },
    gossip: { messages: gossip.messages, dropped: gossip.dropped },
    coordinatorRequests: { ...coordinators.requests }
  }
}
