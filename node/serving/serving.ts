/**
 * Where the model store meets the inference runtime: activating NAME@VERSION fetches the package
 * if needed, loads it under its limits, moves traffic to it (hot swap), records it as the store's
 * active version (the previous one is kept for rollback), and persists the choice so a restarted
 * node serves the same models. The manual path (`tutti model activate`) and, later, rollouts use
 * this same code.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { TuttiError } from '../../core/errors.js'
import { formatIssues, schemaIssues } from '../../core/schema.js'
import { asAdminError } from '../admin-errors.js'
import { adminParams, boundedString, modelRef } from '../admin-params.js'
import { writeFileAtomic } from '../fs.js'
import { ModelErrorCode, ModelMismatchError } from '../models/errors.js'
import { refParts } from '../models/versions.js'
import { InferenceError, InferenceErrorCode } from '../inference/errors.js'
import { isManifestCid } from '../../core/cid.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { HeartbeatModel } from '../../protocols/heartbeat/index.js'
import type { InferenceRuntime, VersionStatus } from '../inference/runtime.js'
import type { ResourceLimits } from '../inference/limits.js'
import type { Logger } from '../../core/logger.js'
import type { ModelService } from '../models/service.js'
import type { VerifiedManifest } from '../models/types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface ServingComponents {
  runtime: InferenceRuntime
  /** Absent on a node without a model store: nothing can be activated. */
  models?: ModelService
  logger: Logger
  /** Manifest CIDs retention must keep whatever it plans (what rollouts on this node reference). @default none */
  referenced?: () => Iterable<string>
}

export interface ServingInit {
  /** Where activations persist across restarts (JSON). Without it they do not. */
  stateFile?: string
}

const LimitsSchema = z.object({
  cpu: z.union([z.string(), z.number()], { error: 'must be a quantity' }).optional(),
  memory: z.union([z.string(), z.number()], { error: 'must be a quantity' }).optional()
}, { error: 'must be an object' }) satisfies z.ZodType<ResourceLimits>

const ServingStateSchema = z.object({
  version: z.literal(1, { error: 'must be 1' }),
  active: z.record(z.string(), z.object({
    version: z.string({ error: 'must be a string' }),
    cid: z.string({ error: 'must be a string' }),
    limits: LimitsSchema
  }, { error: 'must be an object' }), { error: 'must be an object' }),
  /** The limits of each model on this node, whichever version runs (and while none does). */
  limits: z.record(z.string(), LimitsSchema, { error: 'must be an object' }).optional()
}, { error: 'not an object' })

const QUANTITY = 'a quantity like "500m" or "256Mi"'
/**
 * A limit as the CLI sends it: absent keeps the model's limit on this node, null removes it. What
 * a quantity means is resolveLimits' to say.
 */
const limitParam = z.union([
  boundedString(QUANTITY, 32),
  z.number().min(0, `must be ${QUANTITY}`).max(Number.MAX_SAFE_INTEGER, `must be ${QUANTITY}`)
], { error: `must be ${QUANTITY}` }).nullable().optional()
const limitParams = { cpu: limitParam, memory: limitParam }
const activateParams = z.object({ ref: modelRef, ...limitParams })
const deactivateParams = z.object({ name: modelRef })
const undoParams = z.object({ name: boundedString('a model name', 200) })
const shadowParams = z.object({
  ref: modelRef,
  fraction: z.number({ error: 'must be a number above 0, at most 1' }).gt(0, 'must be above 0, at most 1').max(1, 'must be above 0, at most 1').default(0.1),
  ...limitParams
})

/** DATA/serving.json: what was active, so a restarted node serves it again. */
type ServingState = z.infer<typeof ServingStateSchema>

const MAX_STATE_BYTES = 1024 * 1024

/** Codes of serving errors. Match on these, never on messages. */
export const ServingErrorCode = {
  /** Nothing of the model (or not that version) is served on this node. */
  NotServed: 'ERR_NOT_SERVED',
  /** `undo` found no previous version of the model on this node. */
  NothingToUndo: 'ERR_NOTHING_TO_UNDO'
} as const

/** What {@link Serving.deactivate} stopped: the model (its active version) or only its shadow. */
export interface DeactivationResult {
  name: string
  /** The version that stopped being served (absent when none was recorded, only loaded ones). */
  version?: string
  stopped: 'active' | 'shadow'
}

export class ServingError extends TuttiError {
  constructor (code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'ServingError'
  }
}

/** `restore()` was aborted (the node is stopping) before every active model was back. */
export class RestoreAbortedError extends ServingError {
  constructor (options: { cause?: unknown } = {}) {
    super('ERR_RESTORE_ABORTED', 'restoring active models was aborted', options)
    this.name = 'RestoreAbortedError'
  }
}

/** Options of {@link Serving.activate}. */
export interface ServingActivateOptions extends AbortOptions {
  /** The activation's phases as they begin (a rollout's device states follow them). */
  onPhase?: (phase: 'downloading' | 'verifying' | 'loading' | 'smoke-test') => void
  /** Refuse to download: the version must already be complete in the store (rollbacks). */
  localOnly?: boolean
  /** Refuse, before loading, a manifest whose signed name or version differs (a pinned rollout). */
  expect?: { name?: string, version?: string }
  /**
   * Take each limit `limits` leaves out from the model's limits on this node (the manual path:
   * limits survive a version change unless given again). Without it `limits` is the whole set.
   */
  inheritLimits?: boolean
}

/** Limits as an operator changes them: a quantity sets one, null removes it, absent keeps it. */
export interface LimitsChange {
  cpu?: string | number | null
  memory?: string | number | null
}

/** `current` with `change` applied (pure): the limits a model runs under after an activation. */
export function applyLimits (current: ResourceLimits, change: LimitsChange): ResourceLimits {
  const out: ResourceLimits = {}
  for (const key of ['cpu', 'memory'] as const) {
    const v = change[key] === undefined ? current[key] : change[key]
    if (v != null) out[key] = v
  }
  return out
}

export interface ActivationResult {
  name: string
  version: string
  cid: string
  previous?: string
  status: VersionStatus
  /** Versions retention removed from this node's store after the activation (any model's). */
  removed: Array<{ name: string, version: string, cid: string }>
  /** Versions of each model this node keeps (`--keep-versions`). */
  keepVersions: number
}

export class Serving {
  private readonly components: ServingComponents
  private readonly init: ServingInit
  private readonly log: Logger
  private state: ServingState = { version: 1, active: {} }

  constructor (components: ServingComponents, init: ServingInit = {}) {
    this.components = components
    this.init = init
    this.log = components.logger.child('serving')
  }

  /**
   * Loads persisted activations and brings each back (failures are logged, not fatal). An abort
   * ends it at once with ERR_RESTORE_ABORTED; what was persisted stays, for the next start.
   */
  async restore (options: AbortOptions = {}): Promise<void> {
    if (this.init.stateFile == null) return
    try {
      const raw = await readFile(this.init.stateFile)
      if (raw.byteLength > MAX_STATE_BYTES) throw new Error(`larger than ${MAX_STATE_BYTES} bytes`)
      const parsed = ServingStateSchema.safeParse(JSON.parse(raw.toString('utf8')))
      if (!parsed.success) throw new ServingError('ERR_SERVING_STATE', `not a serving state file: ${formatIssues(schemaIssues(parsed.error))}`)
      this.state = parsed.data
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      this.log.error('ignoring unreadable serving state', { file: this.init.stateFile, err })
      return
    }
    const aborted = (): boolean => options.signal?.aborted === true
    for (const [name, a] of Object.entries(this.state.active)) {
      if (aborted()) throw new RestoreAbortedError({ cause: options.signal?.reason })
      try {
        // By the CID that was active: the name alone may have become ambiguous in the fleet since.
        const ref = isManifestCid(a.cid as unknown) ? a.cid : `${name}@${a.version}`
        await this.activate(ref, a.limits, { ...options, expect: { name, version: a.version } })
      } catch (err) {
        if (aborted()) throw new RestoreAbortedError({ cause: err })
        this.log.error('could not restore an active model', { model: `${name}@${a.version}`, err })
      }
    }
  }

  /** Activates a model version (fetching it first if this node lacks it). */
  async activate (ref: string, change: LimitsChange = {}, options: ServingActivateOptions = {}): Promise<ActivationResult> {
    const models = this.requireModels()
    let verified: VerifiedManifest
    const cid = await models.resolveCid(ref, options)
    if (!models.store.isComplete(cid)) {
      if (options.localOnly === true) throw new ServingError(ModelErrorCode.ModelIncomplete, `${ref} is not complete in this node's store (a rollback never downloads)`)
      this.log.info('fetching a model to activate it', { ref, cid })
      // Start the worker that will hold the session while the model downloads.
      this.components.runtime.prewarm()
      options.onPhase?.('downloading')
      await models.pull(cid, options)
    } else {
      options.onPhase?.('downloading')
    }
    // The store checks every chunk as it arrives and the assembled file against the digest.
    options.onPhase?.('verifying')
    verified = models.store.resolve(cid)
    const path = models.store.modelPath(cid)
    if (path == null) throw new ServingError(ModelErrorCode.ModelIncomplete, `${ref} is not complete on this node`)
    const m = verified.manifest
    // What was asked for, by the ref itself (NAME@VERSION) or by a pinned rollout, against what
    // the admin signed: a CID announced under another name never gets loaded in its place.
    const want = { ...refParts(ref), ...options.expect }
    if ((want.name != null && want.name !== m.name) || (want.version != null && want.version !== m.version)) {
      throw new ModelMismatchError(cid, `${m.name}@${m.version}`, `${want.name ?? m.name}@${want.version ?? m.version}`)
    }
    const limits = applyLimits(options.inheritLimits === true ? this.limitsOf(m.name) : {}, change)
    options.onPhase?.('loading')
    const status = await this.components.runtime.activate({ ...m, path }, limits, { signal: options.signal, onPhase: options.onPhase })
    const { previous } = await models.store.setActive(m.name, m.version, options)
    this.state.active[m.name] = { version: m.version, cid, limits }
    this.state.limits = { ...this.state.limits, [m.name]: limits }
    await this.save()
    // Retention: keep the active version and those active before it, up to keepVersions; older
    // ones go, except what a rollout here still references.
    const held = new Map(models.store.list().map(e => [e.cid, e]))
    const gc = await models.store.gc({ protect: [cid, ...(this.components.referenced?.() ?? [])] })
      .catch(err => { this.log.warn('model gc failed', { err }); return undefined })
    const removed = (gc?.removed ?? []).flatMap(c => {
      const e = held.get(c)
      return e == null ? [] : [{ name: e.name, version: e.version, cid: c }]
    })
    verified = models.store.resolve(cid)
    const prev = previous != null ? models.store.list().find(e => e.cid === previous) : undefined
    this.log.info('model active', { model: `${m.name}@${m.version}`, cid, previous: prev?.version, removed: removed.map(r => `${r.name}@${r.version}`) })
    return { name: m.name, version: m.version, cid, previous: prev?.version, status, removed, keepVersions: models.store.keepVersions }
  }

  /**
   * Switches `name` back to its previous version (the one active before, kept complete by
   * retention) under the model's limits on this node. Throws ERR_NOTHING_TO_UNDO without one.
   */
  async undo (name: string, options: AbortOptions = {}): Promise<ActivationResult> {
    const { previous } = this.requireModels().store.pointers(name)
    if (previous == null) throw new ServingError(ServingErrorCode.NothingToUndo, `${name} has no previous version on this node to switch back to`)
    return await this.activate(previous, {}, { ...options, inheritLimits: true, localOnly: true })
  }

  /** The limits of a model on this node: those of its last activation, whichever version. */
  limitsOf (name: string): ResourceLimits {
    return { ...(this.state.limits?.[name] ?? this.state.active[name]?.limits) }
  }

  /** The active version of a model on this node, with its limits. */
  activeOf (name: string): { version: string, cid: string, limits: ResourceLimits } | undefined {
    const a = this.state.active[name]
    return a == null ? undefined : { ...a, limits: { ...a.limits } }
  }

  /** Whether a version is complete in the local store. */
  isLocal (cid: string): boolean {
    return this.components.models?.store.isComplete(cid) ?? false
  }

  /**
   * Stops serving a model: `NAME` (every loaded version of it), `NAME@VERSION` (the active version,
   * which stops the model, or the shadow, which stops only the shadow) or a manifest CID. The
   * store then has no active version of it (the one that was becomes the previous), so listings
   * and heartbeats show what is served. Throws ERR_NOT_SERVED when nothing of it is.
   */
  async deactivate (ref: string, options: AbortOptions = {}): Promise<DeactivationResult> {
    const { name, version } = this.parseServedRef(ref)
    const runtime = this.components.runtime.status().models.find(m => m.name === name)
    const stored = this.components.models?.store.pointers(name).active
    const storedVersion = stored != null ? this.components.models?.store.list().find(e => e.cid === stored)?.version : undefined
    const active = runtime?.active ?? this.state.active[name]?.version ?? storedVersion
    const shadow = runtime?.shadow?.version
    if (version != null && version === shadow && version !== active) {
      await this.components.runtime.stopShadow(name, options)
      this.log.info('model shadow stopped', { model: `${name}@${version}` })
      return { name, version, stopped: 'shadow' }
    }
    if (active == null && runtime == null) {
      throw new ServingError(ServingErrorCode.NotServed, `${name} is not served on this node${shadow != null ? ` (its shadow is ${name}@${shadow})` : ''}`)
    }
    if (version != null && version !== active) {
      throw new ServingError(ServingErrorCode.NotServed, `${name}@${version} is not served on this node: ${active != null ? `the active version is ${name}@${active}` : `no version of ${name} is active`}${shadow != null ? `, the shadow ${name}@${shadow}` : ''}`)
    }
    if (runtime != null) {
      try {
        await this.components.runtime.deactivate(name, undefined, options)
      } catch (err) {
        // Unloaded meanwhile (or never restored): what is recorded as served is cleared all the same.
        if ((err as { code?: string }).code !== InferenceErrorCode.ModelNotFound) throw err
      }
    }
    delete this.state.active[name]
    await this.save()
    await this.components.models?.store.clearActive(name, options)
    this.log.info('model deactivated', { model: name, version: active })
    return { name, version: active, stopped: 'active' }
  }

  /** NAME, NAME@VERSION or a held manifest CID, as a name and an optional version. */
  private parseServedRef (ref: string): { name: string, version?: string } {
    const parts = refParts(ref)
    if (parts != null) return parts
    const m = this.requireModels().store.resolve(ref).manifest
    return { name: m.name, version: m.version }
  }

  /**
   * Runs `ref` as a shadow beside the active version of its model on a sampled `fraction` (0 < f
   * <= 1) of requests. Throws ERR_NO_ACTIVE_VERSION, before any download, when no version of the
   * model is active here: there is nothing to compare against.
   */
  async shadow (ref: string, fraction: number, change: LimitsChange = {}, options: AbortOptions & { inheritLimits?: boolean } = {}): Promise<VersionStatus> {
    const models = this.requireModels()
    const asked = refParts(ref)
    if (asked != null) this.requireActive(asked.name)
    const cid = await models.resolveCid(ref, options)
    if (!models.store.isComplete(cid)) await models.pull(cid, options)
    const m = models.store.resolve(cid).manifest
    if (asked != null && (asked.name !== m.name || (asked.version != null && asked.version !== m.version))) throw new ModelMismatchError(cid, `${m.name}@${m.version}`, ref)
    this.requireActive(m.name)
    const path = models.store.modelPath(cid)!
    const limits = applyLimits(options.inheritLimits === true ? this.limitsOf(m.name) : {}, change)
    return await this.components.runtime.shadow({ ...m, path }, limits, { signal: options.signal, fraction })
  }

  /** Stops the shadow of a model (`NAME` or `NAME@VERSION` of the shadow). Throws ERR_NOT_SERVED when none runs. */
  async unshadow (ref: string, options: AbortOptions = {}): Promise<DeactivationResult> {
    const { name, version } = this.parseServedRef(ref)
    const shadow = this.components.runtime.status().models.find(m => m.name === name)?.shadow
    if (shadow == null || (version != null && version !== shadow.version)) {
      throw new ServingError(ServingErrorCode.NotServed, `${version != null ? `${name}@${version} is not the shadow of ${name}` : `no shadow of ${name} runs`} on this node${shadow != null ? ` (the shadow is ${name}@${shadow.version})` : ''}`)
    }
    await this.components.runtime.stopShadow(name, options)
    this.log.info('model shadow stopped', { model: `${name}@${shadow.version}` })
    return { name, version: shadow.version, stopped: 'shadow' }
  }

  private requireActive (name: string): void {
    if (this.components.runtime.status().models.find(m => m.name === name)?.active != null) return
    throw new InferenceError(InferenceErrorCode.NoActiveVersion, `${name} has no active version on this node: activate one before shadowing it (tutti model activate ${name}@VERSION)`)
  }

  /** Heartbeat entries: held models from the store with the runtime's summaries merged in. */
  heartbeatModels (): HeartbeatModel[] {
    const held = this.components.models?.heartbeatModels() ?? []
    const summary = this.components.runtime.summary()
    return held.map(m => {
      const s = summary[`${m.name}@${m.version}`]
      return s == null ? m : { ...m, stats: s }
    })
  }

  adminHandlers (): Record<string, AdminHandler> {
    return {
      'model.activate': async (params, ctx) => await adminErrors(async () => {
        const { ref, ...limits } = adminParams(activateParams, params)
        return await this.activate(ref, limits, { signal: ctx.signal, inheritLimits: true })
      }),
      'model.undo': async (params, ctx) => await adminErrors(async () => {
        const { name } = adminParams(undoParams, params)
        return await this.undo(name, { signal: ctx.signal })
      }),
      // `name` is NAME, NAME@VERSION or a manifest CID (the field kept its first name).
      'model.deactivate': async (params, ctx) => await adminErrors(async () => {
        const { name } = adminParams(deactivateParams, params)
        return await this.deactivate(name, { signal: ctx.signal })
      }),
      'model.unshadow': async (params, ctx) => await adminErrors(async () => {
        const { name } = adminParams(undoParams, params)
        return await this.unshadow(name, { signal: ctx.signal })
      }),
      'model.shadow': async (params, ctx) => await adminErrors(async () => {
        const { ref, fraction, ...limits } = adminParams(shadowParams, params)
        return await this.shadow(ref, fraction, limits, { signal: ctx.signal, inheritLimits: true })
      })
    }
  }

  private requireModels (): ModelService {
    if (this.components.models == null) throw new ServingError('ERR_NO_MODEL_STORE', 'this node keeps no models (it runs without a data directory)')
    return this.components.models
  }

  private async save (): Promise<void> {
    if (this.init.stateFile == null) return
    await writeFileAtomic(this.init.stateFile, JSON.stringify(this.state, null, 2) + '\n')
  }
}

async function adminErrors<T> (fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    throw asAdminError(err)
  }
}
