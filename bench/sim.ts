/**
 * The simulator as the fleet grows, in the discrete-event mode (`--mode des`, the default) or on
 * real nodes in one process (`--mode inprocess`): simulated node-seconds per wall second, the
 * largest fleet it handles on this machine within a wall budget, and the rollout's figures at each
 * size (heartbeat bytes per node per second, measured (DES) and modelled with and without the
 * planned shard aggregation; policy convergence; origin egress per model; apply -> 100% Active):
 *
 *   npm run bench -- sim [--sizes 1000,10000,100000] [--scenario sim/scenarios/large-fleet-10k.yaml]
 *                        [--seed N] [--budget-s 900]
 *   npm run bench -- sim --mode inprocess [--sizes 5,10,25,50,100] [--time-scale 10] [--model-mib 4]
 *
 * Sizes run in increasing order; once one takes longer than --budget-s of wall time the larger
 * ones are skipped (reported as such), so "largest fleet" is the last size that finished.
 * In-process, `--model-mib` replaces every model version's size (real bytes through real nodes;
 * the scenario's 20 MiB times 100 nodes would measure the disk more than the simulator) and
 * `--time-scale` is the virtual seconds per wall second the nodes run at.
 * Results: bench/results/sim.json (DES) or bench/results/sim-inprocess.json. See docs/SIMULATOR.md
 * and docs/BENCHMARKS.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { parseScenario } from '../sim/scenario.js'
import { runDes } from '../sim/des/engine.js'
import { runReal } from '../sim/real/runner.js'
import { InProcessFleet } from '../sim/real/inprocess.js'
import { judge } from '../sim/run.js'
import type { RunResult } from '../sim/des/report.js'
import { figures } from '../sim/des/report.js'
import { heartbeatCost } from '../sim/des/heartbeats.js'

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'des' },
    sizes: { type: 'string' },
    scenario: { type: 'string', default: 'sim/scenarios/large-fleet-10k.yaml' },
    seed: { type: 'string' },
    'budget-s': { type: 'string', default: '900' },
    'time-scale': { type: 'string', default: '10' },
    'model-mib': { type: 'string', default: '4' }
  }
})
const mode = values.mode
if (mode !== 'des' && mode !== 'inprocess') {
  console.error('--mode is des or inprocess')
  process.exit(2)
}
const sizes = (values.sizes ?? (mode === 'des' ? '1000,10000,100000' : '5,10,25,50,100')).split(',').map(s => Number(s.trim())).filter(n => Number.isInteger(n) && n > 0).sort((a, b) => a - b)
if (sizes.length === 0) {
  console.error('--sizes takes positive integers, e.g. 1000,10000')
  process.exit(2)
}
const budgetMs = Number(values['budget-s']) * 1000
const text = await readFile(values.scenario, 'utf8')

interface Row {
  nodes: number
  wallMs?: number
  skipped?: string
  outcome?: string
  violations?: string[]
  nodeSecondsPerWallSecond?: number
  heartbeatBytesPerNodePerSec?: number
  modelledFlatBytesPerNodePerSec: number
  modelledShardedBytesPerNodePerSec: number
  policyConvergenceMs?: number
  originCopiesPerModel?: number
  applyToAllActiveMs?: number
  heapMiB?: number
}

const rows: Row[] = []
let over = false
for (const n of sizes) {
  const cost = heartbeatCost(n)
  const base: Row = { nodes: n, modelledFlatBytesPerNodePerSec: cost.flatBytesPerSec, modelledShardedBytesPerNodePerSec: cost.shardedBytesPerSec }
  if (over) {
    rows.push({ ...base, skipped: `a smaller size took longer than --budget-s ${values['budget-s']}` })
    continue
  }
  const scenario = parseScenario(text)
  if (values.seed !== undefined) scenario.seed = Number(values.seed)
  let result: RunResult
  let wallMs: number
  if (mode === 'des') {
    const started = performance.now()
    result = runDes(scenario, { nodes: n })
    wallMs = performance.now() - started
  } else {
    for (const m of scenario.models) for (const v of m.versions) v.sizeBytes = Number(values['model-mib']) * 1048576
    const started = performance.now()
    result = await runReal(scenario, new InProcessFleet(), { nodes: n, timeScale: Number(values['time-scale']) })
    wallMs = performance.now() - started
  }
  const f = figures(result, wallMs)
  const row: Row = {
    ...base,
    wallMs,
    outcome: result.phase,
    violations: judge(scenario, result).map(v => `${v.invariant}: ${v.message}`),
    nodeSecondsPerWallSecond: f.nodeSecondsPerWallSecond,
    heartbeatBytesPerNodePerSec: f.heartbeatBytesPerNodePerSec,
    ...(f.policyConvergenceMs !== undefined ? { policyConvergenceMs: f.policyConvergenceMs } : {}),
    originCopiesPerModel: f.originCopies,
    ...(f.applyToAllActiveMs !== undefined ? { applyToAllActiveMs: f.applyToAllActiveMs } : {}),
    heapMiB: process.memoryUsage().heapUsed / 1048576
  }
  rows.push(row)
  console.error(`${n} nodes: ${result.phase} in ${(wallMs / 1000).toFixed(1)} s wall`)
  if (wallMs > budgetMs) over = true
}

const fmt = (x: number | undefined, d = 0): string => x === undefined ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`scenario ${values.scenario}, mode ${mode}${mode === 'inprocess' ? ` (time scale ${values['time-scale']}, models ${values['model-mib']} MiB)` : ''}, ${os.cpus().length} cpus, node ${process.version}`)
console.log('| nodes | outcome | wall s | node-s / wall-s | heartbeat B/s per node (measured) | modelled flat | modelled with shard digests | policy convergence s | origin copies per model | apply -> 100% Active s | invariants |')
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|')
for (const r of rows) {
  if (r.skipped !== undefined) {
    console.log(`| ${fmt(r.nodes)} | skipped | - | - | - | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | - | - | - | ${r.skipped} |`)
    continue
  }
  console.log(`| ${fmt(r.nodes)} | ${r.outcome} | ${fmt(r.wallMs! / 1000, 1)} | ${fmt(r.nodeSecondsPerWallSecond)} | ${fmt(r.heartbeatBytesPerNodePerSec)} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | ${fmt(r.policyConvergenceMs === undefined ? undefined : r.policyConvergenceMs / 1000, 1)} | ${fmt(r.originCopiesPerModel, 2)} | ${fmt(r.applyToAllActiveMs === undefined ? undefined : r.applyToAllActiveMs / 1000, 1)} | ${r.violations!.length === 0 ? 'all hold' : r.violations!.join('; ')} |`)
}
const done = rows.filter(r => r.skipped === undefined)
console.log(`largest fleet in ${mode} mode within ${values['budget-s']} s: ${fmt(done[done.length - 1]?.nodes)} nodes`)
await mkdir('bench/results', { recursive: true })
const meta = mode === 'des' ? {} : { timeScale: Number(values['time-scale']), modelMiB: Number(values['model-mib']) }
await writeFile(join('bench/results', mode === 'des' ? 'sim.json' : 'sim-inprocess.json'), JSON.stringify({ scenario: values.scenario, mode, ...meta, cpus: os.cpus().length, node: process.version, rows }, null, 2) + '\n')
