/**
 * The coordinator shell of node/rollouts/coordinator.ts, step for step, in continuation style on
 * the simulated world (RPCs take virtual time, a pause freezes a step half-way, a crash drops it):
 * every decision is the node's pure code (`leadershipMove`, `quorumOf`, `refusalFences`,
 * `nextEpoch`, `hrwRank`, `decide`, `nextPhase`); only the plumbing is here. The message texts
 * mirror the shell's, since a changed message makes the coordinator publish progress sooner.
 *
 * Ticks: a leader ticks every {@link TICK_MS} (sooner while devices are in flight or a bake window
 * ends), never two steps at once. Followers cannot all tick at 10,000 nodes; each second the nodes
 * that can rank first in their own view are evaluated: the first {@link CANDIDATES_PER_SEGMENT}
 * running nodes of each segment in HRW order, and every node that restarted, resumed or joined in
 * the last {@link WOKEN_WINDOW_MS} (its view may not hold the others yet). Any other node sees one
 * of those alive, so it would follow.
 */
import { hrwRank } from '../../node/rollouts/hrw.js'
import { nextEpoch } from '../../node/rollouts/epoch.js'
import { decide, effectiveSteps, nextPhase } from '../../node/rollouts/plan.js'
import { isFinal } from '../../node/rollouts/device.js'
import { leadershipMove, quorumOf, refusalFences } from '../../node/rollouts/leadership.js'
import { COORDINATOR_CONCURRENCY } from '../../node/rollouts/constants.js'
import { carryPollSchedule, pollDueAtMs, takeDuePoll } from '../../node/rollouts/poll.js'
import type { PollSchedule } from '../../node/rollouts/poll.js'
import type { ControllerInput, Decision, RolloutPhase } from '../../node/rollouts/plan.js'
import type { DeviceStateKind } from '../../node/rollouts/device.js'
import type { GateSample } from '../../node/rollouts/gates.js'
import type { RolloutSpec } from '../../node/rollouts/spec.js'
import type { InferenceStats } from '../../protocols/heartbeat/index.js'
import type { SimEvent } from './invariants.js'
import type { SimNode, ViewCache, World } from './world.js'

/** The service's tick, `min(1000, heartbeatMs)`. */
export const TICK_MS = 1000
/** `staleAfterMs`: 10 base heartbeat intervals (service.ts). */
export const STALE_AFTER_MS = 50_000
/** `fencedBackoffMs`: 3 base heartbeat intervals (service.ts). */
export const FENCED_BACKOFF_MS = 15_000
/** The service's settling window after a (re)start: 2 base heartbeat intervals (service.ts). */
export const SETTLE_MS = 10_000
/** `progressEveryMs`: one base heartbeat interval. */
export const PROGRESS_EVERY_MS = 5000
/** Messages in flight at once: the node's own default (`concurrency`). */
export const CONCURRENCY = COORDINATOR_CONCURRENCY
export const CANDIDATES_PER_SEGMENT = 8
export const WOKEN_WINDOW_MS = 180_000

/** RolloutProgress as the simulator carries it (no signature). */
export interface SimProgress {
  rollout: string
  policyVersion: number
  cid: string
  epoch: number
  seq: number
  coordinator: string
  phase: RolloutPhase
  step: number
  stepStartedAt: number
  updatedAt: number
  message: string
  trip?: string
}

export interface DeviceAnswer { state?: DeviceStateKind, policyVersion: number, cid?: string }
export type PrepareReply =
  | { kind: 'promised', device: DeviceAnswer, progress?: SimProgress }
  | { kind: 'rejected', promisedEpoch: number, promisedTo?: string, device: DeviceAnswer, progress?: SimProgress }
export type CommandReply =
  | { kind: 'accepted', device: DeviceAnswer }
  | { kind: 'refused', code: string, retryable: boolean, promisedEpoch?: number }

/** What the coordinators need of the engine: the world, the policy each node holds, the devices. */
export interface CoordinatorHost {
  world: World<SimProgress>
  rollout: string
  spec: RolloutSpec
  emit: (e: SimEvent) => void
  unsafe: { acceptStaleEpochs?: boolean }
  policyAt: (i: number) => { version: number, control: { paused: boolean, resumedThrough: number, undo: boolean, deleted: boolean } } | undefined
  /** Whether node j matches the selector, as its latest heartbeat announced it. */
  matchesAnnounced: (j: number) => boolean
  /** The rolled-out version's stats as of a heartbeat sent at `beatAtMs`. */
  stats: (beatAtMs: number, activeAt: number) => InferenceStats | undefined
  kindOfCode: (code: number) => DeviceStateKind | undefined
  prepare: (j: number, epoch: number, from: string) => PrepareReply
  command: (j: number, cmd: { policyVersion: number, epoch: number, coordinator: string, action: 'activate' | 'revert' }) => CommandReply
  report: (j: number) => DeviceAnswer
  /** The highest epoch node i's own acceptor promised. */
  ownPromised: (i: number) => number
}

type Role =
  | { kind: 'follower' }
  | { kind: 'leading', epoch: number, promised: Set<string>, established: boolean }
type Leading = Extract<Role, { kind: 'leading' }>

interface Known extends PollSchedule { state?: DeviceStateKind, policyVersion: number, atMs: number }

/** One node's RolloutCoordinator instance (volatile: a crash loses it). */
interface Coord {
  role: Role
  devices: Map<number, Known>
  /** The same states by peer id, as decide() takes them, kept in step with `devices`. */
  kinds: Map<string, DeviceStateKind>
  succeeded: number
  dispatches: number[]
  progress?: SimProgress
  maxSeenEpoch: number
  seq: number
  lastPublishMs: number
  busy: boolean
  generation?: string
  deferUntil: number
  view?: ViewCache
  chain: boolean
}

export class SimCoordinators {
  private readonly coords: Array<Coord | undefined> = []
  private rank: number[] = []
  private readonly index = new Map<string, number>()
  private readonly leaders = new Set<number>()
  private readonly woken = new Map<number, number>()
  private started = false
  /** Requests coordinators sent to other nodes, by kind (a node's own device is answered in place). */
  readonly requests = { prepare: 0, command: 0, report: 0 }

  constructor (private readonly h: CoordinatorHost) {}

  private get w (): World<SimProgress> { return this.h.world }

  /** The policy is out: coordinators start ticking. */
  start (): void {
    if (this.started) return
    this.started = true
    this.reindex()
    const scan = (): void => { this.scan(); this.w.clock.setTimeout(scan, TICK_MS) }
    scan()
  }

  private reindex (): void {
    this.index.clear()
    for (const n of this.w.nodes) this.index.set(n.id, n.i)
    this.rank = hrwRank(this.h.rollout, this.w.nodes.map(n => n.id)).map(id => this.index.get(id)!)
  }

  /** The node currently leading with the highest epoch (established first), if any. */
  current (): number | undefined {
    let best: number | undefined
    let key = -1
    for (const i of this.leaders) {
      const r = this.coords[i]?.role
      if (r?.kind !== 'leading' || this.w.nodes[i]!.liveness === 'down') continue
      const k = r.epoch * 2 + (r.established ? 1 : 0)
      if (k > key) { key = k; best = i }
    }
    return best
  }

  /** A crash loses the coordinator instance. */
  forget (i: number): void {
    this.coords[i] = undefined
    this.leaders.delete(i)
  }

  /** A restart or resume: the node's view may be empty or stale, so it is evaluated every tick for a while. */
  woke (i: number): void {
    this.woken.set(i, this.w.now)
  }

  joined (nodes: number[]): void {
    if (this.started) this.reindex()
    for (const i of nodes) this.woke(i)
  }

  private coordOf (i: number): Coord {
    let co = this.coords[i]
    if (co === undefined) {
      co = { role: { kind: 'follower' }, devices: new Map(), kinds: new Map(), succeeded: 0, dispatches: [], maxSeenEpoch: 0, seq: 0, lastPublishMs: 0, busy: false, deferUntil: 0, chain: false }
      this.coords[i] = co
    }
    return co
  }

  private scan (): void {
    const w = this.w
    const now = w.now
    const segments = w.liveSegments()
    const perSeg = new Map<number, number>()
    const candidates = new Set<number>()
    let full = 0
    for (const i of this.rank) {
      const node = w.nodes[i]!
      if (node.liveness !== 'up') continue
      const seg = w.segOf(i)
      const c = perSeg.get(seg) ?? 0
      if (c >= CANDIDATES_PER_SEGMENT) continue
      perSeg.set(seg, c + 1)
      if (c + 1 === CANDIDATES_PER_SEGMENT) full++
      candidates.add(i)
      if (full >= segments) break
    }
    for (const [i, at] of this.woken) {
      if (now - at > WOKEN_WINDOW_MS) this.woken.delete(i)
      else candidates.add(i)
    }
    for (const i of candidates) {
      const co = this.coords[i]
      if (co?.chain === true) continue
      const node = w.nodes[i]!
      // Each node's tick has its own phase within the second.
      w.after(node, (i * 7919) % TICK_MS, () => { this.tick(i) })
    }
  }

  private tick (i: number): void {
    const co = this.coordOf(i)
    if (co.busy) return
    co.busy = true
    const started = this.w.now
    this.step(i, co, () => {
      co.busy = false
      this.next(i, co, started)
    })
  }

  private next (i: number, co: Coord, started: number): void {
    if (co.role.kind !== 'leading') {
      co.chain = false
      this.leaders.delete(i)
      return
    }
    co.chain = true
    const now = this.w.now
    const regular = Math.max(started + TICK_MS, now)
    const due = this.nextDueMs(i, co, now)
    const at = due === undefined ? regular : Math.min(regular, Math.max(due, now))
    this.w.after(this.w.nodes[i]!, at - now, () => { this.tick(i) })
  }

  private nextDueMs (i: number, co: Coord, now: number): number | undefined {
    if (co.role.kind !== 'leading' || co.progress === undefined) return undefined
    let due: number | undefined
    // Devices in flight, as the node's coordinator.ts: each at its own poll time once established.
    const version = this.h.policyAt(i)?.version
    const established = co.role.established
    for (const d of co.devices.values()) {
      if (d.policyVersion !== version || d.state === undefined || isFinal(d.state)) continue
      const at = pollDueAtMs(d, now, established)
      if (due === undefined || at < due) due = at
      if (!established) break
    }
    const step = effectiveSteps(this.h.spec.strategy.steps)[co.progress.step]
    if (step !== undefined && 'pause' in step && step.pause.durationMs !== undefined && co.progress.phase === 'Progressing') {
      const end = co.progress.stepStartedAt + step.pause.durationMs
      if (end > now) due = Math.min(due ?? end, end)
    }
    return due
  }

  private firstAlive (node: SimNode, current: number | undefined, fresh: boolean): string | undefined {
    for (const j of this.rank) {
      if (j === node.i) return node.id
      if (j === current && fresh) continue
      if (this.w.seesAlive(node, j)) return this.w.nodes[j]!.id
    }
    return undefined
  }

  private step (i: number, co: Coord, end: () => void): void {
    const { h, w } = this
    const node = w.nodes[i]!
    const self = node.id
    const now = w.now
    const cid = h.spec.model.cid
    const policy = h.policyAt(i)
    const latest = w.foldProgress(node)
    if (latest !== undefined) co.maxSeenEpoch = Math.max(co.maxSeenEpoch, latest.progress.epoch)
    if (policy === undefined || policy.control.deleted) {
      this.stepDown(i, co, 'the rollout is deleted')
      end()
      return
    }
    if (co.generation !== cid) {
      co.generation = cid
      co.devices.clear()
      co.kinds.clear()
      co.succeeded = 0
      co.dispatches = []
    }
    if (co.role.kind === 'leading') {
      co.view = w.refreshView(node, co.view)
      this.learnFromView(co, co.view)
    }
    if (latest !== undefined && latest.progress.phase === 'RolledBack' && latest.progress.cid === cid) {
      this.stepDown(i, co, 'the rollout was rolled back')
      end()
      return
    }
    const currentId = latest?.progress.coordinator
    const current = currentId === undefined ? undefined : this.index.get(currentId)
    const fresh = latest !== undefined && now - latest.receivedMs <= STALE_AFTER_MS
    // A leader reads its cached view (refreshed above); a follower looks its peers up afresh.
    const alive = (j: number): boolean => j === i || (co.role.kind === 'leading' && co.view !== undefined ? w.statusIn(co.view, j) === 'alive' : w.seesAlive(node, j))
    const move = leadershipMove({
      self,
      leadingEpoch: co.role.kind === 'leading' ? co.role.epoch : undefined,
      current: latest === undefined ? undefined : { coordinator: latest.progress.coordinator, epoch: latest.progress.epoch },
      fresh,
      currentAlive: current !== undefined && alive(current),
      deferred: now < co.deferUntil,
      settling: now - node.bootAt < SETTLE_MS,
      first: co.role.kind === 'leading' ? undefined : this.firstAlive(node, current, fresh)
    })
    if (move.kind === 'follow') { end(); return }
    if (move.kind === 'stepDown') { this.stepDown(i, co, move.reason); end(); return }
    if (move.kind === 'takeOver') {
      const epoch = nextEpoch([co.maxSeenEpoch, this.ownPromised(i), latest?.progress.epoch ?? 0])
      co.role = { kind: 'leading', epoch, promised: new Set(), established: false }
      co.progress = this.adopt(latest?.progress, policy.version, self, epoch, now)
      this.leaders.add(i)
      h.emit({ t: now, type: 'coordinator', node: i, rollout: h.rollout, epoch, action: 'takeOver', reason: currentId === undefined ? 'no coordinator yet' : `previous ${currentId}${fresh ? '' : ' (progress stale)'}` })
      co.view = w.refreshView(node, co.view)
      this.learnFromView(co, co.view)
    }
    const role = co.role as Leading
    const view = co.view!
    const n = w.nodes.length
    // One pass over the view: who is alive, who matches (as announced), who is in the quorum.
    const targets: number[] = []
    const quorumIds: string[] = []
    const aliveNow = new Uint8Array(n)
    for (let j = 0; j < n; j++) {
      const heard = j === i || !Number.isNaN(view.recv[j]!)
      if (!heard) continue
      const isAlive = j === i || w.statusIn(view, j, now) === 'alive'
      if (isAlive) aliveNow[j] = 1
      if (!h.matchesAnnounced(j)) continue
      quorumIds.push(w.nodes[j]!.id)
      if (isAlive) targets.push(j)
    }
    const targetIds = targets.map(j => w.nodes[j]!.id)
    // Matching members heard of but not alive now: counted in a step's percentage, never commanded (plan.ts).
    const live = new Set(targetIds)
    const unreachableIds = quorumIds.filter(id => !live.has(id))
    const unpromised = targets.filter((j, k) => !role.promised.has(targetIds[k]!))
    const afterPrepare = (): void => {
      if (co.role !== role) { end(); return }
      const q = quorumOf(quorumIds, role.promised, id => aliveNow[this.index.get(id)!] === 1)
      if (!q.reached) {
        role.established = false
        this.setMessage(co, `waiting for a majority of the ${q.size} targets to promise epoch ${role.epoch} (${q.promised} did)`)
        this.maybePublish(i, co, false)
        end()
        return
      }
      if (!role.established) {
        role.established = true
        h.emit({ t: w.now, type: 'coordinator', node: i, rollout: h.rollout, epoch: role.epoch, action: 'established', reason: `${q.promised} of ${q.size} targets promised` })
        this.maybePublish(i, co, true)
      }
      this.pollInFlight(i, co, role, policy.version, () => {
        if (co.role !== role) { end(); return }
        const loop = (k: number): void => {
          if (k >= 8) { this.maybePublish(i, co, false); end(); return }
          if (h.policyAt(i)?.version !== policy.version) { end(); return }
          const decision = decide(this.input(i, co, policy, targetIds, view, unreachableIds))
          this.act(i, co, decision, role, policy.version, policy.control.undo, changed => {
            if (co.role !== role || !changed) { this.maybePublish(i, co, false); end(); return }
            loop(k + 1)
          })
        }
        loop(0)
      })
    }
    if (unpromised.length > 0) this.prepareAll(i, co, role, unpromised, afterPrepare)
    else afterPrepare()
  }

  private ownPromised (i: number): number {
    return this.h.ownPromised(i)
  }

  private adopt (latest: SimProgress | undefined, policyVersion: number, self: string, epoch: number, now: number): SimProgress {
    const cid = this.h.spec.model.cid
    const base = latest !== undefined && latest.cid === cid ? latest : undefined
    return {
      rollout: this.h.rollout,
      policyVersion,
      cid,
      epoch,
      seq: 0,
      coordinator: self,
      phase: base?.phase ?? 'Progressing',
      step: base?.step ?? 0,
      stepStartedAt: base?.stepStartedAt ?? now,
      updatedAt: now,
      message: base?.message ?? '',
      ...(base?.trip !== undefined ? { trip: base.trip } : {})
    }
  }

  private learnFromView (co: Coord, view: ViewCache): void {
    for (let j = 0; j < view.recv.length; j++) {
      const code = view.kind[j]!
      const recv = view.recv[j]!
      if (code === 0 || Number.isNaN(recv)) continue
      const known = co.devices.get(j)
      if (known !== undefined && known.atMs >= recv) continue
      this.know(co, j, { state: this.h.kindOfCode(code), policyVersion: 1, atMs: recv })
    }
  }

  private know (co: Coord, j: number, known: Known): void {
    const was = co.devices.get(j)
    co.devices.set(j, carryPollSchedule(was, known, this.w.now))
    const before = was?.state
    if (before === known.state) return
    const id = this.w.nodes[j]!.id
    if (before === 'Active') co.succeeded--
    if (known.state === 'Active') co.succeeded++
    if (known.state === undefined) co.kinds.delete(id)
    else co.kinds.set(id, known.state)
  }

  private note (co: Coord, j: number, device: DeviceAnswer): void {
    const state = device.cid !== undefined && device.cid !== co.generation ? undefined : device.state
    this.know(co, j, { state, policyVersion: device.policyVersion, atMs: this.w.now })
  }

  private input (i: number, co: Coord, policy: NonNullable<ReturnType<CoordinatorHost['policyAt']>>, targets: string[], view: ViewCache, unreachable: string[]): ControllerInput {
    const w = this.w
    const now = w.now
    co.dispatches = co.dispatches.filter(t => now - t < 60_000)
    const samples: GateSample[] = []
    // Samples feed only the abort criteria.
    if (this.h.spec.strategy.abort.length > 0) for (const [j, d] of co.devices) {
      if (d.state === undefined || (j !== i && Number.isNaN(view.recv[j]!))) continue
      const stats = Number.isNaN(view.recv[j]!) ? undefined : this.h.stats(view.recv[j]! - w.floodDelayMs, view.activeAt[j]!)
      samples.push(stats === undefined ? { peerId: w.nodes[j]!.id, state: d.state } : { peerId: w.nodes[j]!.id, state: d.state, stats })
    }
    const p = co.progress!
    return {
      rollout: this.h.rollout,
      policy: { spec: this.h.spec, control: policy.control },
      progress: { phase: p.phase, step: p.step, stepStartedAt: p.stepStartedAt },
      targets,
      unreachable,
      devices: co.kinds,
      recentDispatches: co.dispatches,
      succeeded: co.succeeded,
      samples,
      now
    }
  }

  private act (i: number, co: Coord, decision: Decision, role: Leading, policyVersion: number, undo: boolean, done: (changed: boolean) => void): void {
    const progress = co.progress!
    const now = this.w.now
    const before = progress.phase
    // The trip is part of the Aborted record (the shell sets it right after the phase).
    if (decision.kind === 'abort') progress.trip = decision.trip.text.slice(0, 480)
    this.setPhase(i, co, nextPhase(progress.phase, decision), now)
    switch (decision.kind) {
      case 'dispatch':
        this.send(i, co, role, policyVersion, decision.peers, 'activate', () => {
          this.setMessage(co, `step ${progress.step + 1}: updating ${decision.peers.length} more node(s)`)
          done(false)
        })
        return
      case 'revert':
        this.send(i, co, role, policyVersion, decision.peers, 'revert', () => {
          this.setMessage(co, `rolling back ${decision.peers.length} node(s)${progress.trip !== undefined ? ` (${progress.trip})` : undo ? ' (undo)' : ''}`)
          done(false)
        })
        return
      case 'advance':
        progress.step = decision.toStep
        progress.stepStartedAt = now
        this.setMessage(co, decision.reason)
        this.maybePublish(i, co, true)
        done(true)
        return
      case 'hold':
        this.setMessage(co, decision.reason)
        done(false)
        return
      case 'paused':
        this.setMessage(co, 'paused by an operator')
        done(false)
        return
      case 'abort':
        progress.trip = decision.trip.text.slice(0, 480)
        this.setMessage(co, `aborted: ${decision.trip.text}`)
        this.maybePublish(i, co, true)
        done(true)
        return
      case 'complete':
        this.setMessage(co, 'every target runs the new version')
        if (before !== 'Completed') this.maybePublish(i, co, true)
        done(false)
        return
      case 'rolledBack':
        this.setMessage(co, 'every updated node runs its previous version again')
        this.maybePublish(i, co, true)
        done(false)
        return
      case 'idle':
        done(false)
        return
      default: {
        const never: never = decision
        throw new Error(`unknown decision ${JSON.stringify(never)}`)
      }
    }
  }

  private setPhase (i: number, co: Coord, phase: RolloutPhase, now: number): void {
    const p = co.progress!
    if (p.phase === phase) return
    p.phase = phase
    p.updatedAt = now
    co.lastPublishMs = 0
    const role = co.role as Leading
    this.h.emit({ t: now, type: 'phase', rollout: this.h.rollout, phase, epoch: role.epoch, coordinator: this.w.nodes[i]!.id, step: p.step, ...(p.trip !== undefined ? { trip: p.trip } : {}) })
  }

  private setMessage (co: Coord, message: string): void {
    if (co.progress !== undefined && co.progress.message !== message) {
      co.progress.message = message
      co.lastPublishMs = 0
    }
  }

  private maybePublish (i: number, co: Coord, force: boolean): void {
    const now = this.w.now
    if (co.progress === undefined || co.role.kind !== 'leading') return
    if (!force && co.lastPublishMs !== 0 && now - co.lastPublishMs < PROGRESS_EVERY_MS) return
    co.lastPublishMs = now
    co.progress.seq = ++co.seq
    co.progress.updatedAt = now
    co.progress.epoch = co.role.epoch
    this.w.publish(this.w.nodes[i]!, { ...co.progress })
  }

  private fenced (i: number, co: Coord, role: Leading, epoch: number, holder?: string): void {
    if (co.role !== role) return
    co.deferUntil = this.w.now + Math.round(FENCED_BACKOFF_MS * (0.5 + this.w.random()))
    this.stepDown(i, co, `epoch ${role.epoch} is fenced off by epoch ${epoch}${holder !== undefined ? ` of ${holder}` : ''}`)
  }

  private stepDown (i: number, co: Coord, why: string): void {
    if (co.role.kind === 'leading') this.h.emit({ t: this.w.now, type: 'coordinator', node: i, rollout: this.h.rollout, epoch: co.role.epoch, action: 'stepDown', reason: why })
    co.role = { kind: 'follower' }
    co.progress = undefined
  }

  /** coordinator.ts forEach: at most CONCURRENCY messages in flight, each worker one after another. */
  private pool (items: number[], fn: (j: number, next: () => void) => void, done: () => void): void {
    if (items.length === 0) { done(); return }
    let next = 0
    let active = 0
    const start = (): void => {
      // A message to itself is answered at once, so a worker may already have taken the rest.
      if (next >= items.length) return
      const j = items[next++]!
      active++
      fn(j, () => {
        active--
        if (next < items.length) start()
        else if (active === 0) done()
      })
    }
    for (let k = 0; k < Math.min(CONCURRENCY, items.length); k++) start()
  }

  private prepareAll (i: number, co: Coord, role: Leading, peers: number[], done: () => void): void {
    const { h, w } = this
    const node = w.nodes[i]!
    this.pool(peers, (j, next) => {
      if (j !== i) this.requests.prepare++
      w.rpc(node, w.nodes[j]!, () => h.prepare(j, role.epoch, node.id), reply => {
        if (reply !== undefined) {
          this.note(co, j, reply.device)
          const p = reply.progress
          if (p !== undefined && co.progress !== undefined && p.cid === co.progress.cid &&
            (p.epoch > co.progress.epoch || (p.epoch === co.progress.epoch && p.seq > co.progress.seq)) && !role.established) {
            co.progress.step = p.step
            co.progress.stepStartedAt = p.stepStartedAt
            co.progress.phase = p.phase
            co.progress.message = p.message
            if (p.trip !== undefined) co.progress.trip = p.trip
            else delete co.progress.trip
          }
          if (reply.kind === 'promised') role.promised.add(w.nodes[j]!.id)
          else {
            co.maxSeenEpoch = Math.max(co.maxSeenEpoch, reply.promisedEpoch)
            if (refusalFences(role.epoch, node.id, reply)) this.fenced(i, co, role, reply.promisedEpoch, reply.promisedTo)
          }
        }
        next()
      })
    }, done)
  }

  private pollInFlight (i: number, co: Coord, role: Leading, policyVersion: number, done: () => void): void {
    const { h, w } = this
    const node = w.nodes[i]!
    const inFlight: number[] = []
    const now = w.now
    for (const [j, d] of co.devices) {
      if (d.policyVersion === policyVersion && d.state !== undefined && !isFinal(d.state) && takeDuePoll(d, now)) inFlight.push(j)
    }
    this.pool(inFlight, (j, next) => {
      if (j !== i) this.requests.report++
      w.rpc(node, w.nodes[j]!, () => h.report(j), device => {
        if (device !== undefined && co.role === role) this.note(co, j, device)
        next()
      })
    }, done)
  }

  private send (i: number, co: Coord, role: Leading, policyVersion: number, peers: string[], action: 'activate' | 'revert', done: () => void): void {
    const { h, w } = this
    const node = w.nodes[i]!
    const now = w.now
    this.pool(peers.map(id => this.index.get(id)!), (j, next) => {
      co.seq++
      if (j !== i) this.requests.command++
      w.rpc(node, w.nodes[j]!, () => h.command(j, { policyVersion, epoch: role.epoch, coordinator: node.id, action }), reply => {
        if (reply !== undefined) {
          if (reply.kind === 'accepted') {
            co.dispatches.push(now)
            this.note(co, j, reply.device)
          } else if (reply.code === 'ERR_STALE_EPOCH') {
            co.maxSeenEpoch = Math.max(co.maxSeenEpoch, reply.promisedEpoch ?? role.epoch + 1)
            this.fenced(i, co, role, reply.promisedEpoch ?? role.epoch + 1)
          } else if (reply.code !== 'ERR_POLICY_NEWER' && !reply.retryable && action === 'activate') {
            this.note(co, j, { state: 'Failed', policyVersion })
          }
        }
        next()
      })
    }, done)
  }
}
