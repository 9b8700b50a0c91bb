/**
 * The main-thread side of one onnxruntime session living in a worker thread (worker.js). The main
 * thread only posts tensors and receives results, so `session.run()` never blocks the event loop.
 *
 * Messages, main -> worker: `{ op: 'load', params }` (to a spare only), `{ op: 'run', id, feeds, fetches? }`,
 * `{ op: 'close' }`. Worker -> main: `{ op: 'spare-ready' }` (a spare, onnxruntime imported),
 * `{ op: 'ready', inputs, outputs, rssDeltaBytes, loadMs }`,
 * `{ op: 'load-error', message }`, `{ op: 'result', id, outputs, wallMs, cpuMs? }`,
 * `{ op: 'run-error', id, message }`, `{ op: 'closed' }`.
 */
import { Worker } from 'node:worker_threads'
import { RETIRE_GRACE_MS } from './constants.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import type { Clock } from '../../core/clock.js'
import type { TensorSpec } from '../models/types.js'
import type { TensorMap } from './tensors.js'
import type { AbortOptions } from '@libp2p/interface'
import type { InferenceSession } from 'onnxruntime-node'

/** Resolves once `done` settles or `ms` have passed on `clock`, whichever comes first. */
async function waitAtMost (clock: Clock, done: Promise<unknown>, ms: number): Promise<void> {
  await new Promise<void>(resolve => {
    const timer = clock.setTimeout(resolve, ms)
    void done.finally(() => {
      timer.cancel()
      resolve()
    })
  })
}

/** A worker file that needs no TypeScript loader: it runs the same under tsx, vitest and plain node. */
const WORKER_URL = new URL('./worker.js', import.meta.url)

/**
 * The worker threads of one inference runtime, each from its start until it has exited.
 *
 * A thread is never terminated while onnxruntime may be inside a native call on it (the import
 * that initialises it, `InferenceSession.create`, a run): `worker.terminate()` at that moment, or
 * the process exiting then, aborts the whole process with "terminate called after throwing an
 * instance of 'Napi::Error'" (reproduced here by aborting loads of a real model at random points,
 * and by exiting while one loads). A thread nobody wants any more is *retired* instead: asked to
 * close, it releases its session once the native call returns and exits by itself. Meanwhile it
 * keeps the process alive (for at most RETIRE_GRACE_MS), and {@link settle} lets the runtime's
 * stop wait for it.
 */
export class InferenceThreads {
  private readonly live = new Map<Worker, Promise<void>>()

  constructor (private readonly clock: Clock) {}

  /** Starts a thread: with `params` it loads them at once, without it is a spare (see SpareWorker). */
  spawn (params?: unknown): Worker {
    const worker = new Worker(WORKER_URL, { workerData: params, stdout: false, stderr: false })
    this.live.set(worker, new Promise<void>(resolve => {
      worker.once('exit', () => {
        this.live.delete(worker)
        resolve()
      })
    }))
    return worker
  }

  /** Threads started and not yet exited. */
  get size (): number {
    return this.live.size
  }

  /**
   * Asks `worker` to release its session and exit once the native call it may be in returns;
   * resolves when it has exited (at once if it already has). Safe to call more than once.
   */
  async retire (worker: Worker): Promise<void> {
    const exited = this.live.get(worker)
    if (exited == null) return
    worker.ref()
    const grace = this.clock.setTimeout(() => { worker.unref() }, RETIRE_GRACE_MS)
    worker.postMessage({ op: 'close' })
    await exited
    grace.cancel()
  }

  /** Waits until every thread has exited, or for `timeoutMs`; resolves with how many still run. */
  async settle (timeoutMs: number): Promise<number> {
    if (this.live.size === 0) return 0
    await waitAtMost(this.clock, Promise.all(this.live.values()), timeoutMs)
    return this.live.size
  }
}

export interface SessionWorkerInit {
  /** The runtime's threads: the session's worker is started and retired through them. */
  workers: InferenceThreads
  path: string
  sessionOptions: InferenceSession.SessionOptions
  /** Intra-op threads of the session. */
  threads: number
  /** Measure the CPU each run uses (needed by the duty cycle; costs a few /proc reads per run). */
  measureCpu: boolean
  clock: Clock
  /** How long loading may take before the caller gets ERR_MODEL_LOAD (the thread is retired). */
  loadTimeoutMs: number
}

export interface RunOutput {
  outputs: TensorMap
  wallMs: number
  cpuMs?: number
}

interface PendingRun {
  resolve: (out: RunOutput) => void
  reject: (err: Error) => void
}

interface WorkerMessage {
  op: string
  id?: number
  message?: string
  inputs?: TensorSpec[]
  outputs?: TensorSpec[] | TensorMap
  rssDeltaBytes?: number
  loadMs?: number
  wallMs?: number
  cpuMs?: number
}

export class SessionWorker {
  inputs: TensorSpec[] = []
  outputs: TensorSpec[] = []
  rssDeltaBytes = 0
  loadMs = 0
  private readonly worker: Worker
  private readonly pending = new Map<number, PendingRun>()
  private nextId = 1
  private dead?: Error
  private closing?: Promise<void>
  private busy = false
  /** Called once if the worker dies on its own (not through close()). */
  onCrash?: (err: Error) => void

  private constructor (private readonly init: SessionWorkerInit, spare?: Worker) {
    const params = { path: init.path, sessionOptions: init.sessionOptions, threads: init.threads, measureCpu: init.measureCpu }
    if (spare != null) {
      this.worker = spare
      this.worker.postMessage({ op: 'load', params })
    } else {
      this.worker = init.workers.spawn(params)
    }
    this.worker.unref()
  }

  /**
   * Starts a worker (or takes `spare`, already started) and resolves once its session is loaded;
   * throws ERR_MODEL_LOAD otherwise. On an abort or a timeout the caller gets the error at once
   * and the thread is retired: it exits once onnxruntime's create returns (see InferenceThreads).
   */
  static async start (init: SessionWorkerInit, options: AbortOptions = {}, spare?: SpareWorker): Promise<SessionWorker> {
    options.signal?.throwIfAborted()
    const sw = new SessionWorker(init, spare?.take())
    sw.worker.ref() // loading is work in flight: keep the process alive for it (a failed load's thread is retired, which keeps it so)
    await new Promise<void>((resolve, reject) => {
      const timer = init.clock.setTimeout(() => { fail(new InferenceError(InferenceErrorCode.ModelLoad, `loading ${init.path} took longer than ${init.loadTimeoutMs} ms`)) }, init.loadTimeoutMs)
      const onAbort = (): void => { fail(new InferenceError(InferenceErrorCode.ModelLoad, `loading ${init.path} was aborted`, { cause: options.signal?.reason })) }
      const cleanup = (): void => {
        timer.cancel()
        options.signal?.removeEventListener('abort', onAbort)
        sw.worker.off('message', onMessage)
        sw.worker.off('error', onError)
        sw.worker.off('exit', onExit)
      }
      const fail = (err: Error): void => {
        cleanup()
        void init.workers.retire(sw.worker)
        reject(err)
      }
      const onMessage = (msg: WorkerMessage): void => {
        if (msg.op === 'ready') {
          cleanup()
          sw.inputs = msg.inputs ?? []
          sw.outputs = (msg.outputs as TensorSpec[] | undefined) ?? []
          sw.rssDeltaBytes = msg.rssDeltaBytes ?? 0
          sw.loadMs = msg.loadMs ?? 0
          resolve()
        } else if (msg.op === 'load-error') {
          fail(new InferenceError(InferenceErrorCode.ModelLoad, `onnxruntime cannot load ${init.path}: ${msg.message ?? 'unknown error'}`))
        }
      }
      const onError = (err: Error): void => { fail(new InferenceError(InferenceErrorCode.ModelLoad, `the inference worker failed while loading ${init.path}: ${err.message}`, { cause: err })) }
      const onExit = (code: number): void => { fail(new InferenceError(InferenceErrorCode.ModelLoad, `the inference worker exited (code ${code}) while loading ${init.path}`)) }
      sw.worker.on('message', onMessage)
      sw.worker.on('error', onError)
      sw.worker.on('exit', onExit)
      options.signal?.addEventListener('abort', onAbort, { once: true })
    })
    sw.worker.unref()
    sw.listen()
    return sw
  }

  private listen (): void {
    this.worker.on('message', (msg: WorkerMessage) => {
      if (msg.op !== 'result' && msg.op !== 'run-error') return
      const p = msg.id === undefined ? undefined : this.pending.get(msg.id)
      if (p == null || msg.id === undefined) return
      this.pending.delete(msg.id)
      this.updateRef()
      if (msg.op === 'result') p.resolve({ outputs: msg.outputs as TensorMap, wallMs: msg.wallMs ?? 0, cpuMs: msg.cpuMs })
      else p.reject(new InferenceError(InferenceErrorCode.InferenceFailed, `onnxruntime failed: ${msg.message ?? 'unknown error'}`))
    })
    this.worker.on('error', (err) => { this.die(new InferenceError(InferenceErrorCode.InferenceFailed, `the inference worker crashed: ${err.message}`, { cause: err, retryable: true })) })
    this.worker.on('exit', (code) => { this.die(new InferenceError(InferenceErrorCode.InferenceFailed, `the inference worker exited (code ${code})`, { retryable: true })) })
  }

  private die (err: Error): void {
    if (this.dead != null) return
    this.dead = err
    for (const p of this.pending.values()) p.reject(err)
    this.pending.clear()
    if (this.closing == null) this.onCrash?.(err)
  }

  /**
   * Keeps the process alive while the owner has work queued (a duty-cycle pause has no run in
   * flight, and the clock's timers are unref'd). An idle worker never holds the process open.
   */
  setBusy (busy: boolean): void {
    this.busy = busy
    this.updateRef()
  }

  private updateRef (): void {
    if (this.busy || this.pending.size > 0) this.worker.ref()
    else this.worker.unref()
  }

  get alive (): boolean {
    return this.dead == null && this.closing == null
  }

  /** Runs the session once. Tensors are copied to the worker (the caller's arrays stay usable). */
  async run (feeds: TensorMap, fetches?: string[]): Promise<RunOutput> {
    if (this.dead != null) throw this.dead
    if (this.closing != null) throw new InferenceError(InferenceErrorCode.Stopped, 'the session is closing')
    const id = this.nextId++
    const plain: Record<string, { type: string, dims: number[], data: unknown }> = {}
    for (const [name, t] of Object.entries(feeds)) plain[name] = { type: t.type, dims: [...t.dims], data: t.data }
    return await new Promise<RunOutput>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.ref()
      this.worker.postMessage({ op: 'run', id, feeds: plain, fetches })
    })
  }

  /**
   * Releases the session and ends the thread; runs still pending fail. Waits at most `timeoutMs`
   * for the thread to exit: a run still inside onnxruntime delays that, and the thread is never
   * ended under it (it exits when the run returns; the runtime's stop waits for it).
   */
  async close (timeoutMs = 5000): Promise<void> {
    this.closing ??= (async () => {
      if (this.dead != null) return
      await waitAtMost(this.init.clock, this.init.workers.retire(this.worker), timeoutMs)
      this.die(new InferenceError(InferenceErrorCode.Stopped, 'the session was closed'))
    })()
    await this.closing
  }
}

/**
 * A worker thread with onnxruntime imported and no session yet. Starting a worker and importing
 * onnxruntime costs about 150-450 ms on a 2-core machine, the session itself a few ms for a small
 * model: a spare started while the model downloads takes that off the activation.
 */
export class SpareWorker {
  private worker?: Worker
  private dead = false

  private readonly onGone = (): void => { this.dead = true }

  private constructor (private readonly workers: InferenceThreads, worker: Worker) {
    this.worker = worker
    worker.unref()
    worker.on('exit', this.onGone)
    worker.on('error', this.onGone)
  }

  /** Starts a spare; resolves once it is ready, rejects (ERR_MODEL_LOAD) if it fails or takes longer than `timeoutMs`. */
  static async spawn (workers: InferenceThreads, clock: Clock, timeoutMs: number): Promise<SpareWorker> {
    const worker = workers.spawn()
    worker.ref()
    await new Promise<void>((resolve, reject) => {
      const timer = clock.setTimeout(() => { done(new InferenceError(InferenceErrorCode.ModelLoad, `a spare inference worker took longer than ${timeoutMs} ms to start`)) }, timeoutMs)
      const onMessage = (msg: WorkerMessage): void => { if (msg.op === 'spare-ready') done() }
      const onError = (err: Error): void => { done(new InferenceError(InferenceErrorCode.ModelLoad, `a spare inference worker failed: ${err.message}`, { cause: err })) }
      const onExit = (code: number): void => { done(new InferenceError(InferenceErrorCode.ModelLoad, `a spare inference worker exited (code ${code})`)) }
      const done = (err?: Error): void => {
        timer.cancel()
        worker.off('message', onMessage)
        worker.off('error', onError)
        worker.off('exit', onExit)
        if (err == null) {
          resolve()
        } else {
          void workers.retire(worker) // it may still be inside onnxruntime's import
          reject(err)
        }
      }
      worker.on('message', onMessage)
      worker.on('error', onError)
      worker.on('exit', onExit)
    })
    worker.unref()
    return new SpareWorker(workers, worker)
  }

  get alive (): boolean {
    return !this.dead && this.worker != null
  }

  /** Hands the worker over (once); undefined when it already went or died. */
  take (): Worker | undefined {
    const w = this.alive ? this.worker : undefined
    this.worker = undefined
    w?.off('exit', this.onGone)
    w?.off('error', this.onGone)
    return w
  }

  /** Ends the spare if nobody took it. */
  async close (): Promise<void> {
    const w = this.worker
    this.worker = undefined
    if (w != null) await this.workers.retire(w)
  }
}
