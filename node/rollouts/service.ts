/**
 * Rollouts on a node: the device agent, a coordinator per live rollout (idle unless this node is
 * elected), the replicated progress of every rollout (gossip on `tutti/rollout/1`, kept on every
 * node and handed to a new coordinator in promises), the `/tutti/rollout/1.0.0` handler, and the
 * admin methods `tutti apply / get rollouts / rollout ...` use.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { AdminErrorCode, AdminRequestError } from '../../protocols/admin/index.js'
import { adminParams, rolloutName } from '../admin-params.js'
import {
  ROLLOUT_PROGRESS_TOPIC, RolloutServer, openRolloutProgress, command as requestCommand, prepare as requestPrepare,
  report as requestReport, sealRolloutProgress, sealWaveCommand, MAX_PROGRESS_BYTES
} from '../../protocols/rollout/index.js'
import { MAX_HEARTBEAT_ROLLOUTS } from '../../protocols/heartbeat/index.js'
import { writeFileAtomic } from '../fs.js'
import { matchesSelector } from '../../core/selector.js'
import { RolloutAgent, AgentRefusal, isRetryableRefusal, retryDelayMs } from './agent.js'
import { RolloutCoordinator } from './coordinator.js'
import { hrwRank } from './hrw.js'
import { isNewerProgress } from './leadership.js'
import { planPreview } from './preview.js'
import { rolloutProgressSummary } from './plan.js'
import { rolloutSpecIssues } from './spec.js'
import { asKind } from './coordinator.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AgentServing, AgentRecord } from './agent.js'
import type { CoordinatorRpc, DeviceAnswer } from './coordinator.js'
import type { RolloutSpec } from './spec.js'
import type { RolloutProgressSummary } from './plan.js'
import type { MemberInfo } from '../membership/membership.js'
import type { PolicyService } from '../policy/service.js'
import type { VerifiedPolicy } from '../policy/document.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { HeartbeatRollout } from '../../protocols/heartbeat/index.js'
import type { DeviceReport, RolloutAcceptor, RolloutProgress } from '../../protocols/rollout/index.js'
import type { HeartbeatTransport } from '../membership/membership.js'
import type { Libp2p, PrivateKey, PeerId } from '@libp2p/interface'

/** The stream side of the mesh the rollout protocol needs. */
export type RolloutStreams = Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>

export interface RolloutServiceComponents {
  clock: Clock
  random: () => number
  logger: Logger
  peerId: string
  /** The node's own key: wave commands and progress are signed with it. */
  privateKey: PrivateKey
  streams: RolloutStreams
  peerIdFromString: (id: string) => PeerId
  pubsub: HeartbeatTransport
  policies: PolicyService
  serving: AgentServing
  view: () => MemberInfo[]
  /** This node's labels and live properties. */
  attributes: () => Record<string, string>
  /** Ask for a heartbeat soon: device state changed. */
  nudge?: () => void
  /**
   * Told when this node starts or stops leading at least one rollout (after a tick that changed
   * it): the node then hears every heartbeat shard first-hand (docs/HEARTBEATS.md). @default none
   */
  onLeading?: (leading: boolean) => void
}

export interface RolloutServiceInit {
  dataDir?: string
  /** How often every node re-decides, ms. @default 1000 */
  tickMs?: number
  /** Base heartbeat interval: a coordinator whose progress is older than 3 of these is presumed gone. @default 5000 */
  heartbeatMs?: number
}

interface Prefetch {
  controller?: AbortController
  attempt: number
  retryAtMs: number
  work: Promise<void>
}

interface ProgressEntry {
  progress: RolloutProgress
  envelope: Uint8Array
  receivedMs: number
}

const nameParams = z.object({ name: rolloutName })
/** A normalized spec, checked as validateRolloutSpec checks one (its issues keep their paths under `spec`). */
const specParam = z.unknown().optional().transform((value, ctx): RolloutSpec => {
  for (const issue of rolloutSpecIssues(value)) ctx.addIssue({ code: 'custom', message: issue.message, path: issue.path === '' || issue.path === '(document)' ? [] : [issue.path] })
  return value as RolloutSpec
})
const planParams = z.object({ name: rolloutName, spec: specParam })

export class RolloutService {
  readonly agent: RolloutAgent
  private readonly c: RolloutServiceComponents
  private readonly init: Required<Omit<RolloutServiceInit, 'dataDir'>> & { dataDir?: string }
  private readonly log: Logger
  private readonly coordinators = new Map<string, RolloutCoordinator>()
  private readonly progress = new Map<string, ProgressEntry>()
  private readonly history = new Map<string, Array<{ at: number, event: string, detail: Record<string, unknown> }>>()
  private timer?: { cancel: () => void }
  private server?: RolloutServer
  private running = false
  private ticking = false
  private tickAgain = false
  /** Whether this node led a rollout as of the last tick (what onLeading was last told). */
  private leadingAny = false
  /** When start() ran (this node's clock): the view settles for two intervals after it. */
  private startedMs = 0
  /** Prefetches by model CID: running (with a controller), or failed and waiting for retryAtMs. */
  private readonly prefetches = new Map<string, Prefetch>()
  /** The tick in progress, if any: stop() waits for it. */
  private tickRun?: Promise<void>
  /** Aborted by stop(): ends the messages a tick waits on. */
  private stopping = new AbortController()
  private readonly onPolicy = (): void => { this.schedule(0) }
  /** Requests this node's device answered from coordinators since start, by kind (what a coordinator's asking costs a device). */
  readonly served = { prepare: 0, command: 0, report: 0 }

  constructor (components: RolloutServiceComponents, init: RolloutServiceInit = {}) {
    this.c = components
    this.init = { tickMs: 1000, heartbeatMs: 5000, ...init }
    this.log = components.logger.child('rollouts')
    this.agent = new RolloutAgent({
      clock: components.clock,
      logger: components.logger,
      peerId: components.peerId,
      serving: components.serving,
      policy: name => this.policy(name),
      attributes: components.attributes,
      onChange: () => { components.nudge?.() }
    }, { stateFile: init.dataDir != null ? `${init.dataDir}/rollouts.json` : undefined })
  }

  async start (): Promise<void> {
    if (this.running) return
    await this.agent.start()
    await this.loadProgress()
    this.stopping = new AbortController()
    this.startedMs = this.c.clock.now()
    this.running = true
    this.server = new RolloutServer({ libp2p: this.c.streams, acceptor: this.acceptor(), clock: this.c.clock, logger: this.log })
    await this.server.start()
    this.c.pubsub.setValidator(ROLLOUT_PROGRESS_TOPIC, (_from, data) => data.byteLength <= MAX_PROGRESS_BYTES ? 'accept' : 'reject')
    this.c.pubsub.subscribe(ROLLOUT_PROGRESS_TOPIC, (from, data) => { void this.receiveProgress(from, data) })
    this.c.policies.addEventListener('policy:changed', this.onPolicy)
    this.schedule(0)
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.timer?.cancel()
    this.stopping.abort(new Error('the rollout service is stopping'))
    this.c.policies.removeEventListener('policy:changed', this.onPolicy)
    this.c.pubsub.unsubscribe(ROLLOUT_PROGRESS_TOPIC)
    this.c.pubsub.removeValidator(ROLLOUT_PROGRESS_TOPIC)
    // Nothing of this service writes to the data directory once stop() returns.
    for (const p of this.prefetches.values()) p.controller?.abort(new Error('the rollout service is stopping'))
    await Promise.allSettled([...this.prefetches.values()].map(async p => await p.work))
    await this.tickRun
    await this.savingProgress
    await this.server?.stop()
    this.server = undefined
    await this.agent.stop()
  }

  /**
   * The model CIDs that rollouts with `prefetch` want on this node now: a matching node, a
   * rollout neither deleted, undone nor over (aborted, rolled back), whose first step is done. The
   * canary wave downloads alone: the rest of the fleet downloading beside it would slow the one
   * wave that must be quick, and spend every target's bandwidth on a version the canary may abort.
   */
  private wantedPrefetches (): Set<string> {
    const wanted = new Set<string>()
    const serving = this.c.serving
    if (serving.prefetch == null) return wanted
    const attrs = this.c.attributes()
    for (const { doc } of this.c.policies.list()) {
      const spec = doc.spec as RolloutSpec
      if (spec?.strategy?.prefetch !== true || doc.control.deleted || doc.control.undo) continue
      const progress = this.progress.get(doc.name)?.progress
      if (progress == null || progress.cid !== spec.model.cid || progress.phase === 'Aborted' || progress.phase === 'RolledBack') continue
      if (progress.step < 1 && progress.phase !== 'Completed') continue
      if (!matchesSelector(spec.selector, attrs)) continue
      wanted.add(spec.model.cid)
    }
    return wanted
  }

  /** Starts the prefetches rollouts want and stops those no longer wanted (each tick). */
  private reconcilePrefetches (): void {
    const prefetch = this.c.serving.prefetch
    if (prefetch == null || !this.running) return
    const wanted = this.wantedPrefetches()
    const now = this.c.clock.now()
    for (const [cid, p] of this.prefetches) {
      if (!wanted.has(cid)) {
        p.controller?.abort(new Error('no rollout wants this model on this node any more'))
        if (p.controller == null) this.prefetches.delete(cid)
      }
    }
    for (const cid of wanted) {
      const held = this.prefetches.get(cid)
      if (held?.controller != null || (held != null && now < held.retryAtMs) || this.c.serving.isLocal(cid)) continue
      const controller = new AbortController()
      const attempt = held == null ? 0 : held.attempt + 1
      const entry: Prefetch = { controller, attempt, retryAtMs: 0, work: Promise.resolve() }
      this.prefetches.set(cid, entry)
      this.log.info('prefetching a rollout\'s model', { cid, attempt: attempt + 1 })
      entry.work = prefetch(cid, { signal: AbortSignal.any([controller.signal, this.stopping.signal]) }).then(() => {
        this.prefetches.delete(cid)
        this.log.info('rollout model prefetched', { cid })
        this.c.nudge?.()
      }, (err: unknown) => {
        entry.controller = undefined
        if (controller.signal.aborted || !this.running) {
          this.prefetches.delete(cid)
          return
        }
        // Tried again on a later tick: the network's doing or not, nothing is activated here.
        entry.retryAtMs = this.c.clock.now() + retryDelayMs(attempt)
        this.log.warn('prefetching a rollout\'s model failed', { cid, err, retryInMs: entry.retryAtMs - this.c.clock.now() })
      })
    }
  }

  /**
   * Model CIDs retention must keep on this node: those its rollout records activate or revert to,
   * and those a rollout with `prefetch` wants here (downloaded ahead, not active yet).
   */
  referencedCids (): string[] {
    return [...new Set([...this.agent.referencedCids(), ...this.wantedPrefetches()])]
  }

  /** Rollout state for heartbeats. */
  heartbeatRollouts (): HeartbeatRollout[] {
    return this.agent.heartbeatRollouts(MAX_HEARTBEAT_ROLLOUTS)
  }

  policy (name: string): VerifiedPolicy<RolloutSpec> | undefined {
    return this.c.policies.get(name) as VerifiedPolicy<RolloutSpec> | undefined
  }

  latestProgress (name: string): ProgressEntry | undefined {
    return this.progress.get(name)
  }

  /** Re-decide now (a member changed status, a policy arrived). */
  kick (): void {
    this.schedule(0)
  }

  private schedule (ms: number): void {
    if (!this.running) return
    this.timer?.cancel()
    this.timer = this.c.clock.setTimeout(() => { void this.tick() }, ms)
  }

  private async tick (): Promise<void> {
    if (!this.running) return
    if (this.ticking) {
      // Asked again mid-tick (a member went silent, a policy arrived): once more right after it.
      this.tickAgain = true
      return
    }
    this.ticking = true
    const run = this.tickOnce()
    this.tickRun = run
    await run
  }

  private async tickOnce (): Promise<void> {
    try {
      for (const { doc } of this.c.policies.list()) {
        if (!this.running) return
        if (doc.control.deleted) {
          this.coordinators.delete(doc.name)
          continue
        }
        await this.coordinatorFor(doc.name).tick({ signal: this.stopping.signal })
      }
      this.reconcilePrefetches()
      this.noteLeading()
    } catch (err) {
      this.log.warn('rollout tick failed', { err })
    } finally {
      this.ticking = false
      // Sooner than the regular tick when a coordinator here waits on devices or a bake window.
      const now = this.c.clock.now()
      let wait = this.tickAgain ? 0 : this.init.tickMs
      this.tickAgain = false
      for (const c of this.coordinators.values()) {
        const due = c.nextDueMs()
        if (due != null) wait = Math.min(wait, Math.max(MIN_TICK_MS, due - now))
      }
      this.schedule(wait)
    }
  }

  /** Whether a coordinator here leads a rollout now. */
  leading (): boolean {
    for (const c of this.coordinators.values()) if (c.status().leading) return true
    return false
  }

  private noteLeading (): void {
    const leading = this.leading()
    if (leading === this.leadingAny) return
    this.leadingAny = leading
    this.c.onLeading?.(leading)
  }

  private coordinatorFor (name: string): RolloutCoordinator {
    let c = this.coordinators.get(name)
    if (c == null) {
      c = new RolloutCoordinator(name, {
        clock: this.c.clock,
        random: this.c.random,
        logger: this.c.logger,
        peerId: this.c.peerId,
        view: this.c.view,
        policy: () => this.policy(name)?.doc,
        latestProgress: () => this.progress.get(name),
        ownPromised: () => this.agent.get(name)?.acceptor.promised ?? 0,
        rpc: this.rpc(),
        publishProgress: async progress => { await this.publishProgress(progress) },
        // Two intervals after a (re)start: every live member's heartbeat, and a live
        // coordinator's progress, has reached this node by then.
        settling: () => this.c.clock.now() - this.startedMs < 2 * this.init.heartbeatMs
      }, {
        // A coordinator that stops (crash, pause, partition) goes suspect after 3 heartbeat
        // intervals, and that is what hands the rollout on. Stale progress from a coordinator
        // still heard alive is the backstop for one that is stuck: at 10 intervals, so that a
        // busy event loop publishing late does not hand the rollout back and forth.
        staleAfterMs: 10 * this.init.heartbeatMs,
        progressEveryMs: this.init.heartbeatMs,
        fencedBackoffMs: 3 * this.init.heartbeatMs
      })
      this.coordinators.set(name, c)
    }
    return c
  }

  /** Progress this node publishes as coordinator: signed, stored locally first, then gossiped. */
  private async publishProgress (progress: RolloutProgress): Promise<void> {
    const envelope = await sealRolloutProgress(progress, this.c.privateKey)
    this.storeProgress(progress, envelope)
    await this.c.pubsub.publish(ROLLOUT_PROGRESS_TOPIC, envelope)
  }

  private async receiveProgress (from: string, data: Uint8Array): Promise<void> {
    try {
      const { progress } = await openRolloutProgress(data)
      if (!this.running) return
      this.storeProgress(progress, data)
    } catch (err) {
      this.log.debug('ignored rollout progress', { from, err })
    }
  }

  private storeProgress (progress: RolloutProgress, envelope: Uint8Array): boolean {
    const held = this.progress.get(progress.rollout)
    if (!isNewerProgress(progress, held?.progress)) return false
    if (held?.progress.phase !== progress.phase) this.record(progress.rollout, `phase ${progress.phase}`, { epoch: progress.epoch, coordinator: progress.coordinator, step: progress.step, message: progress.message, trip: progress.trip })
    if (held != null && held.progress.coordinator !== progress.coordinator) this.record(progress.rollout, 'coordinator changed', { from: held.progress.coordinator, to: progress.coordinator, epoch: progress.epoch })
    this.progress.set(progress.rollout, { progress, envelope, receivedMs: this.c.clock.now() })
    void this.saveProgress()
    return true
  }

  private record (rollout: string, event: string, detail: Record<string, unknown>): void {
    const list = this.history.get(rollout) ?? []
    list.push({ at: this.c.clock.now(), event, detail })
    if (list.length > 100) list.splice(0, list.length - 100)
    this.history.set(rollout, list)
  }

  private async loadProgress (): Promise<void> {
    if (this.init.dataDir == null) return
    let raw: Buffer
    try {
      raw = await readFile(`${this.init.dataDir}/rollout-progress.json`)
    } catch {
      return
    }
    try {
      const doc = JSON.parse(raw.toString('utf8')) as { version: 1, entries: Record<string, string> }
      for (const b64 of Object.values(doc.entries ?? {})) {
        const envelope = Buffer.from(b64, 'base64')
        const { progress } = await openRolloutProgress(envelope)
        this.progress.set(progress.rollout, { progress, envelope, receivedMs: 0 })
      }
    } catch (err) {
      this.log.warn('ignoring an unreadable rollout progress file', { err })
    }
  }

  private savingProgress?: Promise<void>
  private async saveProgress (): Promise<void> {
    if (this.init.dataDir == null) return
    const file = `${this.init.dataDir}/rollout-progress.json`
    const write = async (): Promise<void> => {
      const entries = Object.fromEntries([...this.progress].map(([k, v]) => [k, Buffer.from(v.envelope).toString('base64')]))
      await writeFileAtomic(file, JSON.stringify({ version: 1, entries }) + '\n')
    }
    this.savingProgress = (this.savingProgress ?? Promise.resolve()).then(write, write).catch(err => { this.log.warn('could not persist rollout progress', { err }) })
    await this.savingProgress
  }

  /** Devices answer the coordinator over `/tutti/rollout/1.0.0`. */
  private acceptor (): RolloutAcceptor {
    return {
      prepare: async (from, req) => {
        this.served.prepare++
        const answer = await this.agent.prepare(req.rollout, req.epoch, from)
        return {
          ok: answer.ok,
          promisedEpoch: answer.promisedEpoch,
          promisedTo: answer.promisedTo ?? '',
          device: toReport(answer.record),
          progress: this.progress.get(req.rollout)?.envelope ?? new Uint8Array()
        }
      },
      command: async (_from, _envelope, { verified }) => {
        this.served.command++
        const { cmd } = verified
        try {
          const record = await this.agent.command(cmd)
          return { ok: true, code: '', message: '', device: toReport(record) }
        } catch (err) {
          if (!(err instanceof AgentRefusal)) throw err
          const record = this.agent.get(cmd.rollout)
          return { ok: false, code: err.code, message: err.message, device: record == null ? undefined : toReport(record) }
        }
      },
      report: async (_from, rollout) => {
        this.served.report++
        const record = this.agent.get(rollout)
        return record == null ? emptyReport(rollout) : toReport(record)
      }
    }
  }

  /** Messages to devices; this node's own device is reached directly. */
  private rpc (): CoordinatorRpc {
    const self = this.c.peerId
    const dial = this.c.streams
    return {
      prepare: async (peer, rollout, policyVersion, epoch, options) => {
        if (peer === self) {
          const a = await this.agent.prepare(rollout, epoch, self)
          const progress = this.progress.get(rollout)?.progress
          return a.ok
            ? { kind: 'promised', device: answerOf(a.record), progress }
            : { kind: 'rejected', promisedEpoch: a.promisedEpoch, promisedTo: a.promisedTo, device: answerOf(a.record), progress }
        }
        const p = await requestPrepare(dial, this.c.peerIdFromString(peer), { rollout, policyVersion, epoch }, { ...options, clock: this.c.clock })
        let progress: RolloutProgress | undefined
        if (p.progress.byteLength > 0) {
          try {
            progress = (await openRolloutProgress(p.progress)).progress
          } catch (err) {
            this.log.debug('a promise carried unreadable progress', { peer, err })
          }
        }
        const device = fromReport(p.device)
        return p.ok
          ? { kind: 'promised', device, progress }
          : { kind: 'rejected', promisedEpoch: p.promisedEpoch, promisedTo: p.promisedTo === '' ? undefined : p.promisedTo, device, progress }
      },
      command: async (peer, cmd, options) => {
        const wave = { kind: 'WaveCommand' as const, ...cmd, coordinator: self, issuedAt: this.c.clock.now() }
        if (peer === self) {
          try {
            const record = await this.agent.command(wave)
            return { kind: 'accepted', device: answerOf(record) }
          } catch (err) {
            if (err instanceof AgentRefusal) return { kind: 'refused', code: err.code, message: err.message, retryable: err.retryable, promisedEpoch: this.agent.get(cmd.rollout)?.acceptor.promised }
            throw err
          }
        }
        const envelope = await sealWaveCommand(wave, this.c.privateKey)
        const ack = await requestCommand(dial, this.c.peerIdFromString(peer), envelope, { ...options, clock: this.c.clock })
        if (ack.ok && ack.device != null) return { kind: 'accepted', device: fromReport(ack.device) }
        return { kind: 'refused', code: ack.code, message: ack.message, retryable: isRetryableRefusal(ack.code) }
      },
      report: async (peer, rollout, options) => {
        if (peer === self) {
          const r = this.agent.get(rollout)
          return r == null ? undefined : answerOf(r)
        }
        return fromReport(await requestReport(dial, this.c.peerIdFromString(peer), rollout, { ...options, clock: this.c.clock }))
      }
    }
  }

  /** What `tutti get rollouts` / `rollout status` show, as this node knows it. */
  status (name: string): RolloutStatus | undefined {
    const verified = this.policy(name)
    if (verified == null) return undefined
    const doc = verified.doc
    const spec = doc.spec
    const view = this.c.view()
    const entry = this.progress.get(name)
    const devices: RolloutStatus['devices'] = []
    for (const m of view) {
      const r = m.self ? this.agent.heartbeatRollouts(MAX_HEARTBEAT_ROLLOUTS).find(x => x.name === name) : m.rollouts?.find(x => x.name === name)
      const matches = matchesSelector(spec.selector, { ...m.props, ...m.labels })
      if (r == null && !matches) continue
      devices.push({ peerId: m.peerId, status: m.status, matches, state: r?.state ?? 'NotStarted', reason: r?.reason ?? '', policyVersion: r?.policyVersion ?? 0, model: m.models.find(x => x.cid === spec.model.cid) })
    }
    const live = view.filter(m => m.self || m.status === 'alive').map(m => m.peerId)
    return {
      name,
      version: doc.version,
      issuedAt: doc.issuedAt,
      signer: verified.signer,
      spec,
      control: doc.control,
      progress: entry?.progress,
      progressAgeMs: entry == null ? undefined : this.c.clock.now() - entry.receivedMs,
      candidates: hrwRank(name, live).slice(0, 3),
      devices,
      summary: rolloutProgressSummary(devices.filter(d => d.matches && d.status !== 'dead').map(d => d.peerId), new Map(devices.flatMap(d => {
        const kind = asKind(d.state)
        return kind === undefined ? [] : [[d.peerId, kind] as const]
      })))
    }
  }

  adminHandlers (): Record<string, AdminHandler> {
    const name = (params: Record<string, unknown>): string => adminParams(nameParams, params).name
    return {
      'rollouts.list': async () => ({ observer: this.c.peerId, rollouts: this.c.policies.list().map(p => this.status(p.doc.name)).filter(s => s != null) }),
      'rollouts.get': async params => {
        const status = this.status(name(params))
        if (status == null) throw new AdminRequestError(AdminErrorCode.NotFound, `rollout ${name(params)} is not known to ${this.c.peerId}`)
        return { observer: this.c.peerId, rollout: status }
      },
      'rollouts.history': async params => {
        const n = name(params)
        if (this.policy(n) == null) throw new AdminRequestError(AdminErrorCode.NotFound, `rollout ${n} is not known to ${this.c.peerId}`)
        return { observer: this.c.peerId, name: n, events: this.history.get(n) ?? [] }
      },
      'rollouts.plan': async params => {
        const { name, spec } = adminParams(planParams, params)
        const view = this.c.view().filter(m => m.self || m.status === 'alive')
        return { observer: this.c.peerId, plan: planPreview(name, spec, view.map(m => ({ peerId: m.peerId, attributes: { ...m.props, ...m.labels } }))) }
      }
    }
  }
}

/** The shortest wait between two decisions, ms: bounds the work a busy rollout causes. */
const MIN_TICK_MS = 20

export interface RolloutStatus {
  name: string
  version: number
  issuedAt: string
  signer: string
  spec: RolloutSpec
  control: VerifiedPolicy['doc']['control']
  progress?: RolloutProgress
  progressAgeMs?: number
  candidates: string[]
  devices: Array<{ peerId: string, status: string, matches: boolean, state: string, reason: string, policyVersion: number, model?: unknown }>
  summary: RolloutProgressSummary
}

function toReport (r: AgentRecord): DeviceReport {
  return {
    rollout: r.rollout,
    policyVersion: r.policyVersion,
    state: r.device?.kind ?? 'NotStarted',
    reason: (r.device as { reason?: string } | undefined)?.reason ?? '',
    cid: r.cid ?? '',
    previousCid: r.previous?.cid ?? '',
    updatedMs: r.updatedMs
  }
}

function emptyReport (rollout: string): DeviceReport {
  return { rollout, policyVersion: 0, state: 'NotStarted', reason: '', cid: '', previousCid: '', updatedMs: 0 }
}

function answerOf (r: AgentRecord): DeviceAnswer {
  return { state: r.device?.kind, reason: (r.device as { reason?: string } | undefined)?.reason, policyVersion: r.policyVersion, cid: r.cid }
}

function fromReport (r: DeviceReport): DeviceAnswer {
  return { state: asKind(r.state), reason: r.reason === '' ? undefined : r.reason, policyVersion: r.policyVersion, cid: r.cid === '' ? undefined : r.cid }
}
