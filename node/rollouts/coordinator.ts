/**
 * The coordinator of one rollout, as it runs on every node: each tick a node works out whether it
 * should drive the rollout (the highest-ranked live candidate, unless a live coordinator is already
 * driving it), wins an epoch from a majority of the current targets (promise, as in Paxos phase 1),
 * then turns the pure decision (`decide`, plan.ts) into signed wave commands. Everything it decides
 * is in the pure cores; this class only gathers inputs, sends messages and publishes progress.
 */
import { hrwRank } from './hrw.js'
import { nextEpoch } from './epoch.js'
import { leadershipMove, quorumOf, refusalFences } from './leadership.js'
import { decide, effectiveSteps, nextPhase } from './plan.js'
import { isFinal } from './device.js'
import { COORDINATOR_CONCURRENCY } from './constants.js'
import { carryPollSchedule, pollDueAtMs, takeDuePoll } from './poll.js'
import type { PollSchedule } from './poll.js'
import { matchesSelector } from '../../core/selector.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { ControllerInput, Decision } from './plan.js'
import type { GateSample } from './gates.js'
import type { DeviceStateKind } from './device.js'
import type { RolloutSpec } from './spec.js'
import type { PolicyDocument } from '../policy/document.js'
import type { MemberInfo } from '../membership/membership.js'
import type { RolloutProgress, RolloutPhase } from '../../protocols/rollout/index.js'
import type { AbortOptions } from '@libp2p/interface'

/** A device's state for this rollout as the coordinator last learnt it. */
export interface KnownDevice extends PollSchedule {
  /** Undefined: the device holds nothing of this rollout (never dispatched). */
  state?: DeviceStateKind
  reason?: string
  policyVersion: number
  /** Coordinator clock when learnt. */
  atMs: number
}

export interface DeviceAnswer {
  state?: DeviceStateKind
  reason?: string
  policyVersion: number
  /** The model CID the state is about, when the device said. */
  cid?: string
}

export type PrepareReply =
  | { kind: 'promised', device: DeviceAnswer, progress?: RolloutProgress }
  | { kind: 'rejected', promisedEpoch: number, promisedTo?: string, device: DeviceAnswer, progress?: RolloutProgress }

export type CommandReply =
  | { kind: 'accepted', device: DeviceAnswer }
  | { kind: 'refused', code: string, message: string, retryable: boolean, promisedEpoch?: number }

/** How the coordinator reaches devices (itself included: the service routes its own id locally). */
export interface CoordinatorRpc {
  prepare(peer: string, rollout: string, policyVersion: number, epoch: number, options?: AbortOptions): Promise<PrepareReply>
  command(peer: string, cmd: { rollout: string, policyVersion: number, epoch: number, action: 'activate' | 'revert', seq: number }, options?: AbortOptions): Promise<CommandReply>
  report(peer: string, rollout: string, options?: AbortOptions): Promise<DeviceAnswer | undefined>
}

export interface CoordinatorComponents {
  clock: Clock
  random: () => number
  logger: Logger
  peerId: string
  view: () => MemberInfo[]
  policy: () => PolicyDocument | undefined
  /** The newest progress known for this rollout and when it was received (this node's clock). */
  latestProgress: () => { progress: RolloutProgress, receivedMs: number } | undefined
  /** Highest epoch this node's own acceptor promised for the rollout. */
  ownPromised: () => number
  /** True while the node's view is still filling after a (re)start: it does not contend then. */
  settling?: () => boolean
  rpc: CoordinatorRpc
  publishProgress: (progress: RolloutProgress) => Promise<void>
}

export interface CoordinatorInit {
  /** A coordinator whose progress is older than this is presumed gone. */
  staleAfterMs: number
  /** Publish progress at least this often while leading. */
  progressEveryMs: number
  /** After being fenced off, wait this long times 0.5 to 1.5 (random) before contending again. @default staleAfterMs */
  fencedBackoffMs?: number
  /** Messages in flight at once. @default COORDINATOR_CONCURRENCY (64) */
  concurrency?: number
  /** Deadline of one message to a device, ms. @default 5000 */
  rpcTimeoutMs?: number
}

type Role =
  | { kind: 'follower' }
  | { kind: 'leading', epoch: number, promised: Set<string>, established: boolean }


export class RolloutCoordinator {
  readonly rollout: string
  private readonly c: CoordinatorComponents
  private readonly init: Required<CoordinatorInit>
  private readonly log: Logger
  private role: Role = { kind: 'follower' }
  private readonly devices = new Map<string, KnownDevice>()
  private dispatches: number[] = []
  private progress?: RolloutProgress
  private maxSeenEpoch = 0
  private seq = 0
  private lastPublishMs = 0
  private busy = false
  /** The model CID the device knowledge below is about: another generation starts from scratch. */
  private generation?: string
  /** After being fenced off, wait this long (this node's clock) for the winner's progress before contending again. */
  private deferUntil = 0

  constructor (rollout: string, components: CoordinatorComponents, init: CoordinatorInit) {
    this.rollout = rollout
    this.c = components
    this.init = { concurrency: COORDINATOR_CONCURRENCY, rpcTimeoutMs: 5000, fencedBackoffMs: init.staleAfterMs, ...init }
    this.log = components.logger.child('coordinator', { rollout })
  }

  /**
   * When this coordinator next has something to do sooner than the regular tick (this node's
   * clock): devices in flight to poll, or the end of a bake window. Undefined when not leading.
   */
  nextDueMs (): number | undefined {
    if (this.role.kind !== 'leading' || this.progress == null) return undefined
    const now = this.c.clock.now()
    let due: number | undefined
    const policy = this.c.policy()
    // The devices in flight pollInFlight() asks, each at its own time (poll.ts).
    for (const d of this.devices.values()) {
      if (d.policyVersion !== policy?.version || d.state === undefined || isFinal(d.state)) continue
      const at = pollDueAtMs(d, now, this.role.established)
      if (due === undefined || at < due) due = at
    }
    const step = policy == null ? undefined : effectiveSteps((policy.spec as unknown as RolloutSpec).strategy.steps)[this.progress.step]
    if (step != null && 'pause' in step && step.pause.durationMs != null && this.progress.phase === 'Progressing') {
      const end = this.progress.stepStartedAt + step.pause.durationMs
      if (end > now) due = Math.min(due ?? end, end)
    }
    return due
  }

  /** Whether this node drives the rollout now, and under which epoch. */
  status (): { leading: boolean, epoch?: number, established?: boolean } {
    return this.role.kind === 'leading' ? { leading: true, epoch: this.role.epoch, established: this.role.established } : { leading: false }
  }

  /** Device states learnt from heartbeats (the gossip path; replies update them faster). */
  private learnFromView (view: MemberInfo[], policyVersion: number): void {
    for (const m of view) {
      const r = m.rollouts?.find(x => x.name === this.rollout)
      if (r == null) continue
      const known = this.devices.get(m.peerId)
      if (known != null && known.atMs >= m.lastSeenMs) continue
      if (r.policyVersion > policyVersion) continue
      this.know(m.peerId, { state: asKind(r.state), reason: r.reason === '' ? undefined : r.reason, policyVersion: r.policyVersion, atMs: m.lastSeenMs })
    }
  }

  private note (peer: string, device: DeviceAnswer): void {
    // A state about another model (an earlier generation of this rollout) is no state for this one.
    const state = device.cid != null && device.cid !== this.generation ? undefined : device.state
    this.know(peer, { state, reason: device.reason, policyVersion: device.policyVersion, atMs: this.c.clock.now() })
  }

  /** Records what a device said; a change of its state brings its next poll close again. */
  private know (peer: string, known: KnownDevice): void {
    this.devices.set(peer, carryPollSchedule(this.devices.get(peer), known, this.c.clock.now()))
  }

  /** One step. Never throws; never runs twice at once. */
  async tick (options: AbortOptions = {}): Promise<void> {
    if (this.busy) return
    this.busy = true
    try {
      await this.step(options)
    } catch (err) {
      this.log.warn('coordinator step failed', { err })
    } finally {
      this.busy = false
    }
  }

  private async step (options: AbortOptions): Promise<void> {
    const policy = this.c.policy()
    const now = this.c.clock.now()
    const latest = this.c.latestProgress()
    if (latest != null) this.maxSeenEpoch = Math.max(this.maxSeenEpoch, latest.progress.epoch)
    if (policy == null || policy.control.deleted) {
      this.stepDown('the rollout is deleted')
      return
    }
    const spec = policy.spec as unknown as RolloutSpec
    if (this.generation !== spec.model.cid) {
      // The policy now names another model: what devices did for the last one counts for nothing.
      this.generation = spec.model.cid
      this.devices.clear()
      this.dispatches = []
    }
    const view = this.c.view()
    this.learnFromView(view, policy.version)
    const alive = view.filter(m => m.self || m.status === 'alive')
    const aliveIds = new Set(alive.map(m => m.peerId))
    // A rolled-back rollout is over; a completed one is still driven, so that devices that match
    // later (charged, newly joined) get the version too.
    if (latest != null && latest.progress.phase === 'RolledBack' && latest.progress.cid === spec.model.cid) {
      this.stepDown('the rollout was rolled back')
      return
    }

    // Who drives: a live coordinator whose progress is fresh keeps the rollout; otherwise the
    // highest-ranked live candidate takes it.
    const current = latest?.progress.coordinator
    const fresh = latest != null && now - latest.receivedMs <= this.init.staleAfterMs
    const move = leadershipMove({
      self: this.c.peerId,
      leadingEpoch: this.role.kind === 'leading' ? this.role.epoch : undefined,
      current: latest == null ? undefined : { coordinator: latest.progress.coordinator, epoch: latest.progress.epoch },
      fresh,
      currentAlive: current != null && aliveIds.has(current),
      // Fenced off a moment ago: the coordinator that won is about to publish; do not duel it.
      deferred: now < this.deferUntil,
      settling: this.c.settling?.() === true,
      first: this.role.kind === 'leading' ? undefined : hrwRank(this.rollout, [...aliveIds].filter(id => id === this.c.peerId || id !== current || !fresh))[0]
    })
    if (move.kind === 'follow') return
    if (move.kind === 'stepDown') {
      this.stepDown(move.reason)
      return
    }
    if (move.kind === 'takeOver') {
      const epoch = nextEpoch([this.maxSeenEpoch, this.c.ownPromised(), latest?.progress.epoch ?? 0])
      this.role = { kind: 'leading', epoch, promised: new Set(), established: false }
      this.progress = this.adopt(latest?.progress, policy, spec, epoch, now)
      this.log.info('taking over the rollout', { epoch, previous: current })
    }
    const role = this.role as Extract<Role, { kind: 'leading' }>

    const targets = alive.filter(m => matchesSelector(spec.selector, { ...m.props, ...m.labels })).map(m => m.peerId)
    const unpromised = targets.filter(t => !role.promised.has(t))
    if (unpromised.length > 0) await this.prepareAll(role, unpromised, policy.version, options)
    if (this.role !== role) return
    // The quorum counts every matching member the view still holds, suspect and dead ones too,
    // and only promises from live ones: the minority side of a partition sees the others dead
    // and must not make a majority of itself, nor keep one it had before the split. Commands
    // still go only to live targets.
    const quorum = quorumOf(view.filter(m => matchesSelector(spec.selector, { ...m.props, ...m.labels })).map(m => m.peerId), role.promised, id => aliveIds.has(id))
    const promisedTargets = quorum.promised
    if (!quorum.reached) {
      role.established = false
      this.setMessage(`waiting for a majority of the ${quorum.size} targets to promise epoch ${role.epoch} (${promisedTargets} did)`)
      await this.maybePublish(now, false)
      return
    }
    if (!role.established) {
      role.established = true
      this.log.info('coordinating the rollout', { epoch: role.epoch, targets: targets.length, promised: promisedTargets })
      await this.maybePublish(now, true)
    }

    await this.pollInFlight(role, policy.version, options)
    if (this.role !== role) return
    for (let i = 0; i < 8; i++) {
      // The promises and polls above wait on the network: act only on the policy still held.
      if (this.c.policy()?.version !== policy.version) return
      const decision = decide(this.input(policy, spec, targets, view))
      const changed = await this.act(decision, role, policy, options)
      if (this.role !== role || !changed) break
    }
    await this.maybePublish(this.c.clock.now(), false)
  }

  /** Continue from the newest progress of the same rollout generation, or start at step 0. */
  private adopt (latest: RolloutProgress | undefined, policy: PolicyDocument, spec: RolloutSpec, epoch: number, now: number): RolloutProgress {
    const base = latest != null && latest.cid === spec.model.cid ? latest : undefined
    return {
      kind: 'RolloutProgress',
      rollout: this.rollout,
      policyVersion: policy.version,
      cid: spec.model.cid,
      epoch,
      seq: 0,
      coordinator: this.c.peerId,
      phase: base?.phase ?? 'Progressing',
      step: base?.step ?? 0,
      stepStartedAt: base?.stepStartedAt ?? now,
      updatedAt: now,
      message: base?.message ?? '',
      trip: base?.trip
    }
  }

  private input (policy: PolicyDocument, spec: RolloutSpec, targets: string[], view: MemberInfo[]): ControllerInput {
    const now = this.c.clock.now()
    this.dispatches = this.dispatches.filter(t => now - t < 60_000)
    const devices = new Map<string, DeviceStateKind>()
    let succeeded = 0
    for (const [peer, d] of this.devices) {
      if (d.state === undefined) continue
      devices.set(peer, d.state)
      if (d.state === 'Active') succeeded++
    }
    const samples: GateSample[] = []
    for (const m of view) {
      const d = this.devices.get(m.peerId)
      if (d?.state === undefined) continue
      const model = m.models.find(x => x.cid === spec.model.cid)
      samples.push({ peerId: m.peerId, state: d.state, stats: model?.stats })
    }
    const progress = this.progress!
    const live = new Set(targets)
    const unreachable = view.filter(m => !m.self && !live.has(m.peerId) && m.status !== 'alive' && matchesSelector(spec.selector, { ...m.props, ...m.labels })).map(m => m.peerId)
    return {
      rollout: this.rollout,
      policy: { spec, control: policy.control },
      progress: { phase: progress.phase, step: progress.step, stepStartedAt: progress.stepStartedAt },
      targets,
      unreachable,
      devices,
      recentDispatches: this.dispatches,
      succeeded,
      samples,
      now
    }
  }

  /** Applies one decision; true when something changed that calls for deciding again now. */
  private async act (decision: Decision, role: Extract<Role, { kind: 'leading' }>, policy: PolicyDocument, options: AbortOptions): Promise<boolean> {
    const progress = this.progress!
    const now = this.c.clock.now()
    const before = progress.phase
    this.setPhase(nextPhase(progress.phase, decision), now)
    switch (decision.kind) {
      case 'dispatch':
        await this.send(role, policy.version, decision.peers, 'activate', options)
        this.setMessage(`step ${progress.step + 1}: updating ${decision.peers.length} more node(s)`)
        return false
      case 'revert':
        await this.send(role, policy.version, decision.peers, 'revert', options)
        this.setMessage(`rolling back ${decision.peers.length} node(s)${progress.trip != null ? ` (${progress.trip})` : policy.control.undo ? ' (undo)' : ''}`)
        return false
      case 'advance':
        progress.step = decision.toStep
        progress.stepStartedAt = now
        this.setMessage(decision.reason)
        this.log.info('rollout step', { step: decision.toStep, reason: decision.reason })
        await this.maybePublish(now, true)
        return true
      case 'hold':
        this.setMessage(decision.reason)
        return false
      case 'paused':
        this.setMessage('paused by an operator')
        return false
      case 'abort':
        progress.trip = decision.trip.text.slice(0, 480)
        this.setMessage(`aborted: ${decision.trip.text}`)
        this.log.warn('rollout aborted by a gate', { trip: decision.trip })
        await this.maybePublish(now, true)
        return true
      case 'complete':
        this.setMessage('every target runs the new version')
        if (before !== 'Completed') {
          this.log.info('rollout completed', { epoch: role.epoch })
          await this.maybePublish(now, true)
        }
        return false
      case 'rolledBack':
        this.setMessage('every updated node runs its previous version again')
        this.log.info('rollout rolled back', { epoch: role.epoch })
        await this.maybePublish(now, true)
        return false
      case 'idle':
        return false
      default: {
        const unreachable: never = decision
        throw new Error(`unknown decision ${JSON.stringify(unreachable)}`)
      }
    }
  }

  private setPhase (phase: RolloutPhase, now: number): void {
    const progress = this.progress!
    if (progress.phase === phase) return
    progress.phase = phase
    progress.updatedAt = now
    this.lastPublishMs = 0
  }

  private setMessage (message: string): void {
    if (this.progress != null && this.progress.message !== message) {
      this.progress.message = message
      this.lastPublishMs = 0
    }
  }

  private async maybePublish (now: number, force: boolean): Promise<void> {
    if (this.progress == null || this.role.kind !== 'leading') return
    if (!force && this.lastPublishMs !== 0 && now - this.lastPublishMs < this.init.progressEveryMs) return
    this.lastPublishMs = now
    this.progress.seq = ++this.seq
    this.progress.updatedAt = now
    this.progress.epoch = this.role.epoch
    try {
      await this.c.publishProgress({ ...this.progress })
    } catch (err) {
      this.log.debug('publishing progress failed', { err })
    }
  }

  private async prepareAll (role: Extract<Role, { kind: 'leading' }>, peers: string[], policyVersion: number, options: AbortOptions): Promise<void> {
    await this.forEach(peers, async peer => {
      const reply = await this.c.rpc.prepare(peer, this.rollout, policyVersion, role.epoch, options)
      this.note(peer, reply.device)
      if (reply.progress != null && this.progress != null && reply.progress.cid === this.progress.cid &&
        (reply.progress.epoch > this.progress.epoch || (reply.progress.epoch === this.progress.epoch && reply.progress.seq > this.progress.seq)) && !role.established) {
        // A device knows newer progress than this node: continue from it.
        const { step, stepStartedAt, phase, trip, message } = reply.progress
        Object.assign(this.progress, { step, stepStartedAt, phase, trip, message })
      }
      if (reply.kind === 'promised') {
        role.promised.add(peer)
      } else {
        this.maxSeenEpoch = Math.max(this.maxSeenEpoch, reply.promisedEpoch)
        // A higher epoch, or the same one promised to another candidate (two took over at once):
        // step back; the randomized wait in fenced() breaks the tie.
        if (refusalFences(role.epoch, this.c.peerId, reply)) {
          this.fenced(role, reply.promisedEpoch, reply.promisedTo)
        }
      }
    })
  }

  /** Another coordinator holds a higher epoch: stop; the next tick decides whether to take over with a higher one. */
  private fenced (role: Extract<Role, { kind: 'leading' }>, epoch: number, holder?: string): void {
    if (this.role !== role) return
    this.deferUntil = this.c.clock.now() + Math.round(this.init.fencedBackoffMs * (0.5 + this.c.random()))
    this.stepDown(`epoch ${role.epoch} is fenced off by epoch ${epoch}${holder != null ? ` of ${holder}` : ''}`)
  }

  private stepDown (why: string): void {
    if (this.role.kind === 'leading') this.log.info('no longer coordinating', { why, epoch: this.role.epoch })
    this.role = { kind: 'follower' }
    this.progress = undefined
  }

  private async pollInFlight (role: Extract<Role, { kind: 'leading' }>, policyVersion: number, options: AbortOptions): Promise<void> {
    const now = this.c.clock.now()
    const due: string[] = []
    for (const [peer, d] of this.devices) {
      if (d.policyVersion === policyVersion && d.state !== undefined && !isFinal(d.state) && takeDuePoll(d, now)) due.push(peer)
    }
    await this.forEach(due, async peer => {
      const device = await this.c.rpc.report(peer, this.rollout, options)
      if (device != null && this.role === role) this.note(peer, device)
    })
  }

  private async send (role: Extract<Role, { kind: 'leading' }>, policyVersion: number, peers: string[], action: 'activate' | 'revert', options: AbortOptions): Promise<void> {
    const now = this.c.clock.now()
    await this.forEach(peers, async peer => {
      const reply = await this.c.rpc.command(peer, { rollout: this.rollout, policyVersion, epoch: role.epoch, action, seq: ++this.seq }, options)
      if (reply.kind === 'accepted') {
        this.dispatches.push(now)
        this.note(peer, reply.device)
        return
      }
      if (reply.code === 'ERR_STALE_EPOCH') {
        this.maxSeenEpoch = Math.max(this.maxSeenEpoch, reply.promisedEpoch ?? role.epoch + 1)
        this.fenced(role, reply.promisedEpoch ?? role.epoch + 1)
        return
      }
      this.log.debug('a device refused a command', { device: peer, action, code: reply.code, message: reply.message })
      // A device that holds a newer policy than this step acted on says this coordinator is
      // behind, not that the device failed: the next step sends the newer version.
      if (reply.code === 'ERR_POLICY_NEWER') return
      if (!reply.retryable && action === 'activate') this.note(peer, { state: 'Failed', reason: `${reply.code}: ${reply.message}`, policyVersion })
    })
  }

  private async forEach (peers: string[], fn: (peer: string) => Promise<void>): Promise<void> {
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < peers.length) {
        const peer = peers[next++]!
        try {
          await fn(peer)
        } catch (err) {
          this.log.debug('device unreachable', { peer, err })
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(this.init.concurrency, peers.length) }, worker))
  }
}

const KINDS = new Set<string>(['Pending', 'Downloading', 'Verifying', 'Loading', 'SmokeTest', 'Active', 'Failed', 'TimedOut', 'RollingBack', 'RolledBack'])

/** A state kind from the wire; anything else (NotStarted, unknown) is "holds nothing". */
export function asKind (state: string | undefined): DeviceStateKind | undefined {
  return state != null && KINDS.has(state) ? state as DeviceStateKind : undefined
}
