/**
 * Local inference: what running models through Tutti's runtime (a worker thread per model version,
 * limits, metrics) costs against calling onnxruntime directly, and whether the CPU limit holds.
 *
 *   npm run bench -- inference [--iterations 300] [--window-ms 4000] [--seed 1] [--quick] [--sections 1,2,3,4]
 *   npx tsx bench/inference.ts            (the same, without bench/run.js)
 *
 * 1. In-process path: runtime.infer() p50 / raw session.run() p50 on the main thread, same model,
 *    same thread count (1), one request at a time, blocks of both alternated.
 * 2. OIP over HTTP: p50 latency (one client) and throughput (8 concurrent clients) of Tutti's
 *    /v2/models/{m}/infer against a minimal node:http server calling onnxruntime directly.
 * 3. Event-loop lag p99 (perf_hooks.monitorEventLoopDelay) while the runtime serves a saturating
 *    load, against idle; and, for scale, while plain session.run() serves it on the main thread.
 * 4. CPU limit: under a saturating load, cores used (process CPU time / wall time over a window,
 *    and the worker's own measured thread CPU) against the limit.
 * Inference while the node serves model chunks: bench/inference-serving.ts.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import ort from 'onnxruntime-node'
import { ApiRouter, startApiServer } from '../node/api/http.js'
import { silentLogger } from '../core/logger.js'
import { registerOipRoutes, oipResponse, parseOipRequest } from '../node/inference/oip.js'
import { InferenceRuntime } from '../node/inference/runtime.js'
import { openDirect, SILERO_VAD_PATH } from '../node/inference/testing/direct.js'
import { linearClassifier, matMulChain, writeTestModel } from '../node/inference/testing/models.js'
import { fmt, machine, percentile, print, ratio, seededRandom, table, writeResults } from './lib/stats.js'
import type { InferenceModel } from '../node/inference/runtime.js'
import type { TensorMap } from '../node/inference/tensors.js'
import type { AddressInfo } from 'node:net'

const { values: args } = parseArgs({
  options: {
    iterations: { type: 'string', default: '300' },
    'window-ms': { type: 'string', default: '4000' },
    seed: { type: 'string', default: '1' },
    quick: { type: 'boolean', default: false },
    /** Which sections to run, e.g. `1,4`. */
    sections: { type: 'string' }
  }
})
const quick = args.quick === true
const sections = new Set((args.sections ?? '1,2,3,4').split(',').map(Number))
const ITER = quick ? 60 : Number(args.iterations)
const WINDOW_MS = quick ? 1500 : Number(args['window-ms'])
const random = seededRandom(Number(args.seed))

interface Case {
  label: string
  model: InferenceModel
  inputs: TensorMap
}

function floatInput (name: string, dims: number[]): TensorMap {
  const n = dims.reduce((a, b) => a * b, 1)
  return { [name]: { type: 'float32', dims, data: Float32Array.from({ length: n }, () => random() * 2 - 1) } }
}

function vadInputs (): TensorMap {
  return {
    input: { type: 'float32', dims: [1, 512], data: Float32Array.from({ length: 512 }, (_, i) => Math.sin(i / 5) * 0.5 + (random() - 0.5) * 0.05) },
    sr: { type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
    h: { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) },
    c: { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) }
  }
}

function oipBody (inputs: TensorMap): string {
  return JSON.stringify({
    inputs: Object.entries(inputs).map(([name, t]) => ({
      name,
      shape: [...t.dims],
      datatype: t.type === 'int64' ? 'INT64' : 'FP32',
      data: t.type === 'int64' ? Array.from(t.data as BigInt64Array, Number) : Array.from(t.data as Float32Array)
    }))
  })
}

async function time (fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

// 1. in-process path ------------------------------------------------------------------------------

async function inProcess (runtime: InferenceRuntime, cases: Case[]): Promise<Array<Record<string, number | string>>> {
  const out: Array<Record<string, number | string>> = []
  for (const c of cases) {
    const direct = await openDirect(c.model.path, 1)
    const feeds = direct.feeds(c.inputs)
    const raw: number[] = []
    const viaRuntime: number[] = []
    for (let i = 0; i < 20; i++) {
      await direct.runRaw(feeds)
      await runtime.infer(c.model.name, undefined, c.inputs)
    }
    const block = 25
    const busy = (): { busyMs: number, runs: number } => {
      const m = runtime.metrics().find(x => x.name === c.model.name && x.role === 'active')!
      return { busyMs: m.cpu.busyMs, runs: m.latencyMs.count }
    }
    const before = busy()
    for (let done = 0; done < ITER; done += block) {
      for (let i = 0; i < block; i++) raw.push(await time(async () => await direct.runRaw(feeds)))
      for (let i = 0; i < block; i++) viaRuntime.push(await time(async () => await runtime.infer(c.model.name, undefined, c.inputs)))
    }
    const after = busy()
    await direct.release()
    const rawP50 = percentile(raw, 50)
    const rtP50 = percentile(viaRuntime, 50)
    out.push({
      model: c.label,
      rawP50Ms: rawP50,
      runtimeP50Ms: rtP50,
      rawP99Ms: percentile(raw, 99),
      runtimeP99Ms: percentile(viaRuntime, 99),
      ratio: ratio(rtP50, rawP50),
      overheadP50Ms: rtP50 - rawP50,
      rawMeanMs: raw.reduce((a, b) => a + b, 0) / raw.length,
      // session.run() inside the worker, as the worker timed it: separates messaging from compute
      workerRunMeanMs: (after.busyMs - before.busyMs) / (after.runs - before.runs)
    })
  }
  return out
}

// 2. OIP over HTTP ----------------------------------------------------------------------------------

/** The baseline: the least a server can do, parse JSON, session.run() on the main thread, JSON out. */
async function minimalServer (path: string): Promise<{ url: string, close: () => Promise<void> }> {
  const session = await ort.InferenceSession.create(path, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' })
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      void (async () => {
        const request = parseOipRequest(JSON.parse(Buffer.concat(chunks).toString('utf8')))
        const feeds: Record<string, InstanceType<typeof ort.Tensor>> = {}
        for (const [name, t] of Object.entries(request.inputs)) feeds[name] = new ort.Tensor(t.type, t.data as Float32Array, [...t.dims])
        const results = await session.run(feeds)
        const outputs: TensorMap = {}
        for (const [name, t] of Object.entries(results)) outputs[name] = { type: t.type as 'float32', dims: [...t.dims], data: t.data as Float32Array }
        const text = JSON.stringify(oipResponse({ modelName: 'm', modelVersion: '1', outputs }))
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
        res.end(text)
      })()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>(resolve => server.close(() => { resolve() }))
      await session.release()
    }
  }
}

async function post (url: string, body: string): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
  if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${await res.text()}`)
  await res.arrayBuffer()
}

async function httpLoad (url: string, body: string): Promise<{ p50Ms: number, p99Ms: number, rps: number }> {
  for (let i = 0; i < 30; i++) await post(url, body)
  const lat: number[] = []
  for (let i = 0; i < ITER; i++) lat.push(await time(async () => { await post(url, body) }))
  let count = 0
  const until = performance.now() + WINDOW_MS / 2
  const started = performance.now()
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (performance.now() < until) {
      await post(url, body)
      count++
    }
  }))
  return { p50Ms: percentile(lat, 50), p99Ms: percentile(lat, 99), rps: count / ((performance.now() - started) / 1000) }
}

async function overHttp (runtime: InferenceRuntime, cases: Case[]): Promise<Array<Record<string, number | string>>> {
  const router = new ApiRouter()
  registerOipRoutes(router, runtime)
  const api = await startApiServer({ router, logger: silentLogger, port: 0 })
  const out: Array<Record<string, number | string>> = []
  try {
    for (const c of cases) {
      const body = oipBody(c.inputs)
      const baseline = await minimalServer(c.model.path)
      const b = await httpLoad(`${baseline.url}/v2/models/m/infer`, body)
      await baseline.close()
      const t = await httpLoad(`${api.url}/v2/models/${c.model.name}/infer`, body)
      out.push({ model: c.label, bodyBytes: body.length, tuttiP50Ms: t.p50Ms, baseP50Ms: b.p50Ms, p50Ratio: ratio(t.p50Ms, b.p50Ms), tuttiRps: t.rps, baseRps: b.rps, rpsRatio: ratio(t.rps, b.rps) })
    }
  } finally {
    await api.close()
  }
  return out
}

// 3. event-loop lag ---------------------------------------------------------------------------------

async function lagP99 (work: (until: number) => Promise<void>): Promise<number> {
  const h = monitorEventLoopDelay({ resolution: 1 })
  h.enable()
  await work(performance.now() + WINDOW_MS)
  h.disable()
  return h.percentile(99) / 1e6
}

async function eventLoop (runtime: InferenceRuntime, c: Case): Promise<Record<string, number>> {
  const idle = await lagP99(async (until) => { await sleep(until - performance.now()) })
  const busy = await lagP99(async (until) => {
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (performance.now() < until) await runtime.infer(c.model.name, undefined, c.inputs)
    }))
  })
  const direct = await openDirect(c.model.path, 1)
  const feeds = direct.feeds(c.inputs)
  const mainThread = await lagP99(async (until) => {
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (performance.now() < until) await direct.runRaw(feeds)
    }))
  })
  await direct.release()
  const single = await time(async () => await runtime.infer(c.model.name, undefined, c.inputs))
  return { idleP99Ms: idle, runtimeP99Ms: busy, ratio: ratio(busy, idle), mainThreadP99Ms: mainThread, runMs: single }
}

// 4. CPU limit --------------------------------------------------------------------------------------

async function cpuLimit (dir: string, cpu: string): Promise<Record<string, number | string | boolean>> {
  const runtime = new InferenceRuntime({}, {})
  runtime.start()
  const model = await writeTestModel(dir, `cpu-${cpu}`, '1.0.0', matMulChain({ size: 256, depth: 48 }))
  const status = await runtime.activate(model, { cpu })
  const inputs = floatInput('x', [128, 256])
  for (let i = 0; i < 10; i++) await runtime.infer(model.name, undefined, inputs)
  let stop = false
  const load = Promise.all(Array.from({ length: 8 }, async () => {
    while (!stop) await runtime.infer(model.name, undefined, inputs)
  }))
  await sleep(300)
  const before = runtime.metrics()[0]!
  const cpu0 = process.cpuUsage()
  const main0 = process.threadCpuUsage()
  const t0 = performance.now()
  await sleep(WINDOW_MS)
  const cpu1 = process.cpuUsage(cpu0)
  const main1 = process.threadCpuUsage(main0)
  const wall = performance.now() - t0
  const after = runtime.metrics()[0]!
  stop = true
  await load
  await runtime.stop()
  const processCores = (cpu1.user + cpu1.system) / 1000 / wall
  const mainThreadCores = (main1.user + main1.system) / 1000 / wall
  const workerCores = (after.cpu.cpuMs - before.cpu.cpuMs) / wall
  return {
    limit: cpu,
    limitCores: status.cpu.cores,
    threads: status.cpu.intraOpThreads,
    throttled: status.cpu.throttled,
    workerCores,
    processCores,
    mainThreadCores,
    /** Everything but the main thread: the worker and onnxruntime's threads (and GC helpers). */
    offMainCores: processCores - mainThreadCores,
    requestsPerSec: (after.requests - before.requests) / (wall / 1000),
    workerOverLimit: workerCores / status.cpu.cores
  }
}

// ---------------------------------------------------------------------------------------------------

type Row = Record<string, number | string | boolean>

async function sectionInProcess (runtime: InferenceRuntime, cases: Case[]): Promise<Row[]> {
  print('## 1. in-process: runtime.infer() vs raw session.run() (1 thread, sequential)')
  const rows = await inProcess(runtime, cases)
  print(table(['model', 'raw p50 ms', 'runtime p50 ms', 'ratio', 'overhead ms', 'raw p99', 'runtime p99', 'raw mean', 'in-worker run mean'],
    rows.map(r => [String(r.model), fmt(r.rawP50Ms as number, 3), fmt(r.runtimeP50Ms as number, 3), fmt(r.ratio as number, 3), fmt(r.overheadP50Ms as number, 3), fmt(r.rawP99Ms as number, 3), fmt(r.runtimeP99Ms as number, 3), fmt(r.rawMeanMs as number, 3), fmt(r.workerRunMeanMs as number, 3)])))
  print()
  return rows
}

async function sectionHttp (runtime: InferenceRuntime, cases: Case[]): Promise<Row[]> {
  print('## 2. OIP over HTTP: Tutti ApiRouter + runtime vs minimal node:http + session.run()')
  const rows = await overHttp(runtime, cases)
  print(table(['model', 'body B', 'tutti p50', 'base p50', 'ratio', 'tutti req/s', 'base req/s', 'ratio'],
    rows.map(r => [String(r.model), String(r.bodyBytes), fmt(r.tuttiP50Ms as number, 3), fmt(r.baseP50Ms as number, 3), fmt(r.p50Ratio as number, 2), fmt(r.tuttiRps as number, 0), fmt(r.baseRps as number, 0), fmt(r.rpsRatio as number, 2)])))
  print()
  return rows
}

async function sectionEventLoop (runtime: InferenceRuntime, c: Case): Promise<Record<string, number>> {
  print(`## 3. event-loop lag p99 (monitorEventLoopDelay, 1 ms resolution), 4 clients on ${c.label}`)
  const lag = await eventLoop(runtime, c)
  print(table(['idle p99 ms', 'runtime p99 ms', 'ratio', 'main-thread session.run p99 ms', 'one run ms'],
    [[fmt(lag.idleP99Ms!, 2), fmt(lag.runtimeP99Ms!, 2), fmt(lag.ratio!, 2), fmt(lag.mainThreadP99Ms!, 2), fmt(lag.runMs!, 2)]]))
  print()
  return lag
}

async function sectionCpu (dir: string): Promise<Row[]> {
  print(`## 4. CPU limit under saturation (8 clients, batch-128 chain, ${WINDOW_MS} ms window)`)
  const rows: Row[] = []
  for (const limit of ['250m', '500m', '1', '1500m']) rows.push(await cpuLimit(dir, limit))
  print(table(['limit', 'threads', 'throttled', 'charged cores', 'process cores', 'main thread', 'off-main cores', 'off-main/limit', 'req/s'],
    rows.map(r => [String(r.limit), String(r.threads), String(r.throttled), fmt(r.workerCores as number, 3), fmt(r.processCores as number, 3), fmt(r.mainThreadCores as number, 3), fmt(r.offMainCores as number, 3), fmt((r.offMainCores as number) / (r.limitCores as number), 3), fmt(r.requestsPerSec as number, 0)])))
  print()
  return rows
}

async function main (): Promise<void> {
  const started = performance.now()
  const dir = await mkdtemp(join(tmpdir(), 'tutti-bench-inference-'))
  const runtime = new InferenceRuntime({}, {})
  runtime.start()
  try {
    const tiny = await writeTestModel(dir, 'tiny', '1.0.0', linearClassifier({ features: 64, classes: 10 }))
    const chain = await writeTestModel(dir, 'chain', '1.0.0', matMulChain({ size: 256, depth: 48 }))
    const vad: InferenceModel = { name: 'vad', version: '4.0.0', path: SILERO_VAD_PATH, inputs: [], outputs: [], memoryEstimateBytes: 32 * 2 ** 20 }
    for (const m of [tiny, chain, vad]) await runtime.activate(m, { cpu: '1' })
    const cases: Case[] = [
      { label: 'linear 64x10, batch 1', model: tiny, inputs: floatInput('x', [1, 64]) },
      { label: 'silero-vad, 512 samples', model: vad, inputs: vadInputs() },
      { label: 'matmul chain 256x48, batch 16', model: chain, inputs: floatInput('x', [16, 256]) },
      { label: 'matmul chain 256x48, batch 256', model: chain, inputs: floatInput('x', [256, 256]) }
    ]

    const inproc = sections.has(1) ? await sectionInProcess(runtime, cases) : []
    const http = sections.has(2) ? await sectionHttp(runtime, cases.slice(0, 3)) : []
    const lag = sections.has(3) ? await sectionEventLoop(runtime, cases[3]!) : undefined
    const cpu = sections.has(4) ? await sectionCpu(dir) : []

    const file = await writeResults(sections.size === 4 ? 'inference' : 'inference-partial', {
      benchmark: 'inference',
      date: new Date().toISOString(),
      machine: machine(),
      options: { iterations: ITER, windowMs: WINDOW_MS, seed: Number(args.seed), quick, sections: [...sections] },
      totalSeconds: (performance.now() - started) / 1000,
      inProcess: inproc,
      http,
      eventLoop: lag,
      cpuLimit: cpu
    })
    print(`results: ${file}`)
  } finally {
    await runtime.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

await main()
