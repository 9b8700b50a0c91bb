/**
 * The node's local inference runtime: onnxruntime sessions for the active version of each model,
 * each in its own worker thread under its own CPU and memory limits, hot-swapped without dropping a
 * request, with an optional shadow candidate compared against live traffic.
 */
import { stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import { isoTime, monotonicMs, systemClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { randomSeed, seededRandom } from '../../core/random.js'
import { compareOutputs } from './compare.js'
import {
  DEFAULT_DRAIN_TIMEOUT_MS, DEFAULT_LOAD_TIMEOUT_MS, DEFAULT_MAX_QUEUE, DEFAULT_MAX_SHADOW_PENDING,
  DEFAULT_MEMORY_RESERVE_BYTES, DEFAULT_REQUEST_TIMEOUT_MS, RETIRED_METRICS_PER_MODEL, RETIRE_GRACE_MS, SPARE_TTL_MS
} from './constants.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import { ModelInstance } from './instance.js'
import { InferenceThreads, SpareWorker } from './session-worker.js'
import { checkMemory, planCpu, resolveLimits } from './limits.js'
import { VersionMetrics } from './metrics.js'
import { hasNonFinite, tensorFromOip, validateInputs } from './tensors.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { DevicePace } from '../../core/pace.js'
import type { Logger } from '../../core/logger.js'
import type { ModelManifest, TensorSpec } from '../models/types.js'
import type { InstanceState } from './instance.js'
import type { CpuPlan, ResolvedLimits, ResourceLimits } from './limits.js'
import type { VersionMetricsSnapshot, VersionRole, VersionSummary } from './metrics.js'
import type { TensorMap } from './tensors.js'
import type { AbortOptions } from '@libp2p/interface'

/** What the runtime needs of a model version: the manifest's fields it reads, and the verified file. */
/** Options of {@link InferenceRuntime.activate}: a rollout follows the phases of a load. */
export interface ActivateOptions extends AbortOptions {
  /** Called as the load reaches its smoke test (the manifest's sample input). */
  onPhase?: (phase: 'smoke-test') => void
}

export interface InferenceModel extends Pick<ModelManifest, 'name' | 'version' | 'inputs' | 'outputs' | 'memoryEstimateBytes'> {
  /** Path of the model file, already verified against its manifest by the model store. */
  path: string
  /**
   * The manifest's sample input. When present, a new version must run it successfully (finite
   * outputs) before any traffic moves to it; otherwise it is unloaded and the old one keeps serving.
   */
  sampleInput?: ModelManifest['sampleInput']
}

export interface InferenceRuntimeInit {
  /** Cores the device has (caps thread counts). @default os.availableParallelism() */
  deviceCores?: number
  /** Memory kept free for the OS and the node; loads that would dip into it are refused. @default 256 MiB */
  memoryReserveBytes?: number
  /** Requests that may wait per model version before more are refused (ERR_OVERLOADED). @default 256 */
  maxQueue?: number
  /** Per-request timeout when the caller gives none. @default 30 s */
  requestTimeoutMs?: number
  /** How long a session may take to load. @default 60 s */
  loadTimeoutMs?: number
  /** How long a swap waits for the old version's requests to finish before failing the rest. @default 30 s */
  drainTimeoutMs?: number
  /** Shadow samples that may be waiting at once; more are skipped, never queued behind. @default 4 */
  maxShadowPending?: number
  /** Limits for activations that give none. @default {} (no limits) */
  defaultLimits?: ResourceLimits
}

export interface InferenceRuntimeComponents {
  clock?: Clock
  logger?: Logger
  /** Uniform [0, 1): decides which requests the shadow sees. Seed it in tests. @default seededRandom(randomSeed()) */
  random?: () => number
  /** The device's free memory, bytes. @default process.availableMemory() (cgroup-aware, unlike os.freemem) */
  freeMemoryBytes?: () => number
  /** A monotonic millisecond clock for latency (sub-millisecond). @default monotonicMs */
  monotonicMs?: () => number
  /**
   * A device slower than this machine (core/pace.ts): a load waits its disk for the model file and
   * its CPU for the load, every run its CPU. @default none
   */
  pace?: DevicePace
}

export interface InferOptions extends AbortOptions {
  /** Only these outputs (all when absent). */
  outputs?: string[]
  /** @default the runtime's requestTimeoutMs */
  timeoutMs?: number
}

export interface InferResult {
  modelName: string
  modelVersion: string
  outputs: TensorMap
}

export interface ShadowOptions extends AbortOptions {
  /** Fraction of routed requests the candidate also runs, 0..1. @default 0.1 */
  fraction?: number
}

export interface VersionStatus {
  version: string
  role: VersionRole
  state: InstanceState
  limits: ResolvedLimits
  cpu: CpuPlan
  memoryEstimateBytes: number
  pending: number
  loadedAt: string
}

export interface ModelStatus {
  name: string
  active?: string
  shadow?: { version: string, fraction: number }
  versions: VersionStatus[]
}

export interface RuntimeStatus {
  running: boolean
  deviceCores: number
  freeMemoryBytes: number
  /** A spare worker is started or starting for the next load (see prewarm). */
  spareWorker: boolean
  models: ModelStatus[]
}

/** OIP-style description of a model version: what `GET /v2/models/{name}` returns. */
export interface ModelDescription {
  name: string
  version: string
  versions: string[]
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  ready: boolean
}

interface Slot {
  name: string
  active?: ModelInstance
  shadow?: { instance: ModelInstance, fraction: number }
  /** Every live instance of this model: active, shadow, loaded-only and draining ones. */
  instances: Set<ModelInstance>
  /** Serialises load/activate/deactivate of this model. */
  lock: Promise<unknown>
  retired: VersionMetrics[]
}

function sameLimits (a: ResolvedLimits, b: ResolvedLimits): boolean {
  return a.cpuCores === b.cpuCores && a.memoryBytes === b.memoryBytes
}

function notFound (message: string): InferenceError {
  return new InferenceError(InferenceErrorCode.ModelNotFound, message)
}

export class InferenceRuntime {
  private readonly clock: Clock
  private readonly log: Logger
  private readonly random: () => number
  private readonly freeMemoryBytes: () => number
  private readonly monotonicMs: () => number
  private readonly pace?: DevicePace
  private readonly deviceCores: number
  private readonly cfg: Required<Omit<InferenceRuntimeInit, 'deviceCores' | 'defaultLimits'>> & { defaultLimits: ResourceLimits }
  private readonly slots = new Map<string, Slot>()
  private pendingLoadBytes = 0
  /** Loads run one at a time across all models: a worker tells its session's threads apart by which appear while it loads. */
  private loadLock: Promise<unknown> = Promise.resolve()
  private running = false
  /** A started worker waiting for the next load (see prewarm), ended if unused for SPARE_TTL_MS. */
  private spare?: { ready: Promise<SpareWorker | undefined>, expiry: TimerHandle }
  /** Every worker thread started, until it exits (threads are retired, never terminated). */
  private readonly workers: InferenceThreads

  constructor (components: InferenceRuntimeComponents = {}, init: InferenceRuntimeInit = {}) {
    this.clock = components.clock ?? systemClock
    this.workers = new InferenceThreads(this.clock)
    this.log = (components.logger ?? silentLogger).child('inference')
    this.random = components.random ?? seededRandom(randomSeed())
    this.freeMemoryBytes = components.freeMemoryBytes ?? (() => process.availableMemory())
    this.monotonicMs = components.monotonicMs ?? monotonicMs
    this.pace = components.pace
    this.deviceCores = Math.max(1, Math.floor(init.deviceCores ?? availableParallelism()))
    this.cfg = {
      memoryReserveBytes: init.memoryReserveBytes ?? DEFAULT_MEMORY_RESERVE_BYTES,
      maxQueue: init.maxQueue ?? DEFAULT_MAX_QUEUE,
      requestTimeoutMs: init.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
      loadTimeoutMs: init.loadTimeoutMs ?? DEFAULT_LOAD_TIMEOUT_MS,
      drainTimeoutMs: init.drainTimeoutMs ?? DEFAULT_DRAIN_TIMEOUT_MS,
      maxShadowPending: init.maxShadowPending ?? DEFAULT_MAX_SHADOW_PENDING,
      defaultLimits: { ...init.defaultLimits }
    }
    resolveLimits(this.cfg.defaultLimits) // bad defaults fail at construction, not at the first activation
  }

  get isRunning (): boolean {
    return this.running
  }

  start (): void {
    this.running = true
  }

  /**
   * Starts a worker for the next load now, so that an activation about to happen (a model being
   * fetched to activate it) finds it ready instead of waiting for a thread and onnxruntime to start.
   * Does nothing if one is waiting already; one unused for SPARE_TTL_MS is ended (it holds memory).
   */
  prewarm (): void {
    if (!this.running || this.spare != null) return
    // Under the load lock: a load tells its session's threads apart by those that appear meanwhile.
    const ready = this.loadLock.then(async () => await SpareWorker.spawn(this.workers, this.clock, this.cfg.loadTimeoutMs)).catch(err => {
      this.log.debug('a spare inference worker did not start', { err })
      return undefined
    })
    this.loadLock = ready
    const spare = {
      ready,
      expiry: this.clock.setTimeout(() => {
        if (this.spare !== spare) return
        this.spare = undefined
        void ready.then(async w => { await w?.close() })
      }, SPARE_TTL_MS)
    }
    this.spare = spare
  }

  /** The waiting spare worker, if any, for a load (awaits it if it is still starting). */
  private async takeSpare (): Promise<SpareWorker | undefined> {
    const spare = this.spare
    if (spare == null) return undefined
    this.spare = undefined
    spare.expiry.cancel()
    return await spare.ready
  }

  /**
   * Fails queued and running requests with ERR_RUNTIME_STOPPED and ends every worker. Resolves
   * once every worker thread has exited (a load or run still inside onnxruntime delays that, by at
   * most RETIRE_GRACE_MS), so that the process can exit without aborting.
   */
  async stop (): Promise<void> {
    this.running = false
    const spare = this.spare
    this.spare = undefined
    spare?.expiry.cancel()
    await spare?.ready.then(async w => { await w?.close() })
    const all: ModelInstance[] = []
    for (const slot of this.slots.values()) all.push(...slot.instances)
    this.slots.clear()
    await Promise.all(all.map(async i => { await i.close(new InferenceError(InferenceErrorCode.Stopped, 'the inference runtime stopped')) }))
    const left = await this.workers.settle(RETIRE_GRACE_MS)
    if (left > 0) this.log.warn('inference threads are still inside onnxruntime after the grace period; the process may abort if it exits now', { threads: left, graceMs: RETIRE_GRACE_MS })
  }

  private ensureRunning (): void {
    if (!this.running) throw new InferenceError(InferenceErrorCode.Stopped, 'the inference runtime is not running')
  }

  private slot (name: string): Slot {
    let slot = this.slots.get(name)
    if (slot == null) {
      slot = { name, instances: new Set(), lock: Promise.resolve(), retired: [] }
      this.slots.set(name, slot)
    }
    return slot
  }

  private async locked<T> (slot: Slot, fn: () => Promise<T>): Promise<T> {
    const run = slot.lock.then(fn, fn)
    slot.lock = run.catch(() => undefined)
    return await run
  }

  private findLoaded (slot: Slot, version: string, limits: ResolvedLimits): ModelInstance | undefined {
    for (const i of slot.instances) {
      if (i.version === version && i.state === 'ready' && sameLimits(i.init.limits, limits)) return i
    }
    return undefined
  }

  /** Checks memory, then creates a session in a new worker. Nothing is routed to it yet. */
  private async loadInstance (model: InferenceModel, limits: ResolvedLimits, options: ActivateOptions): Promise<ModelInstance> {
    const what = `${model.name}@${model.version}`
    const estimate = model.memoryEstimateBytes
    if (typeof estimate !== 'number' || !Number.isFinite(estimate) || estimate < 0) {
      throw new InferenceError(InferenceErrorCode.ModelLoad, `${what} has no valid memoryEstimateBytes`)
    }
    checkMemory(estimate, limits.memoryBytes, {
      freeBytes: this.freeMemoryBytes(),
      reserveBytes: this.cfg.memoryReserveBytes,
      pendingBytes: this.pendingLoadBytes
    }, what)
    const plan = planCpu(limits.cpuCores, this.deviceCores)
    const metrics = new VersionMetrics({
      name: model.name,
      version: model.version,
      estimateBytes: estimate,
      limitBytes: limits.memoryBytes,
      limitCores: limits.cpuCores,
      intraOpThreads: plan.intraOpThreads,
      throttled: plan.throttled
    })
    const instance = new ModelInstance({ clock: this.clock, logger: this.log, pace: this.pace, workers: this.workers }, {
      name: model.name,
      version: model.version,
      path: model.path,
      limits,
      plan,
      maxQueue: this.cfg.maxQueue,
      loadTimeoutMs: this.cfg.loadTimeoutMs,
      metrics
    })
    this.pendingLoadBytes += estimate
    try {
      const load = this.loadLock.then(async () => {
        const pace = this.pace
        // A slow device reads the model file at its disk's pace and builds the session at its CPU's.
        if (pace != null) await pace.disk((await stat(model.path)).size, options)
        const started = this.monotonicMs()
        // No thread starts after stop(): it could still be loading when the process exits.
        this.ensureRunning()
        await instance.load(options, await this.takeSpare())
        if (pace != null) await pace.cpu(this.monotonicMs() - started, options)
      })
      this.loadLock = load.catch(() => undefined)
      await load
    } finally {
      this.pendingLoadBytes -= estimate
    }
    const mismatch = manifestMismatch(model, instance)
    if (mismatch != null) {
      await instance.close()
      throw new InferenceError(InferenceErrorCode.ModelLoad, `${what}: the model file does not match its manifest: ${mismatch}`)
    }
    if (model.sampleInput != null && Object.keys(model.sampleInput).length > 0) {
      options.onPhase?.('smoke-test')
      try {
        await this.smokeTest(instance, model.sampleInput)
      } catch (err) {
        await instance.close()
        throw new InferenceError(InferenceErrorCode.ModelLoad, `${what} failed its sample input: ${(err as Error).message}`, { cause: err })
      }
    }
    this.log.info('model version loaded', { model: model.name, version: model.version, threads: plan.intraOpThreads, cores: plan.cores, throttled: plan.throttled, measuredBytes: metrics.measuredBytes })
    return instance
  }

  /** Runs the manifest's sample input on a freshly loaded version; throws unless it yields finite outputs. */
  private async smokeTest (instance: ModelInstance, sample: NonNullable<InferenceModel['sampleInput']>): Promise<void> {
    const inputs: TensorMap = {}
    for (const [name, t] of Object.entries(sample)) inputs[name] = tensorFromOip({ name, ...t }, 0).tensor
    validateInputs(inputs, instance.inputs)
    const out = await instance.run(inputs, { timeoutMs: this.cfg.requestTimeoutMs })
    if (hasNonFinite(out.outputs)) throw new Error('an output holds NaN or infinity')
  }

  private async retire (slot: Slot, instance: ModelInstance): Promise<void> {
    instance.metrics.role = 'draining'
    const drained = await instance.drain(this.cfg.drainTimeoutMs)
    if (!drained) this.log.warn('drain timed out; failing the rest', { model: instance.name, version: instance.version, pending: instance.pending })
    await instance.close()
    slot.instances.delete(instance)
    instance.metrics.role = 'retired'
    slot.retired = [...slot.retired.filter(m => m !== instance.metrics && m.init.version !== instance.version), instance.metrics].slice(-RETIRED_METRICS_PER_MODEL)
    this.log.info('model version unloaded', { model: instance.name, version: instance.version })
  }

  private async loadOrReuse (slot: Slot, model: InferenceModel, resolved: ResolvedLimits, options: ActivateOptions): Promise<ModelInstance> {
    if (!this.slots.has(slot.name)) this.slots.set(slot.name, slot) // a deactivate ran first and dropped it
    const existing = this.findLoaded(slot, model.version, resolved)
    if (existing != null) return existing
    const instance = await this.loadInstance(model, resolved, options)
    if (!this.running) {
      await instance.close()
      throw new InferenceError(InferenceErrorCode.Stopped, 'the inference runtime stopped while loading')
    }
    slot.instances.add(instance)
    return instance
  }

  /**
   * Loads a version without routing traffic to it: it answers requests that name its version, and
   * a later {@link activate} with the same limits switches to it instantly (pre-warming a rollout).
   */
  async load (model: InferenceModel, limits: ResourceLimits = this.cfg.defaultLimits, options: AbortOptions = {}): Promise<VersionStatus> {
    this.ensureRunning()
    const resolved = resolveLimits(limits)
    const slot = this.slot(model.name)
    return await this.locked(slot, async () => {
      const instance = await this.loadOrReuse(slot, model, resolved, options)
      return this.versionStatus(slot, instance)
    })
  }

  /**
   * Makes `model` the version that requests without a version go to. A hot swap: the new version
   * is loaded first (a refusal or load failure leaves the current one serving), new requests move
   * to it at once, requests already with the old version finish there, then the old is unloaded.
   */
  async activate (model: InferenceModel, limits: ResourceLimits = this.cfg.defaultLimits, options: ActivateOptions = {}): Promise<VersionStatus> {
    this.ensureRunning()
    const resolved = resolveLimits(limits)
    const slot = this.slot(model.name)
    return await this.locked(slot, async () => {
      const instance = await this.loadOrReuse(slot, model, resolved, options)
      const previous = slot.active
      slot.active = instance
      instance.metrics.role = 'active'
      if (slot.shadow?.instance === instance) slot.shadow = undefined
      if (previous != null && previous !== instance) {
        this.log.info('model version activated', { model: model.name, version: model.version, previous: previous.version })
        await this.retire(slot, previous)
      }
      return this.versionStatus(slot, instance)
    })
  }

  /** Runs `model` beside the active version on a sampled `fraction` of routed requests; its results are only compared. */
  async shadow (model: InferenceModel, limits: ResourceLimits = this.cfg.defaultLimits, options: ShadowOptions = {}): Promise<VersionStatus> {
    this.ensureRunning()
    const fraction = options.fraction ?? 0.1
    if (typeof fraction !== 'number' || !(fraction > 0 && fraction <= 1)) throw new InferenceError(InferenceErrorCode.InvalidInput, 'shadow fraction must be above 0, at most 1')
    const resolved = resolveLimits(limits)
    const slot = this.slots.get(model.name)
    if (slot?.active == null) throw new InferenceError(InferenceErrorCode.NoActiveVersion, `${model.name} has no active version: a shadow runs beside one`)
    return await this.locked(slot, async () => {
      if (slot.active == null) throw new InferenceError(InferenceErrorCode.NoActiveVersion, `${model.name} has no active version: a shadow runs beside one`)
      if (slot.active.version === model.version) throw new InferenceError(InferenceErrorCode.InvalidInput, `${model.name}@${model.version} is the active version; a shadow must be another`)
      const instance = await this.loadOrReuse(slot, model, resolved, options)
      const previous = slot.shadow?.instance
      slot.shadow = { instance, fraction }
      instance.metrics.role = 'shadow'
      if (previous != null && previous !== instance) await this.retire(slot, previous)
      return this.versionStatus(slot, instance)
    })
  }

  /** Stops shadowing and unloads the candidate. */
  async stopShadow (name: string, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const slot = this.slots.get(name)
    if (slot == null) return
    await this.locked(slot, async () => {
      const shadow = slot.shadow
      slot.shadow = undefined
      if (shadow != null) await this.retire(slot, shadow.instance)
    })
  }

  /** Unloads one version (after its requests finish), or every version of the model. */
  async deactivate (name: string, version?: string, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const slot = this.slots.get(name)
    if (slot == null) throw notFound(`model ${name} is not loaded`)
    await this.locked(slot, async () => {
      const victims = [...slot.instances].filter(i => version === undefined || i.version === version)
      if (victims.length === 0) throw notFound(`${name}@${version ?? ''} is not loaded`)
      if (slot.active != null && victims.includes(slot.active)) slot.active = undefined
      if (slot.shadow != null && victims.includes(slot.shadow.instance)) slot.shadow = undefined
      await Promise.all(victims.map(async v => { await this.retire(slot, v) }))
      if (slot.instances.size === 0 && this.slots.get(name) === slot) this.slots.delete(name)
    })
  }

  /** The instance a request goes to: the active one, or the named ready version. */
  private route (name: string, version: string | undefined): { slot: Slot, instance: ModelInstance } {
    const slot = this.slots.get(name)
    if (slot == null) throw notFound(`model ${name} is not loaded here`)
    if (version === undefined) {
      if (slot.active == null) throw notFound(`model ${name} has no active version`)
      return { slot, instance: slot.active }
    }
    for (const i of slot.instances) {
      if (i.version === version && i.state === 'ready') return { slot, instance: i }
    }
    throw notFound(`version ${version} of model ${name} is not loaded here`)
  }

  /**
   * Runs one inference. Without `version`, the request goes to the active version (and, sampled,
   * to a shadow). Throws ERR_MODEL_NOT_FOUND, ERR_INVALID_INPUT, ERR_OVERLOADED,
   * ERR_INFERENCE_TIMEOUT or ERR_INFERENCE_FAILED.
   */
  async infer (name: string, version: string | undefined, inputs: TensorMap, options: InferOptions = {}): Promise<InferResult> {
    this.ensureRunning()
    const started = this.monotonicMs()
    // From here to instance.run() nothing awaits: a swap cannot slip in between routing and queueing.
    const { slot, instance } = this.route(name, version)
    const metrics = instance.metrics
    metrics.request()
    try {
      validateInputs(inputs, instance.inputs)
      if (options.outputs != null) {
        const known = new Set(instance.outputs.map(o => o.name))
        const unknown = options.outputs.find(o => !known.has(o))
        if (unknown !== undefined) throw new InferenceError(InferenceErrorCode.InvalidInput, `unknown output "${unknown.slice(0, 64)}" (the model has ${[...known].join(', ')})`)
      }
    } catch (err) {
      metrics.reject()
      throw err
    }
    const timeoutMs = options.timeoutMs ?? this.cfg.requestTimeoutMs
    const primary = instance.run(inputs, { fetches: options.outputs, timeoutMs, signal: options.signal })
    if (version === undefined && slot.shadow != null) this.sampleShadow(slot.shadow, instance, inputs, primary, timeoutMs)
    try {
      const out = await primary
      metrics.success(this.monotonicMs() - started, hasNonFinite(out.outputs))
      return { modelName: name, modelVersion: instance.version, outputs: out.outputs }
    } catch (err) {
      metrics.error()
      throw err
    }
  }

  private sampleShadow (shadow: { instance: ModelInstance, fraction: number }, active: ModelInstance, inputs: TensorMap, primary: Promise<{ outputs: TensorMap }>, timeoutMs: number): void {
    if (!(this.random() < shadow.fraction)) return
    const candidate = shadow.instance
    const m = candidate.metrics
    if (candidate.pending >= this.cfg.maxShadowPending) {
      m.shadowSkipped()
      return
    }
    try {
      validateInputs(inputs, candidate.inputs)
    } catch {
      m.shadowSampled()
      m.shadowFailed()
      return
    }
    m.shadowSampled()
    const order = active.outputs.map(o => o.name)
    // The candidate's own numbers (requests, errors, latency) count its shadow runs: it gets no other traffic.
    m.request()
    const started = this.monotonicMs()
    const run = candidate.run(inputs, { timeoutMs }).then(out => {
      m.success(this.monotonicMs() - started, hasNonFinite(out.outputs))
      return out
    }, (err: unknown) => {
      m.error()
      throw err
    })
    void Promise.allSettled([primary, run]).then(([a, c]) => {
      if (c.status === 'rejected') {
        m.shadowFailed()
        return
      }
      if (a.status === 'rejected') return // nothing to compare against
      m.shadowCompared(compareOutputs(a.value.outputs, c.value.outputs, order))
    })
  }

  /** OIP metadata of a model: the active version, or the named loaded one. */
  describe (name: string, version?: string): ModelDescription {
    const slot = this.slots.get(name)
    if (slot == null) throw notFound(`model ${name} is not loaded here`)
    const versions = [...new Set([...slot.instances].filter(i => i.state === 'ready' || i.state === 'draining').map(i => i.version))]
    let instance: ModelInstance | undefined
    if (version === undefined) instance = slot.active
    else instance = [...slot.instances].find(i => i.version === version && i.state === 'ready') ?? [...slot.instances].find(i => i.version === version)
    if (instance == null) throw notFound(version === undefined ? `model ${name} has no active version` : `version ${version} of model ${name} is not loaded here`)
    return { name, version: instance.version, versions, inputs: instance.inputs, outputs: instance.outputs, ready: instance.state === 'ready' && this.running }
  }

  private roleOf (slot: Slot, instance: ModelInstance): VersionRole {
    if (instance.state === 'draining' || instance.state === 'closed') return instance.metrics.role
    if (slot.active === instance) return 'active'
    if (slot.shadow?.instance === instance) return 'shadow'
    return 'loaded'
  }

  private versionStatus (slot: Slot, instance: ModelInstance): VersionStatus {
    return {
      version: instance.version,
      role: this.roleOf(slot, instance),
      state: instance.state,
      limits: { ...instance.init.limits },
      cpu: { ...instance.init.plan },
      memoryEstimateBytes: instance.metrics.init.estimateBytes,
      pending: instance.pending,
      loadedAt: isoTime(instance.loadedAt)
    }
  }

  status (): RuntimeStatus {
    return {
      running: this.running,
      deviceCores: this.deviceCores,
      freeMemoryBytes: this.freeMemoryBytes(),
      spareWorker: this.spare != null,
      models: [...this.slots.values()].map(slot => ({
        name: slot.name,
        active: slot.active?.version,
        shadow: slot.shadow == null ? undefined : { version: slot.shadow.instance.version, fraction: slot.shadow.fraction },
        versions: [...slot.instances].map(i => this.versionStatus(slot, i))
      }))
    }
  }

  /** Full metrics per model version, live ones first, then recently retired ones. */
  metrics (): VersionMetricsSnapshot[] {
    const out: VersionMetricsSnapshot[] = []
    for (const slot of this.slots.values()) {
      for (const i of slot.instances) {
        i.metrics.role = this.roleOf(slot, i)
        out.push(i.metrics.snapshot())
      }
      for (const m of slot.retired) out.push(m.snapshot())
    }
    return out
  }

  /** Compact summaries of live versions keyed `name@version`, for the heartbeat. */
  summary (): Record<string, VersionSummary> {
    const out: Record<string, VersionSummary> = {}
    for (const slot of this.slots.values()) {
      for (const i of slot.instances) {
        const summary = i.metrics.summary()
        if (slot.shadow?.instance === i) summary.fr = slot.shadow.fraction
        out[`${i.name}@${i.version}`] = summary
      }
    }
    return out
  }
}

/** Why a loaded session does not fit its manifest's inputs/outputs, or undefined when it does. */
function manifestMismatch (model: InferenceModel, instance: ModelInstance): string | undefined {
  const check = (what: string, declared: readonly TensorSpec[] | undefined, actual: readonly TensorSpec[]): string | undefined => {
    if (declared == null || declared.length === 0) return undefined
    for (const d of declared) {
      const a = actual.find(x => x.name === d.name)
      if (a == null) return `${what} "${d.name}" is not in the file (it has ${actual.map(x => x.name).join(', ')})`
      if (a.type !== d.type) return `${what} "${d.name}" is ${a.type} in the file, ${d.type} in the manifest`
    }
    for (const a of actual) {
      if (what === 'input' && declared.find(d => d.name === a.name) == null) return `input "${a.name}" of the file is not in the manifest`
    }
    return undefined
  }
  return check('input', model.inputs, instance.inputs) ?? check('output', model.outputs, instance.outputs)
}
