/**
 * The discrete-event simulator (DES mode) as the fleet grows: simulated node-seconds per wall
 * second, the largest fleet it handles on this machine within a wall budget, and the rollout's
 * figures at each size (heartbeat bytes per node per second, measured with the node's shard
 * aggregation and modelled with and without it; policy convergence; origin egress per model;
 * apply -> 100% Active):
 *
 *   npm run bench -- sim [--sizes 1000,10000,100000] [--scenario sim/scenarios/large-fleet-10k.yaml]
 *                        [--seed N] [--budget-s 900]
 *
 * Sizes run in increasing order; once one takes longer than --budget-s of wall time the larger
 * ones are skipped (reported as such), so "largest fleet" is the last size that finished.
 * Results: bench/results/sim.json. See docs/SIMULATOR.md and docs/BENCHMARKS.md.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { parseScenario } from '../sim/scenario.js'
import { runDes } from '../sim/des/engine.js'
import { judge } from '../sim/run.js'
import { figures } from '../sim/des/report.js'
import { heartbeatCost } from '../sim/des/heartbeats.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,10000,100000' },
    scenario: { type: 'string', default: 'sim/scenarios/large-fleet-10k.yaml' },
    seed: { type: 'string' },
    'budget-s': { type: 'string', default: '900' }
  }
})
const sizes = values.sizes.split(',').map(s => Number(s.trim())).filter(n => Number.isInteger(n) && n > 0).sort((a, b) => a - b)
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
  digestBytesPerNodePerSec?: number
  shards: number
  digestIntervalMs: number
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
  const base: Row = {
    nodes: n,
    shards: cost.shardBits === 0 ? 1 : 2 ** cost.shardBits,
    digestIntervalMs: cost.digestIntervalMs,
    modelledFlatBytesPerNodePerSec: cost.flatBytesPerSec,
    modelledShardedBytesPerNodePerSec: cost.shardedBytesPerSec
  }
  if (over) {
    rows.push({ ...base, skipped: `a smaller size took longer than --budget-s ${values['budget-s']}` })
    continue
  }
  const scenario = parseScenario(text)
  if (values.seed !== undefined) scenario.seed = Number(values.seed)
  const started = performance.now()
  const result = runDes(scenario, { nodes: n })
  const wallMs = performance.now() - started
  const f = figures(result, wallMs)
  const row: Row = {
    ...base,
    wallMs,
    outcome: result.phase,
    violations: judge(scenario, result).map(v => `${v.invariant}: ${v.message}`),
    nodeSecondsPerWallSecond: f.nodeSecondsPerWallSecond,
    heartbeatBytesPerNodePerSec: f.heartbeatBytesPerNodePerSec,
    digestBytesPerNodePerSec: f.digestBytesPerNodePerSec,
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
console.log(`scenario ${values.scenario}, ${os.cpus().length} cpus, node ${process.version}`)
console.log('| nodes | outcome | wall s | node-s / wall-s | heartbeat bytes per node per second, measured | of which digests | shards | digest interval s | modelled, every heartbeat to every node | modelled, with shards and digests | policy convergence s | origin copies per model | apply -> 100% Active s | invariants |')
console.log('|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|')
for (const r of rows) {
  const shards = `${fmt(r.shards)} | ${r.digestIntervalMs === 0 ? '-' : fmt(r.digestIntervalMs / 1000)}`
  if (r.skipped !== undefined) {
    console.log(`| ${fmt(r.nodes)} | skipped | - | - | - | - | ${shards} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | - | - | - | ${r.skipped} |`)
    continue
  }
  console.log(`| ${fmt(r.nodes)} | ${r.outcome} | ${fmt(r.wallMs! / 1000, 1)} | ${fmt(r.nodeSecondsPerWallSecond)} | ${fmt(r.heartbeatBytesPerNodePerSec)} | ${fmt(r.digestBytesPerNodePerSec)} | ${shards} | ${fmt(r.modelledFlatBytesPerNodePerSec)} | ${fmt(r.modelledShardedBytesPerNodePerSec)} | ${fmt(r.policyConvergenceMs === undefined ? undefined : r.policyConvergenceMs / 1000, 1)} | ${fmt(r.originCopiesPerModel, 2)} | ${fmt(r.applyToAllActiveMs === undefined ? undefined : r.applyToAllActiveMs / 1000, 1)} | ${r.violations!.length === 0 ? 'all hold' : r.violations!.join('; ')} |`)
}
const done = rows.filter(r => r.skipped === undefined)
console.log(`largest fleet in DES mode: ${fmt(done[done.length - 1]?.nodes)} nodes`)
await mkdir('bench/results', { recursive: true })
await writeFile(join('bench/results', 'sim.json'), JSON.stringify({ scenario: values.scenario, cpus: os.cpus().length, node: process.version, rows }, null, 2) + '\n')
