// One onnxruntime session on its own thread: `session.run()` blocks whatever thread calls it, so
// it must never be the node's main thread. This file is plain ESM JavaScript on purpose: a worker
// does not inherit the tsx loader the node runs under (bin/tutti.js registers it in the main
// thread only) and vitest's module runner does not reach workers either, so a `.ts` worker would
// load in one of them and fail in the other. Keep it small; every decision lives in TypeScript on
// the main thread (session-worker.ts, instance.ts). Messages are documented there.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { parentPort, workerData } from 'node:worker_threads'
import ort from 'onnxruntime-node'

const port = parentPort
if (port == null) throw new Error('worker.js must run as a worker thread')

// ---- CPU metering --------------------------------------------------------------------------------
// What a throttled model is charged must be the CPU its threads really used: this thread (where
// onnxruntime runs a session with one intra-op thread) plus the pool threads onnxruntime starts for
// a session with more. On Linux every thread's run time is in /proc/self/task/<tid>/schedstat (ns).
// Those counters, like getrusage's, lag by up to a scheduler tick for a thread that is running, so
// a single run measured start-to-end is biased low by a few ms; the meter is therefore read once
// per run, at its end, and each run is charged the difference from the previous reading: the lag
// cancels out over a series, and work between runs (decoding requests) is charged too.

function listTids () {
  try {
    return readdirSync('/proc/self/task')
  } catch {
    return undefined
  }
}

function ownTid () {
  try {
    return readlinkSync('/proc/thread-self').split('/').pop()
  } catch {
    return undefined
  }
}

function threadRunMs (tid) {
  try {
    return Number(readFileSync(`/proc/self/task/${tid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    return 0 // a pool thread that ended has nothing more to charge
  }
}

/** Returns a cumulative CPU clock in ms for this session's threads, or undefined when none is available. */
function makeMeter (poolTids) {
  const self = ownTid()
  const probe = self === undefined ? 0 : threadRunMs(self)
  if (self !== undefined && Number.isFinite(probe) && probe > 0) {
    const tids = [self, ...poolTids]
    return () => tids.reduce((sum, tid) => sum + threadRunMs(tid), 0)
  }
  if (params.threads === 1 && typeof process.threadCpuUsage === 'function') {
    return () => {
      const u = process.threadCpuUsage()
      return (u.user + u.system) / 1000
    }
  }
  return undefined // the main thread charges wall time × threads instead
}

let meter
let lastCpuMs

// ---- session -------------------------------------------------------------------------------------

function describe (names, metadata) {
  return names.map((name, i) => {
    const m = metadata?.[i]
    if (m == null || m.isTensor === false) return { name, type: 'unknown', shape: [] }
    return { name, type: m.type, shape: m.shape }
  })
}

function plainTensor (tensor) {
  return { type: tensor.type, dims: Array.from(tensor.dims), data: tensor.data }
}

/** Output buffers that this thread owns outright are moved, not copied, to the main thread. */
function transferables (outputs) {
  const list = []
  for (const t of Object.values(outputs)) {
    const d = t.data
    if (ArrayBuffer.isView(d) && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength && !(d.buffer instanceof SharedArrayBuffer)) {
      list.push(d.buffer)
    }
  }
  return list
}

let session
/** What to load: from workerData at start, or from the 'load' message of a spare worker. */
let params
/**
 * The load in progress. `InferenceSession.create` is a native call, and ending the thread under
 * it aborts the whole process, so 'close' waits for it (the main thread never terminates us).
 */
let loading
/** Set by 'close': nothing new starts, and the thread exits once what is running has returned. */
let closing = false

async function load () {
  const rssBefore = process.memoryUsage.rss()
  const started = performance.now()
  // Threads that appear while the session is created are its pool (the runtime loads one model at
  // a time, so no other session's threads appear meanwhile).
  const tidsBefore = params.measureCpu === true ? listTids() : undefined
  try {
    session = await ort.InferenceSession.create(params.path, params.sessionOptions)
  } catch (err) {
    port.postMessage({ op: 'load-error', message: err instanceof Error ? err.message : String(err) })
    return
  }
  if (params.measureCpu === true) {
    const after = listTids()
    const pool = tidsBefore === undefined || after === undefined ? [] : after.filter(t => !tidsBefore.includes(t))
    meter = makeMeter(pool)
    lastCpuMs = meter?.()
  }
  port.postMessage({
    op: 'ready',
    inputs: describe(session.inputNames, session.inputMetadata),
    outputs: describe(session.outputNames, session.outputMetadata),
    rssDeltaBytes: Math.max(0, process.memoryUsage.rss() - rssBefore),
    loadMs: performance.now() - started
  })
}

async function run (msg) {
  if (closing) {
    port.postMessage({ op: 'run-error', id: msg.id, message: 'the session is closing' })
    return
  }
  const feeds = {}
  try {
    for (const [name, t] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims)
  } catch (err) {
    port.postMessage({ op: 'run-error', id: msg.id, message: err instanceof Error ? err.message : String(err) })
    return
  }
  const started = performance.now()
  let results
  try {
    results = msg.fetches == null ? await session.run(feeds) : await session.run(feeds, msg.fetches)
  } catch (err) {
    port.postMessage({ op: 'run-error', id: msg.id, message: err instanceof Error ? err.message : String(err) })
    return
  }
  const wallMs = performance.now() - started
  let cpuMs
  if (meter !== undefined) {
    const now = meter()
    cpuMs = Math.max(0, now - lastCpuMs)
    lastCpuMs = now
  }
  const outputs = {}
  for (const [name, t] of Object.entries(results)) outputs[name] = plainTensor(t)
  const reply = { op: 'result', id: msg.id, outputs, wallMs, cpuMs }
  try {
    port.postMessage(reply, transferables(outputs))
  } catch {
    port.postMessage(reply) // a buffer that cannot move (native-backed) is copied instead
  }
}

// Runs execute strictly one after another (the main thread may post the next one early so this
// thread never waits for it); each one's wall time and CPU then belong to it alone.
let queue = Promise.resolve()

port.on('message', (msg) => {
  switch (msg.op) {
    case 'run':
      queue = queue.then(async () => { await run(msg) })
      break
    case 'load':
      if (closing) break
      if (params !== undefined) {
        port.postMessage({ op: 'load-error', message: 'this worker already holds a session' })
        break
      }
      params = msg.params
      loading = load()
      break
    case 'close':
      if (closing) break
      closing = true
      void Promise.resolve(loading).then(async () => await queue).then(async () => await session?.release()).catch(() => {}).finally(() => {
        session = undefined
        port.postMessage({ op: 'closed' })
        port.close()
      })
      break
    default:
      port.postMessage({ op: 'protocol-error', message: `unknown op ${String(msg.op)}` })
  }
})

// A spare (no path yet) has onnxruntime imported and waits for 'load'; otherwise load at once.
if (workerData?.path != null) {
  params = workerData
  loading = load()
} else {
  port.postMessage({ op: 'spare-ready' })
}
