/**
 * The simulator's multi-host mode as the fleet grows: each node a `tutti node start` process in its
 * own network namespace. Per size: simulated node-seconds per wall second (nodes x scenario seconds
 * / wall seconds, set-up included), the set-up's share of the wall time, the CPU the node processes
 * used per node per second, the outcome and the invariants; and the largest fleet that ran the
 * scenario through with every invariant holding within the wall budget. Needs root (as the mode).
 *
 *   npm run bench -- sim-multihost [--sizes 4,8,16,32] [--scenario sim/scenarios/multihost-coordinator-crash.yaml]
 *                                  [--seed N] [--budget-s 600]
 *
 * Sizes run in increasing order; after a size over the budget, fails or breaks an invariant, the
 * larger ones are skipped (reported as such). Results: bench/results/sim-multihost.json.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { runScenarioFile } from '../sim/run.js'
import { multihostUnavailable } from '../sim/real/multihost.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '4,8,16,32' },
    scenario: { type: 'string', default: 'sim/scenarios/multihost-coordinator-crash.yaml' },
    seed: { type: 'string' },
    'budget-s': { type: 'string', default: '600' }
  }
})
const why = multihostUnavailable()
if (why != null) {
  console.error(`sim-multihost: ${why}`)
  process.exit(2)
}
const sizes = values.sizes.split(',').map(s => Number(s.trim())).filter(n => Number.isInteger(n) && n > 0).sort((a, b) => a - b)
if (sizes.length === 0) {
  console.error('--sizes takes positive integers, e.g. 4,8,16')
  process.exit(2)
}
const budgetMs = Number(values['budget-s']) * 1000

interface Row {
  nodes: number
  skipped?: string
  error?: string
  wallMs?: number
  outcome?: string
  violations?: string[]
  nodeSecondsPerWallSecond?: number
  /** CPU seconds of this whole process tree (the node processes included) per node per wall second. */
  cpuCoresPerNode?: number
}

/** CPU seconds this process used. */
function cpuSeconds (): number {
  const self = process.cpuUsage()
  return (self.user + self.system) / 1e6
}

/** CPU seconds of its exited and reaped children (the node processes, once a run stopped them): cutime + cstime. */
async function childCpuSeconds (): Promise<number> {
  const stat = await readFile('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[13]) + Number(fields[14])) / 100
}

const rows: Row[] = []
let stop: string | undefined
const out = await mkdtemp(join(os.tmpdir(), 'tutti-bench-mh-'))
try {
  for (const n of sizes) {
    if (stop !== undefined) {
      rows.push({ nodes: n, skipped: stop })
      continue
    }
    const cpu0 = cpuSeconds() + await childCpuSeconds()
    const started = performance.now()
    try {
      const report = await runScenarioFile(values.scenario, {
        mode: 'multihost',
        nodes: n,
        outDir: join(out, String(n)),
        plots: false,
        ...(values.seed !== undefined ? { seed: Number(values.seed) } : {})
      })
      const wallMs = performance.now() - started
      const cpu = cpuSeconds() + await childCpuSeconds() - cpu0
      const row: Row = {
        nodes: n,
        wallMs,
        outcome: report.phase,
        violations: report.violations.map(v => `${v.invariant}: ${v.message}`),
        nodeSecondsPerWallSecond: report.figures.nodeSecondsPerWallSecond,
        cpuCoresPerNode: cpu / (wallMs / 1000) / n
      }
      rows.push(row)
      console.error(`${n} nodes: ${report.phase} in ${(wallMs / 1000).toFixed(1)} s wall, ${row.violations!.length === 0 ? 'all invariants hold' : row.violations!.join('; ')}`)
      if (row.violations!.length > 0) stop = `${n} nodes broke an invariant`
      else if (wallMs > budgetMs) stop = `${n} nodes took longer than --budget-s ${values['budget-s']}`
    } catch (err) {
      rows.push({ nodes: n, error: (err as Error).message, wallMs: performance.now() - started })
      console.error(`${n} nodes: ${(err as Error).message}`)
      stop = `${n} nodes failed`
    }
  }
} finally {
  await rm(out, { recursive: true, force: true })
}

const fmt = (x: number | undefined, d = 0): string => x === undefined ? '-' : x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d })
console.log(`scenario ${values.scenario} (multihost), ${os.cpus().length} cpus, node ${process.version}`)
console.log('| nodes | outcome | wall s | node-s / wall-s | CPU cores per node | invariants |')
console.log('|---:|---|---:|---:|---:|---|')
for (const r of rows) {
  if (r.skipped !== undefined) console.log(`| ${r.nodes} | skipped | - | - | - | ${r.skipped} |`)
  else if (r.error !== undefined) console.log(`| ${r.nodes} | failed | ${fmt(r.wallMs! / 1000, 1)} | - | - | ${r.error} |`)
  else console.log(`| ${r.nodes} | ${r.outcome} | ${fmt(r.wallMs! / 1000, 1)} | ${fmt(r.nodeSecondsPerWallSecond, 2)} | ${fmt(r.cpuCoresPerNode, 3)} | ${r.violations!.length === 0 ? 'all hold' : r.violations!.join('; ')} |`)
}
const ok = rows.filter(r => r.outcome !== undefined && r.violations?.length === 0)
console.log(`largest fleet in multihost mode: ${ok.length > 0 ? ok[ok.length - 1]!.nodes : 'none'} nodes`)
await mkdir('bench/results', { recursive: true })
await writeFile(join('bench/results', 'sim-multihost.json'), JSON.stringify({ scenario: values.scenario, cpus: os.cpus().length, node: process.version, rows }, null, 2) + '\n')
