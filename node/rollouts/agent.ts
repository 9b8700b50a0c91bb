/**
 * The device side of rollouts, on every node: the epoch acceptor (promise / accept, persisted), the
 * checks a wave command must pass against the admin-signed policy, and the execution of a command
 * through the one activation path (`Serving`), with the device state machine and its persistence.
 *
 * A coordinator can only say "activate policy version V here" or "revert here": which model, which
 * limits and which devices come from the policy an admin signed, never from the command.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { TuttiError } from '../../core/errors.js'
import { delay, timeoutSignal } from '../../core/abort.js'
import { FetchErrorCode } from '../fetcher/errors.js'
import { writeFileAtomic } from '../fs.js'
import { matchesSelector } from '../../core/selector.js'
import { onCommand, onPrepare } from './epoch.js'
import { isFinal, transition } from './device.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { DeviceEvent, DeviceState } from './device.js'
import type { AcceptorState } from './epoch.js'
import type { RolloutSpec } from './spec.js'
import type { ResourceLimits } from '../inference/limits.js'
import type { VerifiedPolicy } from '../policy/document.js'
import type { HeartbeatRollout } from '../../protocols/heartbeat/index.js'
import type { AbortOptions } from '@libp2p/interface'

/** What the agent needs of serving: the activation path and what runs now. */
export interface AgentServing {
  /** Activates a version (fetching it if needed), reporting phases as it goes. */
  activate(ref: string, limits: ResourceLimits, options: AbortOptions & { onPhase?: (phase: ActivationPhase) => void, localOnly?: boolean, expect?: { name?: string, version?: string } }): Promise<unknown>
  deactivate(name: string, options?: AbortOptions): Promise<void>
  /** The active version of a model on this node, if any. */
  activeOf(name: string): { version: string, cid: string, limits: ResourceLimits } | undefined
  /** Whether a version is complete in the local store (a rollback needs no download). */
  isLocal(cid: string): boolean
  /** Downloads a version into the store without activating it (a rollout's `prefetch`). */
  prefetch?(cid: string, options: AbortOptions): Promise<void>
}

export type ActivationPhase = 'downloading' | 'verifying' | 'loading' | 'smoke-test'

export interface AgentComponents {
  clock: Clock
  logger: Logger
  peerId: string
  serving: AgentServing
  /** The admin-signed policy this node holds for a rollout. */
  policy: (name: string) => VerifiedPolicy | undefined
  /** This node's labels and live properties, for the selector (labels win on a clash). */
  attributes: () => Record<string, string>
  /** Called after any record changed (heartbeat-worthy). */
  onChange?: (rollout: string) => void
}

export interface AgentInit {
  /** Where records persist (JSON). Without it they live in memory only. */
  stateFile?: string
}

/** What ran on this device before a rollout changed it: where a revert goes back to. */
export interface PreviousVersion {
  version: string
  cid: string
  limits: ResourceLimits
}

/** Everything this device knows of one rollout, persisted across restarts. */
export interface AgentRecord {
  rollout: string
  /** The policy version of the last command acted on. */
  policyVersion: number
  acceptor: AcceptorState
  /** Undefined until the first command of this rollout reaches this device. */
  device?: DeviceState
  /** Manifest CID this rollout put here (set on activate). */
  cid?: string
  model?: string
  /** What ran before; null when nothing of that model did. Set once, at the first activate. */
  previous?: PreviousVersion | null
  /** Receiver clock of the last change, ms. */
  updatedMs: number
}

export const AgentErrorCode = {
  StaleEpoch: 'ERR_STALE_EPOCH',
  PolicyUnknown: 'ERR_POLICY_UNKNOWN',
  PolicyNewer: 'ERR_POLICY_NEWER',
  PolicyEnded: 'ERR_POLICY_ENDED',
  NotTarget: 'ERR_NOT_TARGET',
  NothingToRevert: 'ERR_NOTHING_TO_REVERT',
  BadCommand: 'ERR_BAD_COMMAND'
} as const

/**
 * What the agent logs (info) for every epoch promised and every command accepted or refused, with
 * `{ rollout, epoch, coordinator }` (plus `action` or `code`): the simulator's real-node runner
 * rebuilds its history from these lines (sim/real/fleet.ts), in-process or from a `node.log`.
 */
export const AGENT_LOG = {
  promised: 'rollout epoch promised',
  accepted: 'rollout command accepted',
  refused: 'rollout command refused'
} as const

/** Refusals a later try can succeed past: the device or the coordinator does not hold the newest policy yet. */
export function isRetryableRefusal (code: string): boolean {
  return code === AgentErrorCode.PolicyUnknown || code === AgentErrorCode.PolicyNewer
}

/** Download failures a later try can get past: no holder answered, or the transfer stalled. */
export function isTransientDownloadFailure (err: unknown): boolean {
  const code = (err as { code?: unknown } | undefined)?.code
  return code === FetchErrorCode.NoProviders || code === FetchErrorCode.Stalled
}

/** The wait before retry `attempt` (0-based) of a failed download: 1 s, doubling, at most 30 s. */
export function retryDelayMs (attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(attempt, 15))
}

/** A command refused by this device; `retryable` when a later try can succeed (see {@link isRetryableRefusal}). */
export class AgentRefusal extends TuttiError {
  constructor (code: typeof AgentErrorCode[keyof typeof AgentErrorCode], message: string, retryable = false) {
    super(code, message, { retryable })
    this.name = 'AgentRefusal'
  }
}

/** What {@link checkCommand} looks at: the policy held, this device's record, the command. */
export interface CommandCheckInput {
  /** The policy this device holds for the rollout (verified), if any. */
  policy?: { version: number, control: { deleted: boolean, undo: boolean }, spec: Pick<RolloutSpec, 'selector' | 'model'> }
  record: Pick<AgentRecord, 'acceptor' | 'cid' | 'device'>
  cmd: Pick<CommandInput, 'rollout' | 'policyVersion' | 'epoch' | 'coordinator' | 'action'>
  /** This device's labels and live properties. */
  attributes: Record<string, string>
  /** An activation (or a revert) of this rollout runs on this device now. */
  activating: boolean
  reverting: boolean
}

/** A command this device must refuse, or accept: the acceptor state to keep and what to start. */
export type CommandCheck =
  | { kind: 'refuse', code: typeof AgentErrorCode[keyof typeof AgentErrorCode], message: string, retryable: boolean }
  | { kind: 'accept', acceptor: AcceptorState, setPolicyVersion: boolean, start: 'activation' | 'revert' | 'none' }

/**
 * The checks a wave command must pass on a device, in order (docs/ROLLOUTS.md, "Trust model"):
 * the policy held (at the command's version, not deleted), the epoch rules (`onCommand`), then
 * for an activation the undo flag and the selector over the device's own attributes, for a revert
 * that the rollout changed something here. An accepted activation starts nothing when one runs
 * already or the device has settled on this CID (Active, or Failed / TimedOut / RolledBack: no
 * retry within a generation). Pure; the agent persists and acts on the answer.
 */
export function checkCommand (input: CommandCheckInput): CommandCheck {
  const { policy, record, cmd } = input
  const refuse = (code: typeof AgentErrorCode[keyof typeof AgentErrorCode], message: string, retryable = false): CommandCheck => ({ kind: 'refuse', code, message, retryable })
  if (policy == null) return refuse(AgentErrorCode.PolicyUnknown, `this node holds no policy for rollout ${cmd.rollout} (yet)`, true)
  if (policy.version < cmd.policyVersion) return refuse(AgentErrorCode.PolicyUnknown, `this node holds version ${policy.version} of ${cmd.rollout}, the command is for ${cmd.policyVersion}`, true)
  // The coordinator is behind, not this device: it retries once the newer version reaches it.
  if (policy.version > cmd.policyVersion) return refuse(AgentErrorCode.PolicyNewer, `this node holds version ${policy.version} of ${cmd.rollout}, newer than the command's ${cmd.policyVersion}`, true)
  if (policy.control.deleted) return refuse(AgentErrorCode.PolicyEnded, `rollout ${cmd.rollout} is deleted`)
  const fence = onCommand(record.acceptor, cmd.epoch, cmd.coordinator)
  if (fence.kind !== 'accepted') {
    return refuse(AgentErrorCode.StaleEpoch, `epoch ${cmd.epoch} from ${cmd.coordinator} is stale: this node promised epoch ${record.acceptor.promised}${record.acceptor.promisedTo != null ? ` to ${record.acceptor.promisedTo}` : ''}`)
  }
  if (cmd.action === 'activate') {
    if (policy.control.undo) return refuse(AgentErrorCode.PolicyEnded, `rollout ${cmd.rollout} is being undone`)
    if (!matchesSelector(policy.spec.selector, input.attributes)) return refuse(AgentErrorCode.NotTarget, `this node does not match the selector of ${cmd.rollout}`)
    const done = record.device?.kind === 'Active' && record.cid === policy.spec.model.cid
    // Failed and TimedOut devices are not retried within one generation of the rollout.
    const settled = record.cid === policy.spec.model.cid && (record.device?.kind === 'Failed' || record.device?.kind === 'TimedOut' || record.device?.kind === 'RolledBack')
    const busy = input.activating || input.reverting
    return { kind: 'accept', acceptor: fence.state, setPolicyVersion: true, start: !busy && !done && !settled ? 'activation' : 'none' }
  }
  if (record.device?.kind === 'RolledBack') return { kind: 'accept', acceptor: fence.state, setPolicyVersion: false, start: 'none' }
  if (record.cid == null) return refuse(AgentErrorCode.NothingToRevert, `rollout ${cmd.rollout} changed nothing on this node`)
  return { kind: 'accept', acceptor: fence.state, setPolicyVersion: true, start: input.reverting ? 'none' : 'revert' }
}

export interface PrepareAnswer {
  ok: boolean
  promisedEpoch: number
  promisedTo?: string
  record: AgentRecord
}

export interface CommandInput {
  rollout: string
  policyVersion: number
  epoch: number
  coordinator: string
  action: 'activate' | 'revert'
}

const MAX_STATE_BYTES = 4 * 1024 * 1024
const MAX_REASON = 120

const limitsSchema = z.object({ cpu: z.union([z.string(), z.number()]).optional(), memory: z.union([z.string(), z.number()]).optional() })
const stateFileSchema = z.object({
  version: z.literal(1),
  records: z.record(z.string(), z.object({
    rollout: z.string(),
    policyVersion: z.number().int().nonnegative(),
    acceptor: z.object({ promised: z.number().int().nonnegative(), promisedTo: z.string().optional() }),
    device: z.object({ kind: z.enum(['Pending', 'Downloading', 'Verifying', 'Loading', 'SmokeTest', 'Active', 'Failed', 'TimedOut', 'RollingBack', 'RolledBack']), reason: z.string().optional() }).optional(),
    cid: z.string().optional(),
    model: z.string().optional(),
    previous: z.object({ version: z.string(), cid: z.string(), limits: limitsSchema }).nullable().optional(),
    updatedMs: z.number()
  }))
})

/**
 * Executes rollout commands on this device. Commands return at once with the device's state;
 * the activation runs in the background under the policy's activation timeout.
 */
export class RolloutAgent {
  private readonly c: AgentComponents
  private readonly init: AgentInit
  private readonly log: Logger
  private readonly records = new Map<string, AgentRecord>()
  private readonly running = new Map<string, AbortController>()
  private readonly inflight = new Set<Promise<void>>()
  private saving: Promise<void> = Promise.resolve()
  private stopped = false

  constructor (components: AgentComponents, init: AgentInit = {}) {
    this.c = components
    this.init = init
    this.log = components.logger.child('rollout-agent')
  }

  /** Loads persisted records. A device that was mid-activation when it stopped waits to be dispatched again. */
  async start (): Promise<void> {
    this.stopped = false
    if (this.init.stateFile == null) return
    let raw: Buffer
    try {
      raw = await readFile(this.init.stateFile)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    try {
      if (raw.byteLength > MAX_STATE_BYTES) throw new Error(`larger than ${MAX_STATE_BYTES} bytes`)
      const doc = stateFileSchema.parse(JSON.parse(raw.toString('utf8')))
      for (const [name, r] of Object.entries(doc.records)) {
        const record = r as AgentRecord
        if (record.device != null && !isFinal(record.device.kind) && record.device.kind !== 'RollingBack') {
          // Interrupted mid-activation by a restart: as if never dispatched, so the coordinator
          // dispatches it again (the download resumes from the chunks already verified). What ran
          // before is kept, so a revert still knows where to go.
          this.log.info('a rollout activation was interrupted by a restart; waiting to be dispatched again', { rollout: name, was: record.device.kind })
          record.device = undefined
        } else if (record.device?.kind === 'RollingBack') {
          // Which version serves is not certain: count it as updated, so the coordinator sends the
          // revert again (reverting twice is harmless: the previous version is local).
          record.device = { kind: 'Active' }
        }
        this.records.set(name, record)
      }
    } catch (err) {
      this.log.error('ignoring an unreadable rollout state file', { file: this.init.stateFile, err })
    }
  }

  async stop (): Promise<void> {
    this.stopped = true
    for (const controller of this.running.values()) controller.abort(new TuttiError('ERR_STOPPED', 'the node is stopping'))
    await Promise.allSettled([...this.inflight])
    await this.saving
  }

  get (rollout: string): AgentRecord | undefined {
    const r = this.records.get(rollout)
    return r == null ? undefined : structuredClone(r)
  }

  list (): AgentRecord[] {
    return [...this.records.values()].map(r => structuredClone(r))
  }

  /**
   * Manifest CIDs a rollout on this device may still need: the version it put here and the one
   * it would revert to. Retention keeps them; a rollout whose policy is deleted needs none.
   */
  referencedCids (): string[] {
    const out = new Set<string>()
    for (const r of this.records.values()) {
      if (this.c.policy(r.rollout)?.doc.control.deleted === true) continue
      if (r.cid != null) out.add(r.cid)
      if (r.previous != null) out.add(r.previous.cid)
    }
    return [...out]
  }

  /** What heartbeats carry: the newest records first, at most `max`. */
  heartbeatRollouts (max: number): HeartbeatRollout[] {
    return [...this.records.values()]
      .sort((a, b) => b.updatedMs - a.updatedMs)
      .slice(0, max)
      .filter(r => r.device != null)
      .map(r => ({
        name: r.rollout,
        policyVersion: r.policyVersion,
        state: r.device!.kind,
        reason: shortReason(r.device),
        epoch: r.acceptor.promised
      }))
  }

  /** Phase 1: promise an epoch, or say which higher one this device promised. */
  async prepare (rollout: string, epoch: number, from: string): Promise<PrepareAnswer> {
    const record = this.recordFor(rollout)
    const result = onPrepare(record.acceptor, epoch, from)
    if (result.kind === 'promised') {
      record.acceptor = result.state
      await this.persist(rollout)
      if (result.changed) this.log.info(AGENT_LOG.promised, { rollout, epoch, coordinator: from })
      return { ok: true, promisedEpoch: epoch, promisedTo: from, record: structuredClone(record) }
    }
    return { ok: false, promisedEpoch: record.acceptor.promised, promisedTo: record.acceptor.promisedTo, record: structuredClone(record) }
  }

  /**
   * A verified wave command (its envelope's signer is `cmd.coordinator`). Throws
   * {@link AgentRefusal} when it must not be applied; otherwise starts it and returns the record.
   */
  async command (cmd: CommandInput): Promise<AgentRecord> {
    const verified = this.c.policy(cmd.rollout)
    const record = this.recordFor(cmd.rollout)
    const check = checkCommand({
      policy: verified?.doc == null ? undefined : { version: verified.doc.version, control: verified.doc.control, spec: verified.doc.spec as RolloutSpec },
      record,
      cmd,
      attributes: this.c.attributes(),
      activating: this.running.has(cmd.rollout),
      reverting: this.running.has(`${cmd.rollout}:revert`)
    })
    if (check.kind === 'refuse') {
      this.log.info(AGENT_LOG.refused, { rollout: cmd.rollout, epoch: cmd.epoch, coordinator: cmd.coordinator, code: check.code })
      throw new AgentRefusal(check.code, check.message, check.retryable)
    }
    this.log.info(AGENT_LOG.accepted, { rollout: cmd.rollout, epoch: cmd.epoch, coordinator: cmd.coordinator, action: cmd.action })
    record.acceptor = check.acceptor
    if (check.setPolicyVersion) record.policyVersion = cmd.policyVersion
    const spec = verified!.doc.spec as RolloutSpec
    if (check.start === 'activation') this.startActivation(record, spec)
    else if (check.start === 'revert') {
      this.running.get(cmd.rollout)?.abort(new TuttiError('ERR_REVERTING', 'the rollout is being reverted'))
      this.startRevert(record, spec)
    }
    await this.persist(cmd.rollout)
    return structuredClone(record)
  }

  private recordFor (rollout: string): AgentRecord {
    let record = this.records.get(rollout)
    if (record == null) {
      record = { rollout, policyVersion: 0, acceptor: { promised: 0 }, updatedMs: this.c.clock.now() }
      this.records.set(rollout, record)
    }
    return record
  }

  private apply (record: AgentRecord, event: DeviceEvent): void {
    const next = transition(record.device, event)
    if (!next.ok) {
      this.log.warn('ignored an invalid device transition', { rollout: record.rollout, from: next.from, event: event.type })
      return
    }
    record.device = next.state
    record.updatedMs = this.c.clock.now()
    this.c.onChange?.(record.rollout)
    void this.persist(record.rollout)
  }

  private track (key: string, controller: AbortController, work: Promise<void>): void {
    this.running.set(key, controller)
    const p = work.finally(() => {
      if (this.running.get(key) === controller) this.running.delete(key)
      this.inflight.delete(p)
    })
    this.inflight.add(p)
  }

  private startActivation (record: AgentRecord, spec: RolloutSpec): void {
    const modelName = spec.model.name
    const cid = spec.model.cid
    if (record.cid !== cid) {
      // A new generation of this rollout (or its first command here): what runs now is "old".
      const current = modelName != null ? this.c.serving.activeOf(modelName) : undefined
      record.previous = current != null && current.cid !== cid ? { version: current.version, cid: current.cid, limits: current.limits } : null
      if (record.device != null && record.device.kind !== 'Pending') record.device = undefined
    }
    record.cid = cid
    record.model = modelName
    this.apply(record, { type: 'dispatched' })
    const controller = new AbortController()
    const signal = timeoutSignal(this.c.clock, spec.strategy.activationTimeoutMs, { signal: controller.signal, reason: `activation took longer than ${spec.strategy.activationTimeoutMs} ms` })
    const limits: ResourceLimits = { ...spec.resources.limits }
    const work = (async () => {
      try {
        for (let attempt = 0; ; attempt++) {
          try {
            await this.c.serving.activate(cid, limits, {
              signal,
              expect: { name: spec.model.name, version: spec.model.version },
              onPhase: phase => {
                // A retried download starts again in the state it is already in.
                if (phase === 'downloading' && record.device?.kind === 'Downloading') return
                const event: DeviceEvent | undefined = phase === 'downloading'
                  ? { type: 'downloadStarted' }
                  : phase === 'verifying' ? { type: 'downloaded' } : phase === 'loading' ? { type: 'verified' } : { type: 'loaded' }
                if (event != null) this.apply(record, event)
              }
            })
            break
          } catch (err) {
            // No holder reachable, or a stalled transfer: the network's doing (a partition, a
            // restart), not the version's. Try again until activationTimeout says otherwise.
            if (!isTransientDownloadFailure(err) || signal.aborted || this.stopped) throw err
            const waitMs = retryDelayMs(attempt)
            this.log.info('model download failed; retrying', { rollout: record.rollout, cid, attempt: attempt + 1, inMs: waitMs, err })
            await delay(this.c.clock, waitMs, signal)
          }
        }
        // A model without a sample input has no smoke test: loaded is the last phase reported.
        if (record.device?.kind === 'Loading') this.apply(record, { type: 'loaded' })
        this.apply(record, { type: 'smokePassed' })
        this.log.info('rollout version active', { rollout: record.rollout, cid })
      } catch (err) {
        if (this.stopped) return
        if (signal.aborted && !controller.signal.aborted) {
          this.apply(record, { type: 'timedOut' })
          this.log.warn('rollout activation timed out', { rollout: record.rollout, cid, afterMs: spec.strategy.activationTimeoutMs })
        } else if (controller.signal.aborted) {
          // superseded by a revert: the revert records the outcome
        } else {
          this.apply(record, { type: 'failed', reason: reasonOf(err) })
          this.log.warn('rollout activation failed', { rollout: record.rollout, cid, err })
        }
      } finally {
        signal.clear()
      }
    })()
    this.track(record.rollout, controller, work)
  }

  private startRevert (record: AgentRecord, spec: RolloutSpec): void {
    this.apply(record, { type: 'revertStarted' })
    const controller = new AbortController()
    const signal = timeoutSignal(this.c.clock, spec.strategy.activationTimeoutMs, { signal: controller.signal, reason: `revert took longer than ${spec.strategy.activationTimeoutMs} ms` })
    const previous = record.previous
    const work = (async () => {
      try {
        if (previous == null) {
          if (record.model != null) await this.c.serving.deactivate(record.model, { signal })
        } else {
          if (!this.c.serving.isLocal(previous.cid)) throw new TuttiError('ERR_PREVIOUS_GONE', `the previous version ${previous.version} is no longer in the local store`)
          await this.c.serving.activate(previous.cid, previous.limits, { signal, localOnly: true })
        }
        this.apply(record, { type: 'reverted' })
        this.log.info('rollout reverted on this device', { rollout: record.rollout, to: previous?.version ?? 'nothing' })
      } catch (err) {
        if (this.stopped) return
        this.apply(record, { type: 'failed', reason: `revert failed: ${reasonOf(err)}` })
        this.log.error('rollout revert failed', { rollout: record.rollout, err })
      } finally {
        signal.clear()
      }
    })()
    this.track(`${record.rollout}:revert`, controller, work)
  }

  private async persist (rollout: string): Promise<void> {
    if (this.init.stateFile == null) return
    const file = this.init.stateFile
    const write = async (): Promise<void> => {
      const doc = { version: 1, records: Object.fromEntries(this.records) }
      await writeFileAtomic(file, JSON.stringify(doc, null, 2) + '\n')
    }
    this.saving = this.saving.then(write, write).catch(err => {
      this.log.error('could not persist rollout state', { rollout, err })
    })
    await this.saving
  }
}

function reasonOf (err: unknown): string {
  const e = err as { code?: string, message?: string }
  const text = `${e?.code != null ? `${e.code}: ` : ''}${e?.message ?? String(err)}`
  return text.slice(0, MAX_REASON)
}

function shortReason (device: DeviceState | undefined): string {
  const reason = (device as { reason?: string }).reason
  return reason == null ? '' : reason.slice(0, MAX_REASON)
}
