/**
 * Parses OIP request bodies off the main thread. A body of `offThreadBytes` or more goes, its bytes
 * transferred (not copied), to one worker thread (parse-worker.js) that runs the same parser
 * (oip-request.ts) and hands the typed arrays back transferred; smaller bodies are parsed here,
 * where the round trip to the worker would cost more than the parse. The worker starts with the
 * first large body and ends after `idleMs` without one.
 *
 * Messages, main -> worker: `{ id, body }` (body's buffer transferred). Worker -> main:
 * `{ id, request: { id?, outputs?, inputs: [name, { type, dims, data }][] } }` (data buffers
 * transferred) or `{ id, error: { code?, message } }`.
 */
import { isMarkedAsUntransferable, Worker } from 'node:worker_threads'
import { TypedEventEmitter } from 'main-event'
import { systemClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { DEFAULT_PARSE_IDLE_MS, DEFAULT_PARSE_OFF_THREAD_BYTES } from './constants.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import { parseOipBody } from './oip-request.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { OipRequest } from './oip-request.js'
import type { Tensor, TensorMap } from './tensors.js'
import type { AbortOptions } from '@libp2p/interface'

const WORKER_URL = new URL('./parse-worker.js', import.meta.url)

export interface OipBodyParserInit {
  /**
   * Bodies of at least this many bytes are parsed in the worker, smaller ones on the calling
   * thread. `Infinity` parses every body on the calling thread and never starts the worker (for a
   * device where a thread's memory matters more than the event loop's latency). @default 64 KiB
   */
  offThreadBytes?: number
  /** The worker ends after this long without a body to parse, ms. @default 60 s */
  idleMs?: number
}

export interface OipBodyParserComponents {
  clock?: Clock
  logger?: Logger
}

export interface ParseEventDetail {
  bytes: number
  offThread: boolean
}

export interface OipBodyParserEvents {
  /** A body is about to be parsed (handed to the worker, or parsed here now). */
  'parse:start': CustomEvent<ParseEventDetail>
  /** A body has been parsed, or failed to parse. */
  'parse:end': CustomEvent<ParseEventDetail>
}

interface WireRequest {
  id?: string
  outputs?: string[]
  inputs: Array<[string, Tensor]>
}

interface WorkerReply {
  id: number
  request?: WireRequest
  error?: { code?: string, message: string }
}

interface Pending {
  resolve: (request: OipRequest) => void
  reject: (err: Error) => void
}

/** The error a worker reported, rebuilt with the same code and message (hence the same response). */
function rebuild (error: { code?: string, message: string }): Error {
  const codes: string[] = Object.values(InferenceErrorCode)
  if (error.code !== undefined && codes.includes(error.code)) return new InferenceError(error.code as InferenceErrorCode, error.message)
  return new Error(error.message)
}

/** The body's bytes as a buffer that can be transferred: its own when it owns all of it, else a copy. */
function transferable (body: Uint8Array): Uint8Array {
  const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength
  if (whole && body.buffer instanceof ArrayBuffer && !isMarkedAsUntransferable(body.buffer)) return body
  return new Uint8Array(body) // a copy (a small Buffer is a view of Node's shared pool)
}

export class OipBodyParser extends TypedEventEmitter<OipBodyParserEvents> {
  private readonly clock: Clock
  private readonly log: Logger
  readonly offThreadBytes: number
  private readonly idleMs: number
  private worker?: Worker
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private idle?: TimerHandle
  private closed = false

  constructor (components: OipBodyParserComponents = {}, init: OipBodyParserInit = {}) {
    super()
    this.clock = components.clock ?? systemClock
    this.log = (components.logger ?? silentLogger).child('oip-parser')
    this.offThreadBytes = init.offThreadBytes ?? DEFAULT_PARSE_OFF_THREAD_BYTES
    this.idleMs = init.idleMs ?? DEFAULT_PARSE_IDLE_MS
    if (!(this.offThreadBytes >= 0)) throw new RangeError('offThreadBytes must be a number >= 0 (Infinity: never off the thread)')
    if (!(Number.isFinite(this.idleMs) && this.idleMs > 0)) throw new RangeError('idleMs must be a number > 0')
  }

  /**
   * Parses a request body; throws ERR_INVALID_INPUT exactly as parseOipBody does. A body handed to
   * the worker is transferred: the caller's `body` is empty afterwards.
   */
  async parse (body: Uint8Array, options: AbortOptions = {}): Promise<OipRequest> {
    options.signal?.throwIfAborted()
    const detail: ParseEventDetail = { bytes: body.byteLength, offThread: !this.closed && body.byteLength >= this.offThreadBytes }
    this.safeDispatchEvent('parse:start', { detail })
    try {
      if (!detail.offThread) return parseOipBody(body)
      return await this.inWorker(body, options)
    } finally {
      this.safeDispatchEvent('parse:end', { detail })
    }
  }

  private async inWorker (body: Uint8Array, options: AbortOptions): Promise<OipRequest> {
    const worker = this.ensureWorker()
    const id = this.nextId++
    const bytes = transferable(body)
    return await new Promise<OipRequest>((resolve, reject) => {
      const onAbort = (): void => {
        // The worker still parses it (a parse cannot be interrupted); its answer is dropped.
        if (this.pending.delete(id)) this.settled()
        reject(options.signal?.reason)
      }
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): void => { options.signal?.removeEventListener('abort', onAbort) }
      this.pending.set(id, {
        resolve: (r) => { done(); resolve(r) },
        reject: (e) => { done(); reject(e) }
      })
      worker.ref()
      worker.postMessage({ id, body: bytes }, [bytes.buffer as ArrayBuffer])
    })
  }

  private ensureWorker (): Worker {
    this.idle?.cancel()
    this.idle = undefined
    if (this.worker != null) return this.worker
    const worker = new Worker(WORKER_URL, { stdout: false, stderr: false })
    this.worker = worker
    worker.on('message', (msg: WorkerReply) => {
      const p = this.pending.get(msg.id)
      if (p == null) return
      this.pending.delete(msg.id)
      this.settled()
      if (msg.error != null) {
        p.reject(rebuild(msg.error))
        return
      }
      const wire = msg.request as WireRequest
      const inputs: TensorMap = {}
      for (const [name, tensor] of wire.inputs) inputs[name] = tensor
      p.resolve({ id: wire.id, inputs, outputs: wire.outputs })
    })
    const gone = (err: Error): void => {
      if (this.worker !== worker) return
      this.worker = undefined
      const pending = [...this.pending.values()]
      this.pending.clear()
      if (pending.length > 0) this.log.warn('the request parser worker failed', { err, pending: pending.length })
      for (const p of pending) p.reject(err)
      this.settled()
    }
    worker.on('error', (err) => { gone(new InferenceError(InferenceErrorCode.InferenceFailed, `the request parser failed: ${err.message}`, { cause: err, retryable: true })) })
    worker.on('exit', (code) => { gone(new InferenceError(InferenceErrorCode.InferenceFailed, `the request parser exited (code ${code})`, { retryable: true })) })
    return worker
  }

  /** After an answer: let the process exit if nothing waits, and end the worker once it idles long enough. */
  private settled (): void {
    if (this.pending.size > 0) return
    const worker = this.worker
    if (worker == null) return
    worker.unref()
    this.idle?.cancel()
    this.idle = this.clock.setTimeout(() => {
      if (this.worker !== worker || this.pending.size > 0) return
      this.worker = undefined
      void worker.terminate()
    }, this.idleMs)
  }

  /** Whether the worker thread is started (it is between the first large body and `idleMs` after the last). */
  get workerRunning (): boolean {
    return this.worker != null
  }

  /** Bodies in the worker now. */
  get inFlight (): number {
    return this.pending.size
  }

  /** Ends the worker; bodies still in it fail with ERR_RUNTIME_STOPPED. Later bodies are parsed on the calling thread. */
  async close (): Promise<void> {
    this.closed = true
    this.idle?.cancel()
    this.idle = undefined
    const worker = this.worker
    this.worker = undefined
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const p of pending) p.reject(new InferenceError(InferenceErrorCode.Stopped, 'the request parser stopped'))
    await worker?.terminate()
  }
}
