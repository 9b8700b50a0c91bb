/**
 * The real-node runner: drives a scenario's timeline against a {@link RealFleet} (in-process or
 * multi-host), records the history as the DES records it (`SimEvent`s), and returns a
 * {@link RunResult} that the shared checker (`judge`), summary and plots take as they take the
 * DES's.
 *
 * The run: build and pack the scenario's models (sim/real/models.ts), start the fleet, import
 * every version on node 0, wait until every node sees every other alive, activate the `initial`
 * versions everywhere; that instant is t = 0 of the scenario. Then each timeline entry runs at
 * its virtual `at` (the fleet's clock; an action that takes time delays the ones after it, and
 * every event carries the time it happened). Every live node serves `requestsPerSec` inferences
 * of random inputs per virtual second, so the gates see traffic.
 *
 * The history comes from the nodes' log lines (epochs promised, commands accepted and refused,
 * coordinator changes: fleet.ts `NODE_LOG`) and from observing every node every
 * `observeEveryMs` (versions running, policies held, device states, the newest progress):
 * a state that lasts less than one observation interval can be missed; a command cannot.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isoTime } from '../../core/clock.js'
import { TuttiError, errorMessage } from '../../core/errors.js'
import { seededRandom } from '../../core/random.js'
import { matchesSelector } from '../../core/selector.js'
import { createFleet } from '../../node/fleet/fleet.js'
import { sealPolicy } from '../../node/policy/document.js'
import { isNewerProgress } from '../../node/rollouts/leadership.js'
import { DEVICE_STATE_KINDS } from '../../node/rollouts/device.js'
import { drawNode } from '../des/engine.js'
import { NODE_LOG } from './fleet.js'
import { packScenarioModels, simRequest } from './models.js'
import type { DeviceStateKind } from '../../node/rollouts/device.js'
import type { RolloutSpec } from '../../node/rollouts/spec.js'
import type { PolicyDocument } from '../../node/policy/document.js'
import type { SimEvent } from '../des/invariants.js'
import type { RunResult, Sample } from '../des/report.js'
import { resolveNodeSet } from '../scenario.js'
import type { Distribution, NodeSet, Scenario, ScenarioAction } from '../scenario.js'
import type { FleetLogRecord, FleetNodeSpec, NodeObservation, RealFleet } from './fleet.js'

/**
 * The load a set-up may put on the one process by default, as nodes^2 x time scale: every node
 * hears every other's heartbeats and gossip, and at a scale of S every node's periodic work comes
 * S times as often, while CPU work (hashing, loading, smoke tests) takes its wall time and all of
 * it shares one JavaScript thread. Measured on this 2-core machine with 4 MiB models: 25 nodes
 * started in 50 s wall and activated their initial versions in 248 s at 10x, 11 s and 41.5 s at
 * 4x; 50 nodes started in 120.7 s at 2x (the mesh formed 175 s later, the first 4 activations
 * took 105 s), in 13.0 s at 1x (mesh 23 s later, activations in batches of 4 taking 9-46 s).
 */
export const SETUP_LOAD = 2500

/**
 * The scale a set-up of `nodes` runs at when not asked: `scale`, lowered to keep
 * nodes^2 x scale <= {@link SETUP_LOAD} (10x up to 15 nodes, 4x at 25, 1x from 50), never below 1.
 */
export function defaultSetupTimeScale (scale: number, nodes: number): number {
  const n = Math.max(1, nodes)
  return Math.min(scale, Math.max(1, Math.floor(SETUP_LOAD / (n * n))))
}

/** The longest set-up of `nodes` by default, wall ms: 180 s, and 8 s a node past 22 nodes (their initial activations take turns). */
export function defaultSetupTimeoutMs (nodes: number): number {
  return Math.max(180_000, nodes * 8000)
}

export interface RealRunOptions {
  /** Fleet size (overrides the scenario's). */
  nodes?: number
  /** Virtual ms per wall ms from the scenario's t = 0 on. @default 10 */
  timeScale?: number
  /**
   * Virtual ms per wall ms during set-up (the mesh forming, the initial versions activating), which
   * no invariant judges. @default {@link defaultSetupTimeScale}
   */
  setupTimeScale?: number
  /** The nodes' base heartbeat interval, virtual ms. @default 5000 (the node's default) */
  heartbeatMs?: number
  /** How often every node is observed, virtual ms. @default 2000 */
  observeEveryMs?: number
  /** Inference requests each live node serves per virtual second. @default 1 */
  requestsPerSec?: number
  /** Packages and data directories; removed after the run. @default a new directory under the OS temp dir */
  workDir?: string
  /** Longest wait for the mesh and the initial versions, wall ms. @default {@link defaultSetupTimeoutMs} */
  setupTimeoutMs?: number
  /**
   * End the run as soon as the timeline has run and the rollout has ended (Completed or
   * RolledBack), so that the scenario's duration is a deadline, not a length: a run can allow for
   * a long tail (a lossy link's download) without paying for it when there is none. @default false
   */
  endWhenSettled?: boolean
  /** Called after every observation round. */
  onProgress?: (p: RealRunProgress) => void
  signal?: AbortSignal
  /** Breaks the run on purpose, to prove the checker catches it. Tests only. */
  unsafe?: { strayActivation?: { atMs: number, node: number, model: string, version: string } }
}

export interface RealRunProgress {
  /** Virtual ms since the scenario's t = 0 (negative during set-up). */
  t: number
  durationMs: number
  up: number
  nodes: number
  phase: string
  what: string
}

/** The device states the history records (as the DES does). */
const RECORDED_STATES = new Set<string>(['Pending', 'Active', 'Failed', 'TimedOut', 'RollingBack', 'RolledBack'])

const OPEN = { paused: false, resumedThrough: -1, undo: false, deleted: false }

type Status = 'up' | 'down' | 'paused'

/** Runs `scenario` on `fleet` (which it starts and stops). */
export async function runReal (scenario: Scenario, fleet: RealFleet, options: RealRunOptions = {}): Promise<RunResult> {
  const applies = scenario.timeline.filter(e => e.action.kind === 'apply')
  const apply = applies[0]?.action
  if (applies.length !== 1 || apply?.kind !== 'apply') throw new TuttiError('ERR_SIM_UNSUPPORTED', `the real-node runner runs scenarios with exactly one apply (this one has ${applies.length})`)
  const n0 = options.nodes ?? scenario.fleet.nodes
  const scale = fleet.mode === 'multihost' ? 1 : options.timeScale ?? 10
  const setupScale = fleet.mode === 'multihost' ? 1 : options.setupTimeScale ?? defaultSetupTimeScale(scale, n0)
  const rollout = apply.name
  const modelName = apply.spec.model.name!
  const newVersion = apply.spec.model.version!
  const oldVersions = scenario.initial.filter(x => x.model === modelName).map(x => x.version)
  const modelBytes = scenario.models.find(m => m.name === modelName)!.versions.find(v => v.version === newVersion)!.sizeBytes
  const random = seededRandom(scenario.seed)
  const workDir = options.workDir ?? await mkdtemp(join(tmpdir(), 'tutti-sim-real-'))
  const ownsWorkDir = options.workDir === undefined
  const observeEvery = options.observeEveryMs ?? 2000
  const notes: string[] = []

  const events: SimEvent[] = []
  const samples: Sample[] = []
  let t0: number | undefined
  const now = (): number => fleet.clock.now() - (t0 ?? fleet.clock.now())
  const emit = (e: SimEvent): void => { events.push(e) }

  // ---- what the runner knows of each node -------------------------------------------------------
  const status: Status[] = []
  const attrs: Array<Record<string, string>> = []
  const peerOf: string[] = []
  const indexOf = new Map<string, number>()
  const last: Array<NodeObservation | undefined> = []
  const state: Array<string | undefined> = []
  const activeAt: number[] = []
  const uploadedBase: number[] = []
  const uploadedLast: number[] = []
  let groupOf: number[] | undefined
  let newest: NonNullable<NodeObservation['rollouts'][string]['progress']> | undefined
  let lastPhaseKey = ''
  const name = (peer: string): string => { const i = indexOf.get(peer); return i === undefined ? peer : `node-${i}` }

  const drawSpec = (labels: Record<string, Distribution>, props: Record<string, Distribution>): FleetNodeSpec => drawNode(labels, props, random)
  const track = (specs: FleetNodeSpec[], first: number, how: Status): void => {
    specs.forEach((s, k) => {
      status[first + k] = how
      attrs[first + k] = { ...s.props, ...s.labels }
      uploadedBase[first + k] = 0
      uploadedLast[first + k] = 0
    })
  }

  // ---- the nodes' log lines -> events ---------------------------------------------------------
  const onRecord = (r: FleetLogRecord): void => {
    if (t0 === undefined) return
    const f = r.record
    const t = r.t - t0
    const str = (k: string): string => String(f[k] ?? '')
    const num = (k: string): number => Number(f[k] ?? 0)
    switch (f.msg) {
      case NODE_LOG.promised:
        emit({ t, type: 'promised', node: r.node, rollout: str('rollout'), epoch: num('epoch'), coordinator: name(str('coordinator')) })
        return
      case NODE_LOG.accepted:
        emit({ t, type: 'commandAccepted', node: r.node, rollout: str('rollout'), epoch: num('epoch'), coordinator: name(str('coordinator')), action: str('action') === 'revert' ? 'revert' : 'activate' })
        return
      case NODE_LOG.refused:
        if (str('code') === 'ERR_STALE_EPOCH') emit({ t, type: 'commandRefused', node: r.node, rollout: str('rollout'), epoch: num('epoch'), coordinator: name(str('coordinator')), code: str('code') })
        return
      case NODE_LOG.takeOver:
      case NODE_LOG.established:
      case NODE_LOG.stepDown: {
        if (!f.component.endsWith('coordinator')) return
        const action = f.msg === NODE_LOG.takeOver ? 'takeOver' : f.msg === NODE_LOG.established ? 'established' : 'stepDown'
        const why = f.why === undefined ? undefined : str('why').replace(/12D3Koo[1-9A-HJ-NP-Za-km-z]+/g, peer => name(peer))
        emit({ t, type: 'coordinator', node: r.node, rollout: str('rollout'), epoch: num('epoch'), action, ...(why !== undefined ? { reason: why } : {}) })
      }
    }
  }
  const unsubscribe = fleet.onRecord(onRecord)

  // ---- observations -> events and samples ------------------------------------------------------
  const observe = async (i: number): Promise<void> => {
    const o = await fleet.observe(i, { signal: options.signal }).catch(() => undefined)
    if (o === undefined) return
    if (!indexOf.has(o.peerId)) { indexOf.set(o.peerId, i); peerOf[i] = o.peerId }
    const before = last[i]
    last[i] = o
    if (t0 === undefined) return
    const t = now()
    for (const [model, version] of Object.entries(o.running)) {
      if (before?.running[model] !== version) emit({ t, type: 'running', node: i, model, version })
    }
    for (const [policy, version] of Object.entries(o.policies)) {
      if ((before?.policies[policy] ?? 0) < version) emit({ t, type: 'policyHeld', node: i, rollout: policy, policyVersion: version })
    }
    const r = o.rollouts[rollout]
    if (r?.state !== undefined && r.state !== state[i]) {
      state[i] = r.state
      if (r.state === 'Active') activeAt[i] = t
      if (RECORDED_STATES.has(r.state)) emit({ t, type: 'deviceState', node: i, rollout, state: r.state, ...(r.state === 'Failed' ? { reason: r.reason ?? '' } : {}) })
    }
    if (r?.progress !== undefined && isNewerProgress(r.progress, newest)) newest = r.progress
    if (o.chunkBytesSent < uploadedLast[i]!) uploadedBase[i]! += uploadedLast[i]!
    uploadedLast[i] = o.chunkBytesSent
  }
  const observeAll = async (): Promise<void> => {
    await Promise.all(status.map(async (s, i) => { if (s === 'up') await observe(i) }))
    if (t0 === undefined || newest === undefined) return
    const key = `${newest.phase}/${newest.epoch}/${newest.coordinator}/${newest.step}`
    if (key !== lastPhaseKey) {
      lastPhaseKey = key
      emit({ t: now(), type: 'phase', rollout, phase: newest.phase, epoch: newest.epoch, coordinator: name(newest.coordinator), step: newest.step, ...(newest.trip !== undefined ? { trip: newest.trip } : {}) })
    }
  }
  /** Chunk bytes each node served since t = 0 (the initial versions' downloads are not counted). */
  let uploadedAtStart: number[] = []
  const uploaded = (): number[] => status.map((_, i) => (uploadedBase[i] ?? 0) + (uploadedLast[i] ?? 0) - (uploadedAtStart[i] ?? 0))
  const sample = (): void => {
    const states = { none: 0 } as Sample['states']
    for (const k of DEVICE_STATE_KINDS) states[k] = 0
    let holders = 0
    let onNew = 0
    status.forEach((_, i) => {
      const s = state[i] as DeviceStateKind | undefined
      states[s !== undefined && s in states ? s : 'none']++
      if (last[i]?.policies[rollout] !== undefined) holders++
      if (last[i]?.running[modelName] === newVersion) onNew++
    })
    const up = uploaded()
    samples.push({ t: now(), up: status.filter(s => s === 'up').length, states, policyHolders: holders, onNew, originBytes: up[0] ?? 0, peerBytes: up.slice(1).reduce((a, b) => a + b, 0) })
  }
  const progress = (what: string): void => {
    options.onProgress?.({ t: t0 === undefined ? -1 : now(), durationMs: scenario.durationMs, up: status.filter(s => s === 'up').length, nodes: status.length, phase: newest?.phase ?? 'Pending', what })
  }

  // ---- set-up ----------------------------------------------------------------------------------
  const { fleet: fleetConfig, adminKey } = await createFleet({ name: scenario.name })
  const cids = new Map<string, string>()
  let done = false
  const background: Array<Promise<void>> = []
  try {
    progress('building and packing the models')
    const packed = await packScenarioModels(scenario.models, adminKey, join(workDir, 'packages'))
    const specs = Array.from({ length: n0 }, () => drawSpec(scenario.fleet.labels, scenario.fleet.props))
    track(specs, 0, 'up')
    progress(`starting ${n0} nodes`)
    await fleet.start({
      fleet: fleetConfig,
      nodes: specs,
      links: scenario.fleet.links,
      originBytesPerSec: scenario.fleet.originBytesPerSec,
      heartbeatMs: options.heartbeatMs ?? 5000,
      timeScale: setupScale,
      workDir: join(workDir, 'fleet'),
      seed: scenario.seed
    }, { signal: options.signal })
    for (const p of packed) cids.set(`${p.model}@${p.version}`, (await fleet.importModel(p.dir, { signal: options.signal })).cid)
    const deadline = Date.now() + (options.setupTimeoutMs ?? defaultSetupTimeoutMs(n0))
    const waitSetup = async (what: string, ok: () => boolean): Promise<void> => {
      while (!ok()) {
        options.signal?.throwIfAborted()
        if (Date.now() > deadline) throw new TuttiError('ERR_SIM_SETUP', `set-up: timed out waiting for ${what}`)
        progress(what)
        await fleet.clock.sleep(observeEvery, { signal: options.signal })
        await observeAll()
      }
    }
    await observeAll()
    await waitSetup('every node to see every other alive', () => status.every((_, i) => (last[i]?.aliveSeen ?? 0) >= n0))
    progress('activating the initial versions')
    const activateInitial = async (i: number): Promise<void> => {
      for (const x of scenario.initial) {
        // The limit holds here too (50 nodes' activations once ran minutes past it).
        if (Date.now() > deadline) throw new TuttiError('ERR_SIM_SETUP', `set-up: timed out activating the initial versions (node ${i} of ${n0} not yet)`)
        await fleet.activate(i, cids.get(`${x.model}@${x.version}`)!, { signal: options.signal })
      }
    }
    await inBatches(status.map((_, i) => i), 4, activateInitial)
    await waitSetup('the initial versions everywhere', () => status.every((_, i) => scenario.initial.every(x => last[i]?.running[x.model] === x.version)))

    // ---- the scenario ----------------------------------------------------------------------------
    if (fleet.timeScale !== scale) fleet.setTimeScale(scale)
    if (options.timeScale !== undefined && options.timeScale !== fleet.timeScale) notes.push(`the fleet runs at ${fleet.timeScale}x the wall clock (asked for ${options.timeScale}x)`)
    t0 = fleet.clock.now()
    for (let i = 0; i < status.length; i++) {
      last[i] = undefined
      await observe(i)
    }
    uploadedAtStart = uploaded()
    notes.push(`real nodes (${fleet.mode}), virtual time at ${fleet.timeScale}x the wall clock${setupScale !== scale ? ` (${setupScale}x during set-up)` : ''}, heartbeat base ${options.heartbeatMs ?? 5000} ms, observed every ${observeEvery} ms`)

    const observer = (async () => {
      while (!done) {
        await observeAll()
        sample()
        progress('running')
        await fleet.clock.sleep(observeEvery)
      }
    })()
    background.push(observer)
    background.push(traffic(fleet, () => done, status, modelName, options.requestsPerSec ?? 1, random))

    const resolve = (set: NodeSet, eligible: (i: number) => boolean): number[] =>
      resolveNodeSet(set, status.length, eligible, i => attrs[i]!, () => newest === undefined ? undefined : indexOf.get(newest.coordinator), random)
    const crash = async (i: number): Promise<void> => {
      status[i] = 'down'
      emit({ t: now(), type: 'down', node: i, how: 'crash' })
      await fleet.crash(i)
    }
    const act = async (action: ScenarioAction): Promise<void> => {
      switch (action.kind) {
        case 'apply': {
          const cid = cids.get(`${modelName}@${newVersion}`)!
          const spec = { ...action.spec, model: { ...action.spec.model, cid } } as RolloutSpec
          const doc: PolicyDocument<RolloutSpec> = { kind: 'RolloutPolicy', schema: 1, name: rollout, version: 1, issuedAt: isoTime(Date.now()), spec, control: OPEN }
          const envelope = await sealPolicy(doc, adminKey)
          const at = status.findIndex(s => s === 'up')
          emit({ t: now(), type: 'rolloutApplied', rollout, policyVersion: 1, model: modelName, oldVersions, newVersion })
          await fleet.applyPolicy(Math.max(0, at), envelope, { signal: options.signal })
          return
        }
        case 'partition': {
          const groups: number[][] = action.groups.map(() => [])
          const rest: number[] = []
          const taken = new Set<number>()
          action.groups.forEach((g, k) => { for (const i of resolve(g, () => true)) if (!taken.has(i)) { taken.add(i); groups[k]!.push(i) } })
          for (let i = 0; i < status.length; i++) if (!taken.has(i)) rest.push(i)
          const all = [...groups, rest]
          groupOf = []
          all.forEach((g, k) => { for (const i of g) groupOf![i] = k })
          await fleet.partition(all)
          emit({ t: now(), type: 'partitioned', groups: all.map(g => g.length) })
          return
        }
        case 'heal':
          groupOf = undefined
          await fleet.heal()
          emit({ t: now(), type: 'healed' })
          return
        case 'crash':
          for (const i of resolve(action.target, i => status[i] !== 'down')) await crash(i)
          return
        case 'killCoordinator': {
          const c = newest === undefined ? undefined : indexOf.get(newest.coordinator)
          if (c !== undefined && status[c] !== 'down') await crash(c)
          return
        }
        case 'restart':
          for (const i of resolve(action.target, i => status[i] === 'down')) {
            await fleet.restart(i)
            status[i] = 'up'
            emit({ t: now(), type: 'up', node: i, how: 'restart' })
            for (const c of await fleet.verifyModels(i, { signal: options.signal })) emit({ t: now(), type: 'digestCheck', node: i, file: c.file, ok: c.ok })
          }
          return
        case 'pause':
          for (const i of resolve(action.target, i => status[i] === 'up')) {
            status[i] = 'paused'
            emit({ t: now(), type: 'down', node: i, how: 'pause' })
            await fleet.pause(i)
          }
          return
        case 'resume':
          for (const i of resolve(action.target, i => status[i] === 'paused')) {
            await fleet.resume(i)
            status[i] = 'up'
            emit({ t: now(), type: 'up', node: i, how: 'resume' })
          }
          return
        case 'drainBattery': {
          const nodes = resolve(action.target, () => true)
          for (const i of nodes) {
            attrs[i] = { ...attrs[i], battery: String(action.to) }
            await fleet.setProps(i, { battery: String(action.to) })
          }
          emit({ t: now(), type: 'fault', action: `drainBattery to ${action.to}`, nodes: nodes.length })
          return
        }
        case 'addNodes': {
          const more = Array.from({ length: action.count }, () => drawSpec({ ...scenario.fleet.labels, ...action.labels }, { ...scenario.fleet.props, ...action.props }))
          const first = status.length
          track(more, first, 'down')
          const added = await fleet.addNodes(more, { signal: options.signal })
          for (const i of added) {
            status[i] = 'up'
            emit({ t: now(), type: 'up', node: i, how: 'join' })
            await observe(i)
            // Joiners come with the initial versions, as in the DES: fetched from peers here.
            background.push(activateInitial(i).catch(err => { notes.push(`node ${i}: the initial versions did not activate: ${errorMessage(err)}`) }))
          }
          return
        }
        case 'slow': {
          const nodes = resolve(action.target, () => true)
          if (fleet.capabilities.slow) {
            for (const i of nodes) await fleet.slow(i, { disk: action.disk, cpu: action.cpu })
            emit({ t: now(), type: 'fault', action: `slow disk x${action.disk} cpu x${action.cpu}`, nodes: nodes.length })
          } else {
            emit({ t: now(), type: 'fault', action: `slow disk x${action.disk} cpu x${action.cpu} (not supported by the ${fleet.mode} fleet: ignored)`, nodes: nodes.length })
            notes.push(`\`slow\` is not supported by the ${fleet.mode} fleet and was ignored`)
          }
          return
        }
        case 'shapeLinks': {
          const nodes = resolve(action.target, () => true)
          await fleet.shapeLinks(nodes, action.links)
          emit({ t: now(), type: 'fault', action: `links ${JSON.stringify(action.links)}`, nodes: nodes.length })
          return
        }
        default: {
          const never: never = action
          throw new TypeError(`unknown action ${JSON.stringify(never)}`)
        }
      }
    }

    const steps = scenario.timeline.map(e => ({ atMs: e.atMs, run: async () => { await act(e.action) } }))
    const stray = options.unsafe?.strayActivation
    if (stray !== undefined) {
      steps.push({ atMs: stray.atMs, run: async () => { await fleet.activate(stray.node, cids.get(`${stray.model}@${stray.version}`)!, { signal: options.signal }) } })
      steps.sort((a, b) => a.atMs - b.atMs)
    }
    for (const step of steps) {
      const wait = step.atMs - now()
      if (wait > 0) await fleet.clock.sleep(wait, { signal: options.signal })
      await step.run()
    }
    const settled = (): boolean => options.endWhenSettled === true && (newest?.phase === 'Completed' || newest?.phase === 'RolledBack')
    for (let rest = scenario.durationMs - now(); rest > 0 && !settled(); rest = scenario.durationMs - now()) {
      await fleet.clock.sleep(options.endWhenSettled === true ? Math.min(rest, observeEvery) : rest, { signal: options.signal })
    }
    done = true
    await Promise.all(background)
    await observeAll()
    sample()
  } finally {
    done = true
    unsubscribe()
    await fleet.stop()
    await Promise.allSettled(background)
    if (ownsWorkDir) await rm(workDir, { recursive: true, force: true })
  }

  // ---- the outcome -------------------------------------------------------------------------------
  const endAt = now()
  const phase = newest?.phase ?? 'Pending'
  const selector = (apply.spec as RolloutSpec).selector
  let targets = 0
  let upTargets = 0
  let active = 0
  let lastActive = 0
  const reachable = new Map<number, number>()
  status.forEach((s, i) => {
    if (!matchesSelector(selector, attrs[i]!)) return
    targets++
    if (s !== 'up') return
    upTargets++
    const g = groupOf?.[i] ?? 0
    reachable.set(g, (reachable.get(g) ?? 0) + 1)
    if (state[i] === 'Active' && last[i]?.running[modelName] === newVersion) { active++; lastActive = Math.max(lastActive, activeAt[i] ?? 0) }
  })
  emit({ t: endAt, type: 'end', rollout, phase, reachableTargets: Math.max(0, ...reachable.values()), targets, ...(newest?.message !== undefined && newest.message !== '' ? { message: newest.message } : {}) })
  events.sort((a, b) => a.t - b.t)
  const up = uploaded()
  return {
    mode: fleet.mode,
    events,
    samples,
    phase,
    rollout,
    newVersion,
    oldVersions,
    applyAtMs: scenario.timeline.find(e => e.action.kind === 'apply')!.atMs,
    modelBytes,
    originBytes: up[0] ?? 0,
    peerBytes: up.slice(1).reduce((a, b) => a + b, 0),
    uploaded: up,
    end: active === upTargets && upTargets > 0 ? { targets: upTargets, active, allActiveAtMs: lastActive } : { targets: upTargets, active },
    nodes: status.length,
    simulatedMs: endAt,
    notes
  }
}

/** `requestsPerSec` inferences per live node per virtual second, one in flight per node at most. */
async function traffic (fleet: RealFleet, done: () => boolean, status: Status[], model: string, requestsPerSec: number, random: () => number): Promise<void> {
  if (requestsPerSec <= 0) return
  const busy = new Set<number>()
  while (!done()) {
    status.forEach((s, i) => {
      if (s !== 'up' || busy.has(i)) return
      busy.add(i)
      // A node that does not serve the model yet, or is going down, refuses: that is traffic too.
      fleet.infer(i, model, { inputs: simRequest(random) }).catch(() => undefined).finally(() => { busy.delete(i) })
    })
    await fleet.clock.sleep(1000 / requestsPerSec)
  }
}

async function inBatches<T> (items: T[], size: number, fn: (item: T) => Promise<void>): Promise<void> {
  for (let k = 0; k < items.length; k += size) await Promise.all(items.slice(k, k + size).map(fn))
}
