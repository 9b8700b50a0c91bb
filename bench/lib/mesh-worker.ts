/**
 * Runs one mesh benchmark run in a worker thread: its own event loop and its own copy of every
 * module, so nothing one run leaves behind (timers, module state such as xsalsa20's shared WASM
 * memory in @libp2p/pnet) reaches the next. Posts log lines, then the result.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { runBaseline, runTutti, seededKeys } from './mesh-runs.js'
import type { MeshJob, RunSpec } from './mesh-runs.js'

const job = workerData as MeshJob
const port = parentPort
if (port == null) throw new Error('mesh-worker.ts runs only as a worker thread')

const spec: RunSpec = {
  ...job,
  keys: await seededKeys(job.keySeed, job.size),
  log: line => { port.postMessage({ kind: 'log', line }) }
}
const result = job.system === 'tutti' ? await runTutti(spec) : await runBaseline(spec)
port.postMessage({ kind: 'result', result })
