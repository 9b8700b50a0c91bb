/**
 * The discrete-event engine (first cut): devices and one coordinator per rollout, driven by the
 * node's pure cores on a ManualClock. Devices run `onPrepare`/`onCommand` and `transition`;
 * the coordinator ranks candidates with `hrwRank`, takes epochs with `nextEpoch`/`hasMajority`
 * and asks `decide`/`nextPhase` what to do; gates see a stats model of the version's behaviour.
 * Simplifications of this cut: a node's view is "up and in my partition group" (no heartbeat
 * ages), prepares and reports are answered within the tick, commands travel with link latency.
 */
import { ManualClock } from '../../core/clock.js'
import { TuttiError } from '../../core/errors.js'
import { seededRandom } from '../../core/random.js'
import { matchesSelector } from '../../core/selector.js'
import { hrwRank } from '../../node/rollouts/hrw.js'
import { hasMajority, nextEpoch, onCommand, onPrepare } from '../../node/rollouts/epoch.js'
import { decide, nextPhase } from '../../node/rollouts/plan.js'
import { transition } from '../../node/rollouts/device.js'
import type { AcceptorState } from '../../node/rollouts/epoch.js'
import type { DeviceEvent, DeviceState, DeviceStateKind } from '../../node/rollouts/device.js'
import type { GateSample } from '../../node/rollouts/gates.js'
import type { ProgressState } from '../../node/rollouts/plan.js'
import type { RolloutSpec } from '../../node/rollouts/spec.js'
import type { Scenario, ScenarioModel } from '../scenario.js'
import type { SimEvent } from './invariants.js'

interface SimDevice {
  id: string
  attrs: Record<string, string>
  up: boolean
  running: Map<string, string>
  acceptor: AcceptorState
  device?: DeviceState
  activeAt: number
  job: number
}

interface Leader { node: number, epoch: number, promised: Set<string>, busy: boolean }

export interface EngineResult { events: SimEvent[], phase: string, originBytes: number, peerBytes: number }

/** Runs one rollout scenario with `nodes` nodes; deterministic from the scenario's seed. */
export function runRollout (scenario: Scenario, nodes = scenario.fleet.nodes): EngineResult {
  const clock = new ManualClock(0)
  const random = seededRandom(scenario.seed)
  const events: SimEvent[] = []
  const emit = (e: SimEvent): void => { events.push(e) }
  const unsupported = scenario.timeline.find(e => e.action.kind !== 'apply')
  if (unsupported !== undefined) throw new TuttiError('ERR_SIM_UNSUPPORTED', `the DES engine does not model "${unsupported.action.kind}" yet (timeline at ${unsupported.atMs} ms)`)
  const applies = scenario.timeline.filter(e => e.action.kind === 'apply')
  const apply = applies[0]
  if (applies.length !== 1 || apply === undefined || apply.action.kind !== 'apply') throw new TuttiError('ERR_SIM_UNSUPPORTED', 'the DES engine runs scenarios with exactly one apply for now')
  const { name: rollout } = apply.action
  const spec = { ...apply.action.spec, model: { ...apply.action.spec.model, cid: `sim:${apply.action.spec.model.name}@${apply.action.spec.model.version}` } } as RolloutSpec
  const model = scenario.models.find(m => m.name === spec.model.name) as ScenarioModel
  const version = model.versions.find(v => v.version === spec.model.version)!
  const draw = (d: Scenario['fleet']['labels'][string]): string => {
    if ('fixed' in d) return d.fixed
    if ('uniform' in d) return String(Math.round(d.uniform[0] + random() * (d.uniform[1] - d.uniform[0])))
    const entries = Object.entries(d.choice)
    let x = random() * entries.reduce((s, [, w]) => s + w, 0)
    for (const [k, w] of entries) { if ((x -= w) < 0) return k }
    return entries[entries.length - 1]![0]
  }
  const devs: SimDevice[] = Array.from({ length: nodes }, (_, i) => {
    const attrs: Record<string, string> = {}
    for (const [k, d] of Object.entries(scenario.fleet.props)) attrs[k] = draw(d)
    for (const [k, d] of Object.entries(scenario.fleet.labels)) attrs[k] = draw(d)
    const running = new Map(scenario.initial.map(x => [x.model, x.version]))
    return { id: `node-${String(i).padStart(6, '0')}`, attrs, up: true, running, acceptor: { promised: 0 }, activeAt: 0, job: 0 }
  })
  const old = scenario.initial.filter(x => x.model === model.name).map(x => x.version)
  devs.forEach((d, i) => { for (const [m, v] of d.running) emit({ t: 0, type: 'running', node: i, model: m, version: v }) })
  const index = new Map(devs.map((d, i) => [d.id, i]))
  const rank = hrwRank(rollout, devs.map(d => d.id))
  const link = scenario.fleet.links
  const lat = (): number => link.latencyMs + random() * link.jitterMs
  let holders = 0
  let originBytes = 0
  let peerBytes = 0
  let progress: ProgressState & { epoch: number } = { phase: 'Progressing', step: 0, stepStartedAt: 0, epoch: 0 }
  let leader: Leader | undefined
  const known = new Map<string, DeviceStateKind>()
  const dispatches: number[] = []
  let applied = false

  const step = (i: number, ev: DeviceEvent): void => {
    const d = devs[i]!
    const r = transition(d.device, ev)
    if (!r.ok) return
    d.device = r.state
    if (r.state.kind === 'Active') {
      d.activeAt = clock.now()
      d.running.set(model.name, version.version)
      emit({ t: clock.now(), type: 'running', node: i, model: model.name, version: version.version })
    }
  }
  const activate = (i: number): void => {
    const d = devs[i]!
    const job = ++d.job
    step(i, { type: 'dispatched' })
    step(i, { type: 'downloadStarted' })
    const fromPeers = holders > 0
    if (fromPeers) peerBytes += version.sizeBytes
    else originBytes += version.sizeBytes
    const bw = fromPeers ? link.bytesPerSec : scenario.fleet.originBytesPerSec
    const later = (ms: number, fn: () => void): void => { clock.setTimeout(() => { if (d.job === job && d.up) fn() }, ms) }
    later(lat() + (version.sizeBytes / bw) * 1000, () => {
      holders++
      step(i, { type: 'downloaded' })
      step(i, { type: 'verified' })
      if (version.behaviour === 'failing') { step(i, { type: 'failed', reason: 'the model does not load' }); return }
      later(version.behaviour === 'slow' ? 30_000 : 2_000, () => { step(i, { type: 'loaded' }); step(i, { type: 'smokePassed' }) })
    })
  }
  const revert = (i: number): void => {
    const d = devs[i]!
    const job = ++d.job
    step(i, { type: 'revertStarted' })
    clock.setTimeout(() => {
      if (d.job !== job || !d.up) return
      step(i, { type: 'reverted' })
      const back = old[0]
      if (back !== undefined) { d.running.set(model.name, back); emit({ t: clock.now(), type: 'running', node: i, model: model.name, version: back }) }
    }, 2_000)
  }
  const stats = (d: SimDevice): GateSample['stats'] => {
    if (d.device?.kind !== 'Active') return undefined
    const n = Math.floor((clock.now() - d.activeAt) / 1000)
    return { n, e: 0, nf: version.behaviour === 'nan' ? n : 0, p50: 20, p95: version.behaviour === 'slow' ? 900 : 40, p99: 60, mb: 64 }
  }

  const tick = (): void => {
    if (leader?.busy === true) return
    const alive = devs.filter(d => d.up)
    if (leader === undefined || !devs[leader.node]!.up) {
      const top = rank.find(id => devs[index.get(id)!]!.up)
      if (top === undefined) return
      leader = { node: index.get(top)!, epoch: nextEpoch([progress.epoch]), promised: new Set(), busy: false }
    }
    const L = leader
    const me = devs[L.node]!.id
    const targets = alive.filter(d => matchesSelector(spec.selector, d.attrs)).map(d => d.id)
    for (const t of targets) {
      if (L.promised.has(t)) continue
      const i = index.get(t)!
      const r = onPrepare(devs[i]!.acceptor, L.epoch, me)
      if (r.kind === 'promised') { devs[i]!.acceptor = r.state; L.promised.add(t); emit({ t: clock.now(), type: 'promised', node: i, rollout, epoch: L.epoch, coordinator: me }) }
      const k = devs[i]!.device?.kind
      if (k !== undefined) known.set(t, k); else known.delete(t)
    }
    if (!hasMajority(L.promised, targets)) return
    for (const id of known.keys()) { const k = devs[index.get(id)!]!.device?.kind; if (k !== undefined) known.set(id, k) }
    const now = clock.now()
    const samples: GateSample[] = [...known].map(([id, state]) => ({ peerId: id, state, stats: stats(devs[index.get(id)!]!) }))
    const decision = decide({ rollout, policy: { spec, control: { paused: false, resumedThrough: -1, undo: false, deleted: false } }, progress, targets, devices: known, recentDispatches: dispatches.filter(t => now - t < 60_000), succeeded: [...known.values()].filter(k => k === 'Active').length, samples, now })
    progress = { ...progress, phase: nextPhase(progress.phase, decision), epoch: L.epoch }
    if (decision.kind === 'advance') progress = { ...progress, step: decision.toStep, stepStartedAt: now }
    if (decision.kind === 'dispatch' || decision.kind === 'revert') {
      L.busy = true
      let left = decision.peers.length
      for (const peer of decision.peers) {
        const i = index.get(peer)!
        clock.setTimeout(() => {
          const d = devs[i]!
          const r = d.up ? onCommand(d.acceptor, L.epoch, me) : undefined
          if (r?.kind === 'accepted') {
            d.acceptor = r.state
            emit({ t: clock.now(), type: 'commandAccepted', node: i, rollout, epoch: L.epoch, coordinator: me, action: decision.kind === 'dispatch' ? 'activate' : 'revert' })
            if (decision.kind === 'dispatch') { activate(i); dispatches.push(now) } else revert(i)
          }
          clock.setTimeout(() => {
            const k = d.device?.kind
            if (k !== undefined) known.set(peer, k)
            if (--left === 0) L.busy = false
          }, lat())
        }, lat())
      }
    }
  }
  const loop = (): void => { tick(); clock.setTimeout(loop, 1000) }
  clock.setTimeout(() => {
    applied = true
    emit({ t: clock.now(), type: 'rolloutApplied', rollout, policyVersion: 1, model: model.name, oldVersions: old, newVersion: version.version })
    devs.forEach((_, i) => { emit({ t: clock.now(), type: 'policyHeld', node: i, rollout, policyVersion: 1 }) })
    loop()
  }, apply.atMs)
  clock.advance(scenario.durationMs)
  const reachable = devs.filter(d => d.up && matchesSelector(spec.selector, d.attrs)).length
  if (applied) emit({ t: clock.now(), type: 'end', rollout, phase: progress.phase, reachableTargets: reachable, targets: reachable })
  return { events, phase: progress.phase, originBytes, peerBytes }
}
