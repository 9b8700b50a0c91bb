/**
 * The main thread's event-loop delay while the HTTP API takes large OIP request bodies (issue 10,
 * item 7: "32 concurrent 15 MiB bodies block the event loop 25-40 s and the fleet declares the
 * node dead").
 *
 *   npm run bench -- http-bodies [--clients 32] [--body-mib 15] [--phase-s 10] [--modes in-thread,off-thread]
 *
 * The measured side is this process's main thread: a real ApiServer with the OIP routes and an
 * InferenceRuntime holding one model that takes the bodies (x float32 [batch, 8], y = mean(x), so
 * the response is one number and only the request's cost is measured). `--clients` HTTP clients
 * run in a worker thread (their sending costs this event loop nothing) and POST the same valid
 * `--body-mib` body back to back; a 503 (the API handles `maxConcurrentBodies` bodies at a time)
 * is retried after 20 ms. Per mode, first an idle phase (server up, no clients: the baseline),
 * then a loaded one, `--phase-s` each, with monitorEventLoopDelay (1 ms resolution) over each.
 *
 * Modes, both real settings of OipBodyParser: `in-thread` (offThreadBytes: Infinity, every body
 * JSON-parsed and decoded on the event loop, as before the parser worker) and `off-thread`
 * (the default, 64 KiB: such bodies are parsed in the parser's worker thread).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import onnxProto from 'onnx-proto'
import { silentLogger } from '../core/logger.js'
import { ApiRouter, startApiServer } from '../node/api/http.js'
import { OipBodyParser } from '../node/inference/body-parser.js'
import { DEFAULT_PARSE_OFF_THREAD_BYTES } from '../node/inference/constants.js'
import { registerOipRoutes } from '../node/inference/oip.js'
import { InferenceRuntime } from '../node/inference/runtime.js'
import { writeTestModel } from '../node/inference/testing/models.js'
import { encodeModel } from '../node/models/testing/onnx-builder.js'
import { fmt, machine, print, table, writeResults } from './lib/stats.js'

type Mode = 'in-thread' | 'off-thread'

interface Options {
  clients: number
  bodyMiB: number
  phaseS: number
  modes: Mode[]
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      clients: { type: 'string', default: '32' },
      'body-mib': { type: 'string', default: '15' },
      'phase-s': { type: 'string', default: '10' },
      modes: { type: 'string', default: 'in-thread,off-thread' }
    }
  })
  const modes = values.modes.split(',').map(m => m.trim())
  for (const m of modes) if (m !== 'in-thread' && m !== 'off-thread') throw new Error(`unknown mode "${m}" (in-thread, off-thread)`)
  return { clients: Number(values.clients), bodyMiB: Number(values['body-mib']), phaseS: Number(values['phase-s']), modes: modes as Mode[] }
}

/** A valid request of about `bytes` bytes: x float32 [rows, 8], values of 10-11 characters. */
function makeBody (bytes: number): Buffer {
  const row = '[0.12345678,-0.2345678,0.3456789,0.45678901,-0.5678901,0.67890123,0.78901234,-0.8901234]'
  const rows = Math.max(1, Math.floor(bytes / (row.length + 1)))
  return Buffer.from(`{"inputs":[{"name":"x","shape":[${rows},8],"datatype":"FP32","data":[${new Array(rows).fill(row).join(',')}]}]}`)
}

/** The clients, in a worker thread. Plain CommonJS (an eval worker); reports counts when the time is up. */
const CLIENTS = `
const { parentPort, workerData } = require('node:worker_threads')
const http = require('node:http')
const { url, body, clients, seconds } = workerData
const agent = new http.Agent({ keepAlive: true, maxSockets: clients })
const counts = { ok: 0, busy: 0, other: 0, failed: 0 }
const end = Date.now() + seconds * 1000
const post = () => new Promise(resolve => {
  const req = http.request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': body.length } }, res => {
    res.resume()
    res.on('end', () => resolve(res.statusCode))
    res.on('error', () => resolve(0))
  })
  req.on('error', () => resolve(0))
  req.end(body)
})
const loop = async () => {
  while (Date.now() < end) {
    const status = await post()
    if (status === 200) counts.ok++
    else if (status === 503) counts.busy++
    else if (status === 0) counts.failed++
    else counts.other++
    if (status !== 200) await new Promise(r => setTimeout(r, 20))
  }
}
Promise.all(Array.from({ length: clients }, loop)).then(() => { agent.destroy(); parentPort.postMessage(counts) })
`

interface Counts { ok: number, busy: number, other: number, failed: number }

async function runClients (url: string, body: Buffer, clients: number, seconds: number): Promise<Counts> {
  const worker = new Worker(CLIENTS, { eval: true, workerData: { url, body, clients, seconds } })
  try {
    return await new Promise<Counts>((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
      worker.once('exit', code => { reject(new Error(`the client worker exited (code ${code})`)) })
    })
  } finally {
    await worker.terminate()
  }
}

interface Delay { p50Ms: number, p99Ms: number, maxMs: number, meanMs: number }

async function measure<T> (fn: () => Promise<T>): Promise<{ delay: Delay, value: T }> {
  const eld = monitorEventLoopDelay({ resolution: 1 })
  eld.enable()
  const value = await fn()
  eld.disable()
  const ms = (ns: number): number => ns / 1e6
  return { value, delay: { p50Ms: ms(eld.percentile(50)), p99Ms: ms(eld.percentile(99)), maxMs: ms(eld.max), meanMs: ms(eld.mean) } }
}

async function main (): Promise<void> {
  const options = parseOptions(process.argv.slice(2))
  const dir = await mkdtemp(join(tmpdir(), 'tutti-http-bodies-'))
  const runtime = new InferenceRuntime({}, {})
  runtime.start()
  const built = encodeModel({ name: 'mean', node: [{ opType: 'ReduceMean', input: ['x'], output: ['y'], attribute: [{ name: 'keepdims', type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 0 }] }] },
    [{ name: 'x', type: 'float32', shape: ['batch', 8] }], [{ name: 'y', type: 'float32', shape: [] }])
  await runtime.activate(await writeTestModel(dir, 'mean', '1.0.0', built), { cpu: '1' })
  const body = makeBody(options.bodyMiB * 1024 * 1024)
  print(`http-bodies: ${options.clients} clients, ${fmt(body.byteLength / 2 ** 20)} MiB bodies, ${options.phaseS} s phases, modes ${options.modes.join(', ')}`)

  const results: Array<Record<string, unknown>> = []
  const rows: string[][] = []
  try {
    for (const mode of options.modes) {
      const router = new ApiRouter()
      const parser = registerOipRoutes(router, runtime, { parser: new OipBodyParser({}, { offThreadBytes: mode === 'in-thread' ? Infinity : DEFAULT_PARSE_OFF_THREAD_BYTES }) })
      const api = await startApiServer({ router, logger: silentLogger, port: 0 })
      try {
        const url = `${api.url}/v2/models/mean/infer`
        const idle = await measure(async () => { await sleep(options.phaseS * 1000) })
        const load = await measure(async () => await runClients(url, body, options.clients, options.phaseS))
        const c = load.value
        results.push({ mode, idle: idle.delay, load: load.delay, responses: c, inferencesPerS: c.ok / options.phaseS })
        for (const [phase, d] of [['idle', idle.delay], ['load', load.delay]] as const) {
          rows.push([`${mode} ${phase}`, fmt(d.p50Ms), fmt(d.p99Ms), fmt(d.maxMs), phase === 'load' ? String(c.ok) : '', phase === 'load' ? String(c.busy + c.failed + c.other) : ''])
        }
      } finally {
        await api.close()
        await parser.close()
      }
    }
  } finally {
    await runtime.stop()
    await rm(dir, { recursive: true, force: true })
  }
  print()
  print(table(['main-thread event-loop delay', 'p50 ms', 'p99 ms', 'max ms', '200s', 'refused'], rows))
  const file = await writeResults('http-bodies', { options, bodyBytes: body.byteLength, machine: machine(), results })
  print(`\nresults: ${file}`)
}

await main()
