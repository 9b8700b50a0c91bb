/**
 * The simulator as the fleet grows, in the discrete-event mode (`--mode des`, the default), on
 * real nodes in one process (`--mode inprocess`) or on node processes in network namespaces
 * (`--mode multihost`, root): simulated node-seconds per wall second, the largest fleet it
 * handles on this machine within a wall budget, and the rollout's figures at each size
 * (heartbeat bytes per node per second, measured with the node's shard aggregation (DES) and
 * modelled with and without it; policy convergence; origin egress per model; apply -> 100% Active):
 *
 *   npm run bench -- sim [--sizes 1000,10000,100000] [--scenario sim/scenarios/large-fleet-10k.yaml]
 *                        [--seed N] [--budget-s 900]
 *   npm run bench -- sim --mode inprocess [--sizes 5,10,25,50,100] [--scenario sim/scenarios/coordinator-crash.yaml]
 *                        [--time-scale 10] [--model-mib 4]
 *   npm run bench -- sim --mode multihost [--sizes 4,8,16,32] [--scenario sim/scenarios/multihost-coordinator-crash.yaml]
 *
 * Real-node runs print a line of progress (set-up, then virtual time and phase) at most every
 * 30 s of wall time on stderr. Sizes run in increasing order; once one takes longer than
 * --budget-s of wall time the larger ones are skipped (reported as such), so "largest fleet" is
 * the last size that finished within the budget with every invariant holding.
 * In-process runs coordinator-crash by default, not large-fleet-10k: that one's 1% canary is below
 * its failure gate's `minNodes: 5` under 401 nodes, so its bake can never conclude on the fleets
 * one process holds and the rollout holds there by design (`tutti apply` warns of exactly this).
 * In-process, `--model-mib` replaces every model version's size (real bytes through real nodes;
 * the scenario's 20 MiB times 100 nodes would measure the disk more than the simulator) and
 * `--time-scale` is the virtual seconds per wall second the nodes run at. Multi-host runs the
 * scenario as written, at the wall clock's pace (1 s heartbeats), and also reports the CPU its node
 * processes used per node (cores, from the reaped children's times in /proc/self/stat).
 * Results: bench/results/sim.json (DES), sim-inprocess.json or sim-multihost.json. See
 * docs/SIMULATOR.md and docs/BENCHMARKS.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { parseScenario } from '../sim/scenario.js'
import { runDes } from '../sim/des/engine.js'
import { runReal } from '../sim/real/runner.js'
import type { RealRunProgress } from '../sim/real/runner.js'
import { InProcessFleet } from '../sim/real/inprocess.js'
import { MultihostFleet, multihostUnavailable } from '../sim/real/multihost.js'
import { judge } from '../sim/run.js'
import type { RunResult } from '../sim/des/report.js'
import { figures } from '../sim/des/report.js'
import { heartbeatCost } from '../sim/des/heartbeats.js'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'des' },
    sizes: { type: 'string' },
    scenario: { type: 'string' },
    seed: { type: 'string' },
    'budget-s': { type: 'string', default: '900' },
    'time-scale': { type: 'string', default: '10' },
    'model-mib': { type: 'string', default: '4' }
  }
})
const mode = values.mode
if (mode !== 'des' && mode !== 'inprocess' && mode !== 'multihost') {
  console.error('--mode is des, inprocess or multihost')
  process.exit(2)
}
const why = mode === 'multihost' ? multihostUnavailable() : undefined
if (why != null) {
  console.error(`multihost: ${why}`)
  process.exit(2)
}
const scenarioFile = values.scenario ?? `sim/scenarios/${mode === 'multihost' ? 'multihost-coordinator-crash' : mode === 'inprocess' ? 'coordinator-crash' : 'large-fleet-10k'}.yaml`
const sizes = (values.sizes ?? (mode === 'des' ? '1000,10000,100000' : mode === 'inprocess' ? '5,10,25,50,100' : '4,8,16,32')).split(',').map(s => Number(s.trim())).filter(n => Number.isInteger(n) && n > 0).sort((a, b) => a - b)
if (sizes.length === 0) {
  console.error('--sizes takes positive integers, e.g. 1000,10000')
  process.exit(2)
}
const budgetMs = Number(values['budget-s']) * 1000
const text = await readFile(scenarioFile, 'utf8')

/** CPU seconds of this process and of its exited, reaped children (multihost's node processes): utime + stime + cutime + cstime. */
async function treeCpuSeconds (): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
  return (fields[11]! + fields[12]! + fields[13]! + fields[14]!) / 100
}

interface Row {
  nodes: number
  wallMs?: number
  skipped?: string
  /** The run threw (set-up timed out, a download stalled): what it said. */
  failed?: string
  outcome?: string
  violations?: string[]
  nodeSecondsPerWallSecond?: number
  heartbeatBytesPerNodePerSec?: number
  digestBytesPerNodePerSec?: number
  /** Digests at the pace the shards set last (their latest digests over the interval after them). */
  digestPacedBytesPerNodePerSec?: number
  shards: number
  digestIntervalMs: number
  modelledFlatBytesPerNodePerSec: number
  modelledShardedBytesPerNodePerSec: number
  policyConvergenceMs?: number
  originCopiesPerModel?: number
  applyToAllActiveMs?: number
  /** DES: REPORT requests coordinators sent (polls of devices in flight). */
  reportRequests?: number
  heapMiB?: number
  /** Multihost: CPU cores the whole process tree used per node over the run (set-up included). */
  cpuCoresPerNode?: number
}

const rows: Row[] = []
let over = false
let overWhy = `a smaller size took longer than --budget-s ${values['budget-s']}`
for (const n of sizes) {
  const cost = heartbeatCost(n)
  const base: Row = {
    nodes: n,
    shards: cost.shardBits === 0 ? 1 : 2 ** cost.shardBits,
    digestIntervalMs: cost.digestIntervalMs,
    modelledFlatBytesPerNodePerSec: cost.flatBytesPerSec,
    modelledShardedBytesPerNodePerSec: cost.shardedBytesPerSec
  }
  if (over) {
    rows.push({ ...base, skipped: overWhy })
    continue
  }
  const scenario = parseScenario(text)
  if (values.seed !== undefined) scenario.seed = Number(values.seed)
  let result: RunResult
  let wallMs: number
  let cpuCoresPerNode: number | undefined
  const attempt = performance.now()
  // Real-node runs take minutes: a line of progress at most every 30 s of wall time (stderr).
  // Set-up lines also when they change.
  let lastProgress = ''
  let lastProgressAt = 0
  const onProgress = (p: RealRunProgress): void => {
    const line = p.t < 0 ? `set-up: ${p.what}` : `t=${Math.round(p.t / 1000)}s of ${Math.round(p.durationMs / 1000)}s, ${p.up}/${p.nodes} up, rollout ${p.phase}`
    const due = performance.now() - lastProgressAt >= 30_000
    if (!due && (p.t >= 0 || line === lastProgress)) return
    lastProgress = line
    lastProgressAt = performance.now()
    console.error(`${n} nodes: ${line}`)
  }
  try {
    if (mode === 'des') {
      const started = performance.now()
      result = runDes(scenario, { nodes: n })
      wallMs = performance.now() - started
    } else if (mode === 'multihost') {
      const cpu0 = await treeCpuSeconds()
      const started = performance.now()
      result = await runReal(scenario, new MultihostFleet(), { nodes: n, heartbeatMs: 1000, timeScale: 1, onProgress })
      wallMs = performance.now() - started
      cpuCoresPerNode = (await treeCpuSeconds() - cpu0) / (wallMs / 1000) / n
    } else {
      for (const m of scenario.models) for (const v of m.versions) v.sizeBytes = Number(values['model-mib']) * 1048576
      const started = performance.now()
      result = await runReal(scenario, new InProcessFleet(), { nodes: n, timeScale: Number(values['time-scale']), onProgress })
      wallMs = performance.now() - started
    }
  } catch (err) {
    // A size the mode cannot run (its set-up times out, a download stalls) is that size's result,
    // and the largest fleet is below it: larger ones are not tried.
    const e = err as { code?: string, message?: string }
    const failed = `${e.code ?? 'Error'}: ${String(e.message ?? err).split('\n')[0]!.slice(0, 300)}`
    rows.push({ ...base, wallMs: performance.now() - attempt, outcome: 'failed', failed })
    console.error(`${n} nodes: failed after ${((performance.now() - attempt) / 1000).toFixed(1)} s wall: ${failed}`)
    over = true
    overWhy = 'a smaller size failed'
    continue
  }
  const f = figures(result, wallMs)
  const row: Row = {
    ...base,
    wallMs,
    outcome: result.phase,
    violations: judge(scenario, result).map(v => `${v.invariant}: ${v.message}`),
    nodeSecondsPerWallSecond: f.nodeSecondsPerWallSecond,
    heartbeatBytesPerNodePerSec: f.heartbeatBytesPerNodePerSec,
    digestBytesPerNodePerSec: f.digestBytesPerNodePerSec,
    ...(f.digestPacedBytesPerNodePerSec !== undefined ? { digestPacedBytesPerNodePerSec: f.digestPacedBytesPerNodePerSec } : {}),
    ...(f.policyConvergenceMs !== undefined ? { policyConvergenceMs: f.policyConvergenceMs } : {}),
    originCopiesPerModel: f.originCopies,
    ...(f.applyToAllActiveMs !== undefined ? { applyToAllActiveMs: f.applyToAllActiveMs } : {}),
    ...(result.coordinatorRequests !== undefined ? { reportRequests: result.coordinatorRequests.report } : {}),
    heapMiB: process.memoryUsage().heapUsed / 1048576,
    ...(cpuCoresPerNode !== undefined ? { cpuCoresPerNode } : {})
  }
  rows.push(row)
  console.error(`${n} nodes: ${result.phase} in ${(wallMs / 1000).toFixed(1)} s wall${cpuCoresPerNode !== undefined ? `, ${cpuCoresPerNode.toFixed(3)} CPU cores per node` : ''}${result.coordinatorRequests !== undefined ? `, coordinator requests ${result.coordinatorRequests.prepare} PREPARE / ${result.coordinatorRequests.command} COMMAND / ${result.coordinatorRequests.report} REPORT` : ''}`)
  if (wallMs > budgetMs) over = true
}

const fmt = (x: number | undefined, d = 0): string => x === undefined ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`scenario ${scenarioFile}, mode ${mode}${mode === 'inprocess' ? ` (time scale ${values['time-scale']}, models ${values['model-mib']} MiB)` : ''}, ${os.cpus().length} cpus, node ${process.version}`)
console.log('| nodes | outcome | wall s | node-s / wall-s | heartbeat bytes per node per second, measured | of which digests | digests at their last pace | shards | digest interval s | modelled, every heartbeat to every node | modelled, with shards and digests | policy convergence s | origin copies per model | apply -> 100% Active s | invariants |')
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
for (const r of rows) {
  const shards = `${fmt(r.shards)} | ${r.digestIntervalMs === 0 ? '-' : fmt(r.digestIntervalMs / 1000)}`
  if (r.skipped !== undefined) {
    console.log(`| ${fmt(r.nodes)} | skipped | - | - | - | - | - | ${shards} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | - | - | - | ${r.skipped} |`)
    continue
  }
  if (r.failed !== undefined) {
    console.log(`| ${fmt(r.nodes)} | failed | ${fmt(r.wallMs! / 1000, 1)} | - | - | - | - | ${shards} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | - | - | - | ${r.failed} |`)
    continue
  }
  console.log(`| ${fmt(r.nodes)} | ${r.outcome} | ${fmt(r.wallMs! / 1000, 1)} | ${fmt(r.nodeSecondsPerWallSecond)} | ${fmt(r.heartbeatBytesPerNodePerSec)} | ${fmt(r.digestBytesPerNodePerSec)} | ${fmt(r.digestPacedBytesPerNodePerSec)} | ${shards} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | ${fmt(r.policyConvergenceMs === undefined ? undefined : r.policyConvergenceMs / 1000, 1)} | ${fmt(r.originCopiesPerModel, 2)} | ${fmt(r.applyToAllActiveMs === undefined ? undefined : r.applyToAllActiveMs / 1000, 1)} | ${r.violations!.length === 0 ? 'all hold' : r.violations!.join('; ')} |`)
}
if (mode === 'multihost') {
  console.log('\n| nodes | CPU cores per node (the node processes and the simulator, set-up included) |\n|---:|---:|')
  for (const r of rows) if (r.cpuCoresPerNode !== undefined) console.log(`| ${r.nodes} | ${fmt(r.cpuCoresPerNode, 3)} |`)
}
// A size counts once its run finished within the budget with every invariant holding.
const done = rows.filter(r => r.skipped === undefined && r.failed === undefined && r.violations?.length === 0 && r.wallMs! <= budgetMs)
console.log(`largest fleet in ${mode} mode within ${values['budget-s']} s, every invariant holding: ${fmt(done[done.length - 1]?.nodes)} nodes`)
await mkdir('bench/results', { recursive: true })
const meta = mode === 'des' ? {} : mode === 'multihost' ? { timeScale: 1, heartbeatMs: 1000 } : { timeScale: Number(values['time-scale']), modelMiB: Number(values['model-mib']) }
await writeFile(join('bench/results', `${mode === 'des' ? 'sim' : `sim-${mode}`}.json`), JSON.stringify({ scenario: scenarioFile, mode, ...meta, cpus: os.cpus().length, node: process.version, rows }, null, 2) + '\n')
