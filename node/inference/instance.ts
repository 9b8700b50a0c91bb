/**
 * One loaded model version: its worker, a bounded queue of requests, and the duty cycle that holds
 * it to its CPU share. A throttled version sends the worker one run at a time and pauses for
 * `throttleDelayMs` after each; an unthrottled one keeps a second run waiting in the worker,
 * so the worker never idles while the main thread hands over the next request.
 */
import { InferenceError, InferenceErrorCode } from './errors.js'
import { chargedCpuMs, DutyCycle } from './limits.js'
import { SessionWorker } from './session-worker.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { DevicePace } from '../../core/pace.js'
import type { Logger } from '../../core/logger.js'
import type { CpuPlan, ResolvedLimits } from './limits.js'
import type { VersionMetrics } from './metrics.js'
import type { InferenceThreads, RunOutput, SpareWorker } from './session-worker.js'
import type { TensorMap } from './tensors.js'
import type { TensorSpec } from '../models/types.js'
import type { AbortOptions } from '@libp2p/interface'

export type InstanceState = 'loading' | 'ready' | 'draining' | 'closed' | 'failed'

export interface InstanceInit {
  name: string
  version: string
  path: string
  limits: ResolvedLimits
  plan: CpuPlan
  maxQueue: number
  loadTimeoutMs: number
  metrics: VersionMetrics
}

export interface InstanceComponents {
  clock: Clock
  logger: Logger
  /** The runtime's worker threads (the session's thread is started and retired through them). */
  workers: InferenceThreads
  /** A device slower than this machine: a run answers once its CPU would have finished it (core/pace.ts). */
  pace?: DevicePace
}

export interface InstanceRunOptions extends AbortOptions {
  fetches?: string[]
  timeoutMs: number
}

interface Job {
  inputs: TensorMap
  fetches?: string[]
  resolve: (out: RunOutput) => void
  reject: (err: Error) => void
  settled: boolean
  timer?: TimerHandle
  cleanup: () => void
}

export class ModelInstance {
  state: InstanceState = 'loading'
  readonly loadedAt: number
  private worker?: SessionWorker
  private readonly queue: Job[] = []
  /** Runs handed to the worker and not yet answered. */
  private readonly inFlight = new Set<Job>()
  private readonly maxInFlight: number
  private readonly duty: DutyCycle
  private wake?: TimerHandle
  private idleWaiters: Array<() => void> = []

  constructor (private readonly components: InstanceComponents, readonly init: InstanceInit) {
    this.loadedAt = components.clock.now()
    this.duty = new DutyCycle(init.plan)
    this.maxInFlight = init.plan.throttled ? 1 : 2
  }

  get name (): string { return this.init.name }
  get version (): string { return this.init.version }
  get metrics (): VersionMetrics { return this.init.metrics }
  get inputs (): TensorSpec[] { return this.worker?.inputs ?? [] }
  get outputs (): TensorSpec[] { return this.worker?.outputs ?? [] }
  /** Requests queued or running. */
  get pending (): number { return this.queue.length + this.inFlight.size }
  get queued (): number { return this.queue.length }

  /** Loads the session in a new worker, or in `spare` when one is given (see SpareWorker). */
  async load (options: AbortOptions = {}, spare?: SpareWorker): Promise<void> {
    const { plan } = this.init
    this.worker = await SessionWorker.start({
      workers: this.components.workers,
      path: this.init.path,
      clock: this.components.clock,
      loadTimeoutMs: this.init.loadTimeoutMs,
      threads: plan.intraOpThreads,
      measureCpu: plan.throttled,
      sessionOptions: {
        intraOpNumThreads: plan.intraOpThreads,
        interOpNumThreads: plan.interOpThreads,
        executionMode: 'sequential',
        graphOptimizationLevel: 'all',
        // Idle pool threads must not spin: spinning burns CPU the duty cycle cannot see.
        extra: { session: { intra_op: { allow_spinning: '0' }, inter_op: { allow_spinning: '0' } } }
      }
    }, options, spare)
    this.worker.onCrash = (err) => {
      this.state = 'failed'
      this.components.logger.error('inference worker crashed', { model: this.name, version: this.version, err })
      this.failAll(err)
    }
    this.init.metrics.measuredBytes = this.worker.rssDeltaBytes
    this.state = 'ready'
  }

  /**
   * Queues one run. Resolves with the outputs, or rejects with ERR_OVERLOADED (queue full),
   * ERR_INFERENCE_TIMEOUT (timeout or abort), ERR_INFERENCE_FAILED (onnxruntime or the worker).
   */
  async run (inputs: TensorMap, options: InstanceRunOptions): Promise<RunOutput> {
    if (this.state === 'failed') throw new InferenceError(InferenceErrorCode.InferenceFailed, `${this.name}@${this.version} failed: its worker died; activate it again`, { retryable: true })
    if (this.state !== 'ready' && this.state !== 'draining') throw new InferenceError(InferenceErrorCode.ModelNotFound, `${this.name}@${this.version} is ${this.state}`)
    if (this.queue.length >= this.init.maxQueue) {
      throw new InferenceError(InferenceErrorCode.Overloaded, `${this.name}@${this.version} already has ${this.queue.length} requests waiting`, { retryable: true })
    }
    options.signal?.throwIfAborted()
    return await new Promise<RunOutput>((resolve, reject) => {
      const onAbort = (): void => { this.settle(job, new InferenceError(InferenceErrorCode.Timeout, `the request to ${this.name}@${this.version} was aborted`, { cause: options.signal?.reason })) }
      const job: Job = {
        inputs,
        fetches: options.fetches,
        resolve,
        reject,
        settled: false,
        cleanup: () => {
          job.timer?.cancel()
          options.signal?.removeEventListener('abort', onAbort)
        }
      }
      job.timer = this.components.clock.setTimeout(() => {
        this.settle(job, new InferenceError(InferenceErrorCode.Timeout, `${this.name}@${this.version} did not answer within ${options.timeoutMs} ms`, { retryable: true }))
      }, options.timeoutMs)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      this.queue.push(job)
      this.worker?.setBusy(true)
      this.pump()
    })
  }

  private settle (job: Job, result: Error | RunOutput): void {
    if (job.settled) return
    job.settled = true
    job.cleanup()
    const i = this.queue.indexOf(job)
    if (i >= 0) this.queue.splice(i, 1) // a queued job that timed out never reaches the worker
    if (result instanceof Error) job.reject(result)
    else job.resolve(result)
    this.notifyIdle()
  }

  private pump (): void {
    const worker = this.worker
    if (worker == null || this.wake != null) return
    if (this.state !== 'ready' && this.state !== 'draining') return
    const pace = this.components.pace
    // On a slowed CPU the worker waits for the device to "finish" each run: no second run queued in it.
    const maxInFlight = pace?.cpuSlowed === true ? 1 : this.maxInFlight
    while (this.inFlight.size < maxInFlight && this.queue.length > 0) {
      const delay = this.duty.delayMs(this.components.clock.now())
      if (delay > 0) {
        this.wake = this.components.clock.setTimeout(() => {
          this.wake = undefined
          this.pump()
        }, delay)
        return
      }
      const job = this.queue.shift()!
      this.inFlight.add(job)
      void worker.run(job.inputs, job.fetches).then(async out => {
        if (pace != null) await pace.cpu(out.wallMs).catch(() => undefined)
        const waitMs = this.duty.afterRun(this.components.clock.now(), out)
        this.init.metrics.run(out.wallMs, chargedCpuMs(out, this.init.plan), waitMs)
        this.inFlight.delete(job)
        this.settle(job, out)
      }, (err: Error) => {
        this.inFlight.delete(job)
        this.settle(job, err)
      }).finally(() => {
        this.notifyIdle() // settle() did nothing if the caller had already given up on this job
        this.pump()
      })
    }
  }

  private failAll (err: Error): void {
    const jobs = [...this.queue, ...this.inFlight]
    this.inFlight.clear()
    for (const job of jobs) this.settle(job, err)
  }

  private notifyIdle (): void {
    if (this.pending > 0) return
    this.worker?.setBusy(false)
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const w of waiters) w()
  }

  /**
   * Stops taking routed traffic (the caller has already moved it elsewhere) and resolves once every
   * request already queued or running here has finished, or after `timeoutMs`.
   */
  async drain (timeoutMs: number): Promise<boolean> {
    if (this.state === 'ready') this.state = 'draining'
    if (this.pending === 0) return true
    return await new Promise<boolean>(resolve => {
      const timer = this.components.clock.setTimeout(() => {
        this.idleWaiters = this.idleWaiters.filter(w => w !== done)
        resolve(false)
      }, timeoutMs)
      const done = (): void => {
        timer.cancel()
        resolve(true)
      }
      this.idleWaiters.push(done)
    })
  }

  /** Fails whatever is still queued or running with `reason`, releases the session, ends the worker. */
  async close (reason: Error = new InferenceError(InferenceErrorCode.Stopped, `${this.name}@${this.version} was unloaded`)): Promise<void> {
    if (this.state === 'closed') return
    this.state = 'closed'
    this.wake?.cancel()
    this.wake = undefined
    this.failAll(reason)
    await this.worker?.close()
  }
}
