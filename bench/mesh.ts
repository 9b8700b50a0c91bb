/**
 * Mesh join time and heartbeat propagation latency of real Tutti nodes on the in-process memory
 * transport, side by side with a baseline of plain gossipsub nodes on the same libp2p stack
 * publishing a payload of the same size at the same interval.
 *
 *   npm run bench -- mesh [--sizes 10,50] [--reps 2,1] [--interval-ms 500,15000]
 *                         [--window-ms 10000,15000] [--start-gap-ms 0] [--settle-ms 2000]
 *                         [--seed 1] [--systems tutti,baseline]
 *
 * --reps, --interval-ms, --window-ms and --start-gap-ms take one value per size, or one for all.
 * By default meshes of up to 20 nodes run twice at a 500 ms interval, larger ones once at 15 s
 * (all nodes of a run share one event loop); the window is max(10 s, one interval). Every run gets
 * a fresh worker thread of this process; runs go one at a time, never concurrently, alternating
 * which system goes first. Results: bench/results/mesh.json. See docs/BENCHMARKS.md.
 */
import os from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { DEFAULT_INTERVAL, targetIntervalMs } from '../node/membership/interval.js'
import { readDeviceProperties } from '../node/telemetry/props.js'
import { NODE_VERSION } from '../node/version.js'
import { encodeHeartbeat } from '../protocols/heartbeat/index.js'
import { createTestFleet } from '../sim/local-mesh.js'
import { fmt, machine, mean, median, percentile, print, ratio, sum, table, writeResults } from './lib/stats.js'
import { failedRun } from './lib/mesh-runs.js'
import type { MeshJob, RunResult, System } from './lib/mesh-runs.js'

/**
 * Meshes up to this size run twice at a 500 ms interval by default; larger ones once, at a longer
 * interval, because all nodes of a run share one event loop.
 */
const SMALL_MESH = 20

/**
 * Default interval for larger meshes, in ms. At Tutti's default 5 s, 50 nodes on one event loop
 * saturate it (see docs/BENCHMARKS.md); at 15 s they leave it about a third idle.
 */
const LARGE_MESH_INTERVAL_MS = 15_000

/** How long a worker may take to end by itself once its run is over, in ms. */
const WORKER_EXIT_GRACE_MS = 10_000

interface Options {
  sizes: number[]
  reps: number[]
  intervalMs: number[]
  startGapMs: number[]
  windowMs: number[]
  settleMs: number
  seed: number
  joinTimeoutMs: number
  pauseMs: number
  systems: System[]
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      sizes: { type: 'string', default: '10,50' },
      reps: { type: 'string' },
      'interval-ms': { type: 'string' },
      'start-gap-ms': { type: 'string' },
      'window-ms': { type: 'string' },
      'settle-ms': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      'join-timeout-ms': { type: 'string', default: '120000' },
      'pause-ms': { type: 'string', default: '1000' },
      systems: { type: 'string', default: 'tutti,baseline' }
    },
    strict: true
  })
  const int = (name: string, value: string, min: number): number => {
    const n = Number(value.trim())
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got "${value}"`)
    return n
  }
  const sizes = values.sizes.split(',').map(s => int('sizes', s, 2))
  const perSize = (name: string, value: string | undefined, min: number, byDefault: (size: number) => number): number[] => {
    if (value == null) return sizes.map(byDefault)
    const list = value.split(',').map(s => int(name, s, min))
    if (list.length === 1) return sizes.map(() => list[0]!)
    if (list.length !== sizes.length) throw new RangeError(`--${name} needs one value, or one per size (${sizes.length})`)
    return list
  }
  const intervalMs = perSize('interval-ms', values['interval-ms'], 50, size => size <= SMALL_MESH ? 500 : LARGE_MESH_INTERVAL_MS)
  return {
    sizes,
    reps: perSize('reps', values.reps, 1, size => size <= SMALL_MESH ? 2 : 1),
    intervalMs,
    startGapMs: perSize('start-gap-ms', values['start-gap-ms'], 0, () => 0),
    // At least one interval, so every node publishes in the window.
    windowMs: perSize('window-ms', values['window-ms'], 1000, size => Math.max(10_000, intervalMs[sizes.indexOf(size)]!)),
    settleMs: int('settle-ms', values['settle-ms'], 0),
    seed: int('seed', values.seed, 0),
    joinTimeoutMs: int('join-timeout-ms', values['join-timeout-ms'], 1000),
    pauseMs: int('pause-ms', values['pause-ms'], 0),
    systems: values.systems.split(',').map(s => {
      const system = s.trim()
      if (system !== 'tutti' && system !== 'baseline') throw new RangeError(`--systems takes tutti and/or baseline, got "${system}"`)
      return system
    })
  }
}

/** The size of a Tutti heartbeat from this machine, so the baseline publishes as many bytes. */
async function heartbeatBytes (size: number, intervalMs: number): Promise<number> {
  const now = Date.now()
  return encodeHeartbeat({
    bootMs: now,
    seq: 100,
    sentMs: now,
    intervalMs,
    nodeVersion: NODE_VERSION,
    uptimeMs: 60_000,
    labels: {},
    props: await readDeviceProperties(),
    fleetSize: size
  }).byteLength
}

/**
 * Runs one job in a fresh worker thread and waits for its result and for the worker to end by
 * itself (which it does only if the run left no timer or socket behind).
 */
async function runInWorker (job: MeshJob, log: (line: string) => void): Promise<RunResult> {
  const worker = new Worker(new URL('./lib/mesh-worker.ts', import.meta.url), { workerData: job })
  let result: RunResult | undefined
  let error: string | undefined
  worker.on('message', (msg: { kind: 'log', line: string } | { kind: 'result', result: RunResult }) => {
    if (msg.kind === 'log') log(msg.line)
    else result = msg.result
  })
  worker.on('error', err => {
    error = err.message
    // @libp2p/pnet 3.0.27 encrypts with xsalsa20's WASM build, whose memory every connection of a
    // thread shares; once one buffer over ~640 KiB has gone through, it grows on each switch
    // between connections until it throws from an event listener.
    if (err instanceof RangeError && err.message.includes('WebAssembly.Memory.grow')) {
      error += ' (xsalsa20 WASM memory in @libp2p/pnet exhausted; see docs/BENCHMARKS.md)'
    }
    log(`${job.system} N=${job.size} rep ${job.rep} failed: ${error}`)
  })
  const exited = new Promise<void>(resolve => { worker.once('exit', () => { resolve() }) })
  let exitedOnItsOwn = true
  await new Promise<void>(resolve => {
    worker.once('exit', () => { resolve() })
    worker.on('message', (msg: { kind: string }) => { if (msg.kind === 'result') resolve() })
  })
  const grace = sleep(WORKER_EXIT_GRACE_MS, 'timeout', { ref: false })
  if (await Promise.race([exited.then(() => 'exited'), grace]) === 'timeout') {
    exitedOnItsOwn = false
    log(`${job.system} N=${job.size} rep ${job.rep}: worker still running ${WORKER_EXIT_GRACE_MS} ms after its run ended; terminating it`)
    await worker.terminate()
  }
  if (result == null) {
    error ??= 'worker ended without a result (an await that nothing keeps alive never settled)'
    log(`${job.system} N=${job.size} rep ${job.rep}: ${error}`)
    return failedRun(job, error)
  }
  return { ...result, exitedOnItsOwn }
}

/** Runs of one system at one size, pooled over repetitions. */
interface Pooled {
  runs: number
  converged: number
  meshJoinMs: number
  startAllMs: number
  lastNodeJoinMs: number
  perNodeJoinP50Ms: number
  perNodeJoinMaxMs: number
  latencyP50Ms: number
  latencyP90Ms: number
  latencyP99Ms: number
  latencyMaxMs: number
  samples: number
  allLatencyP50Ms: number
  allLatencyP99Ms: number
  publishDelayP50Ms: number
  publishDelayP99Ms: number
  transitP50Ms: number
  transitP90Ms: number
  transitP99Ms: number
  staleShare: number
  deliveryRatio: number
  publishedPerNodePerSec: number
  payloadBytes: number
  bytesPerNodePerSec: number
  cpuCores: number
  cpuMsPerDelivery: number
  eventLoopUtilization: number
  connectionsPerNode: number
}

function pool (runs: RunResult[]): Pooled {
  const ok = runs.filter(r => r.converged)
  const latency = ok.flatMap(r => r.latencyMs)
  const all = ok.flatMap(r => r.allLatencyMs)
  const perNode = ok.flatMap(r => r.perNodeJoinMs)
  return {
    runs: runs.length,
    converged: ok.length,
    meshJoinMs: median(ok.map(r => r.meshJoinMs)),
    startAllMs: median(ok.map(r => r.startAllMs)),
    lastNodeJoinMs: median(ok.map(r => r.lastNodeJoinMs)),
    perNodeJoinP50Ms: percentile(perNode, 50),
    perNodeJoinMaxMs: perNode.length === 0 ? Number.NaN : Math.max(...perNode),
    latencyP50Ms: percentile(latency, 50),
    latencyP90Ms: percentile(latency, 90),
    latencyP99Ms: percentile(latency, 99),
    latencyMaxMs: latency.length === 0 ? Number.NaN : Math.max(...latency),
    samples: latency.length,
    allLatencyP50Ms: percentile(all, 50),
    allLatencyP99Ms: percentile(all, 99),
    publishDelayP50Ms: percentile(ok.flatMap(r => r.publishDelayMs), 50),
    publishDelayP99Ms: percentile(ok.flatMap(r => r.publishDelayMs), 99),
    transitP50Ms: percentile(ok.flatMap(r => r.transitMs), 50),
    transitP90Ms: percentile(ok.flatMap(r => r.transitMs), 90),
    transitP99Ms: percentile(ok.flatMap(r => r.transitMs), 99),
    staleShare: sum(ok.map(r => r.stale)) / sum(ok.map(r => r.delivered)),
    deliveryRatio: sum(ok.map(r => r.delivered)) / sum(ok.map(r => r.published * (r.size - 1))),
    publishedPerNodePerSec: sum(ok.map(r => r.published)) / sum(ok.map(r => r.size * r.windowMs / 1000)),
    payloadBytes: mean(ok.map(r => r.payloadBytesMean)),
    bytesPerNodePerSec: mean(ok.map(r => r.bytesPerNodePerSec)),
    cpuCores: mean(ok.map(r => r.cpuCores)),
    cpuMsPerDelivery: sum(ok.map(r => r.cpuCores * r.windowMs)) / sum(ok.map(r => r.delivered)),
    eventLoopUtilization: mean(ok.map(r => r.eventLoopUtilization)),
    connectionsPerNode: mean(ok.map(r => r.connectionsPerNode))
  }
}

const ROWS: Array<[string, keyof Pooled, number]> = [
  ['mesh join: all N see all N alive (ms, median of runs)', 'meshJoinMs', 0],
  ['  of which creating + starting the N nodes (ms)', 'startAllMs', 0],
  ['last node: its start to seeing all N (ms)', 'lastNodeJoinMs', 0],
  ['per node: its start to seeing all N, p50 (ms)', 'perNodeJoinP50Ms', 0],
  ['per node: its start to seeing all N, max (ms)', 'perNodeJoinMaxMs', 0],
  ['propagation (sentMs to receipt) p50 (ms)', 'latencyP50Ms', 1],
  ['propagation (sentMs to receipt) p90 (ms)', 'latencyP90Ms', 1],
  ['propagation (sentMs to receipt) p99 (ms)', 'latencyP99Ms', 1],
  ['propagation (sentMs to receipt) max (ms)', 'latencyMaxMs', 1],
  ['sentMs stamp to publish() call, p50 (ms)', 'publishDelayP50Ms', 1],
  ['sentMs stamp to publish() call, p99 (ms)', 'publishDelayP99Ms', 1],
  ['publish() call to receipt, p50 (ms)', 'transitP50Ms', 1],
  ['publish() call to receipt, p90 (ms)', 'transitP90Ms', 1],
  ['publish() call to receipt, p99 (ms)', 'transitP99Ms', 1],
  ['samples (fresh deliveries in the windows)', 'samples', 0],
  ['stale share of deliveries', 'staleShare', 3],
  ['deliveries / (published x (N-1))', 'deliveryRatio', 3],
  ['baseline, stale included: propagation p50 (ms)', 'allLatencyP50Ms', 1],
  ['baseline, stale included: propagation p99 (ms)', 'allLatencyP99Ms', 1],
  ['messages published per node per s', 'publishedPerNodePerSec', 2],
  ['payload bytes per message', 'payloadBytes', 0],
  ['payload bytes received per node per s', 'bytesPerNodePerSec', 0],
  ['CPU cores busy (whole process)', 'cpuCores', 2],
  ['CPU ms per delivery (whole process)', 'cpuMsPerDelivery', 2],
  ['event loop utilisation', 'eventLoopUtilization', 2],
  ['connections per node', 'connectionsPerNode', 1]
]

function report (size: number, intervalMs: number, windowMs: number, tutti: Pooled, baseline: Pooled): string {
  const rows = ROWS.map(([label, key, digits]) => [
    label,
    fmt(tutti[key], digits),
    fmt(baseline[key], digits),
    fmt(ratio(tutti[key], baseline[key]), 2)
  ])
  return [
    `N = ${size}: interval ${intervalMs} ms, window ${windowMs} ms; runs converged: tutti ${tutti.converged}/${tutti.runs}, baseline ${baseline.converged}/${baseline.runs}`,
    table(['', 'tutti', 'baseline', 'tutti/baseline'], rows)
  ].join('\n')
}

async function main (): Promise<number> {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  const started = performance.now()
  const loadAtStart = os.loadavg()
  const log = (line: string): void => { process.stderr.write(`  ${line}\n`) }
  print(`mesh benchmark: sizes ${options.sizes.join(', ')}, repetitions ${options.reps.join(', ')}, intervals ${options.intervalMs.join(', ')} ms, seed ${options.seed}, node ${process.version}, load average ${loadAtStart.map(l => l.toFixed(2)).join(' ')}`)
  const results: RunResult[] = []
  const payloadBySize = new Map<number, number>()
  const maxReps = Math.max(...options.reps)
  for (let rep = 0; rep < maxReps; rep++) {
    for (const [s, size] of options.sizes.entries()) {
      if (rep >= options.reps[s]!) continue
      const intervalMs = options.intervalMs[s]!
      const { fleet } = await createTestFleet('bench')
      const payloadBytes = await heartbeatBytes(size, intervalMs)
      payloadBySize.set(size, payloadBytes)
      const job: Omit<MeshJob, 'system'> = {
        size,
        rep,
        fleet,
        keySeed: `tutti-bench-mesh/${options.seed}/${size}/${rep}`,
        payloadBytes,
        intervalMs,
        startGapMs: options.startGapMs[s]!,
        windowMs: options.windowMs[s]!,
        settleMs: options.settleMs,
        joinTimeoutMs: options.joinTimeoutMs,
        seed: options.seed * 1_000_003 + size * 1009 + rep
      }
      // Alternate who goes first, so drift in machine load does not favour one system.
      const order: System[] = rep % 2 === 0 ? ['tutti', 'baseline'] : ['baseline', 'tutti']
      for (const system of order.filter(o => options.systems.includes(o))) {
        const t = performance.now()
        const result = await runInWorker({ ...job, system }, log)
        results.push(result)
        log(`rep ${rep} N=${size} ${system.padEnd(8)} ${result.converged ? 'converged' : 'DID NOT CONVERGE'}: join ${fmt(result.meshJoinMs, 0)} ms,` +
          ` p50 ${fmt(percentile(result.latencyMs, 50), 1)} ms, p99 ${fmt(percentile(result.latencyMs, 99), 1)} ms,` +
          ` event loop ${fmt(result.eventLoopUtilization, 2)} (${((performance.now() - t) / 1000).toFixed(1)} s)`)
        await sleep(options.pauseMs)
      }
    }
  }
  const summary: Record<string, unknown> = {}
  for (const [s, size] of options.sizes.entries()) {
    const intervalMs = options.intervalMs[s]!
    const tutti = pool(results.filter(r => r.system === 'tutti' && r.size === size))
    const baseline = pool(results.filter(r => r.system === 'baseline' && r.size === size))
    const adaptiveMs = targetIntervalMs(size, payloadBySize.get(size) ?? 0, DEFAULT_INTERVAL)
    print()
    print(report(size, intervalMs, options.windowMs[s]!, tutti, baseline))
    print(`(Tutti's interval is pinned to ${intervalMs} ms here; with default settings it would heartbeat every ${adaptiveMs} ms at N = ${size})`)
    summary[String(size)] = {
      intervalMs,
      tutti,
      baseline,
      ratio: {
        meshJoin: ratio(tutti.meshJoinMs, baseline.meshJoinMs),
        lastNodeJoin: ratio(tutti.lastNodeJoinMs, baseline.lastNodeJoinMs),
        propagationP50: ratio(tutti.latencyP50Ms, baseline.latencyP50Ms),
        propagationP99: ratio(tutti.latencyP99Ms, baseline.latencyP99Ms),
        transitP50: ratio(tutti.transitP50Ms, baseline.transitP50Ms),
        transitP99: ratio(tutti.transitP99Ms, baseline.transitP99Ms)
      },
      defaultAdaptiveIntervalMs: adaptiveMs
    }
  }
  const totalSeconds = (performance.now() - started) / 1000
  const file = await writeResults('mesh', {
    benchmark: 'mesh',
    date: new Date().toISOString(),
    machine: machine(),
    loadAvgAtStart: loadAtStart,
    options,
    totalSeconds,
    summary,
    runs: results.map(({ latencyMs, allLatencyMs, publishDelayMs, transitMs, perNodeJoinMs, ...rest }) => ({
      ...rest,
      samples: latencyMs.length,
      latencyP50Ms: percentile(latencyMs, 50),
      latencyP99Ms: percentile(latencyMs, 99),
      perNodeJoinMs: perNodeJoinMs.map(t => Math.round(t))
    }))
  })
  print()
  print(`total ${totalSeconds.toFixed(1)} s, load average now ${os.loadavg().map(l => l.toFixed(2)).join(' ')}; results written to ${file}`)
  return results.every(r => r.converged) ? 0 : 1
}

process.exitCode = await main()
