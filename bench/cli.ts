/**
 * How long a `tutti` command takes, wall clock, as separate processes the way a shell runs them,
 * against a bare Node start measured in the same run on the same Node:
 *
 *   npm run bench -- cli [--runs 20] [--quick]
 *
 * Rows, interleaved round-robin (one run of each, then the next round), after one warm-up round:
 * - `node -e ''`: the baseline, a bare start of this Node.
 * - `tutti version`: the CLI's fixed start-up cost. Goal <= 3x the baseline.
 * - `tutti --help`: the whole command tree, built and printed.
 * - `tutti get nodes`: against a node process on loopback (a one-node fleet started here): load
 *   the fleet and the key, start a dialer, dial, pnet + noise + yamux, one admin call, stop.
 *   Goal <= 0.5 s.
 * - `tutti version`, cold: with an empty compile cache each run (TUTTI_TS_CACHE), what the first
 *   command after a change in the sources pays to compile what it loads.
 * Every command must exit 0; a failing one stops the benchmark. Results: bench/results/cli.json.
 * See docs/BENCHMARKS.md and docs/CLI.md ("Start-up").
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { initFleet } from '../node/fleet/fleet.js'
import { loopbackNodeArgs, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { fmt, machine, median, percentile, print, ratio, table, writeResults } from './lib/stats.js'
import type { NodeProcess } from '../cli/process-nodes.js'

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '20' },
    quick: { type: 'boolean', default: false }
  }
})
const RUNS = args.quick === true ? 3 : Number(args.runs)
if (!(Number.isInteger(RUNS) && RUNS > 0)) throw new Error(`--runs must be a positive integer, got "${args.runs}"`)

const BIN = fileURLToPath(new URL('../bin/tutti.js', import.meta.url))

interface Row {
  label: string
  argv: string[]
  /** A fresh environment per run (the cold row's empty cache). */
  env?: () => Promise<{ env: Record<string, string>, cleanup: () => Promise<void> }>
  goal?: string
  ms: number[]
}

/** Runs one command to its exit; its wall time in ms. Throws unless it exits 0. */
async function timed (argv: string[], env: Record<string, string> = {}): Promise<number> {
  return await new Promise((resolve, reject) => {
    const start = performance.now()
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    child.on('error', reject)
    child.on('exit', code => {
      const ms = performance.now() - start
      if (code === 0) resolve(ms)
      else reject(new Error(`${argv.join(' ')} exited ${String(code)}: ${stderr.trim()}`))
    })
  })
}

async function main (): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'tutti-bench-cli-'))
  let node: NodeProcess | undefined
  try {
    const { fleetFile, adminKeyFile } = await initFleet({ dir: join(root, 'fleet'), name: 'bench-cli' })
    const dir = join(root, 'node')
    node = await startNodeProcess('node', dir, loopbackNodeArgs(dir, fleetFile))
    const peer = node.addr!
    const rows: Row[] = [
      { label: "node -e ''", argv: ['-e', ''], ms: [] },
      { label: 'tutti version', argv: [BIN, 'version'], goal: '<= 3x node', ms: [] },
      { label: 'tutti --help', argv: [BIN, '--help'], ms: [] },
      { label: 'tutti get nodes (loopback peer)', argv: [BIN, 'get', 'nodes', '--peer', peer, '--key', adminKeyFile], goal: '<= 500 ms', ms: [] },
      {
        label: 'tutti version, empty compile cache',
        argv: [BIN, 'version'],
        env: async () => {
          const cache = await mkdtemp(join(root, 'ts-cache-'))
          return { env: { TUTTI_TS_CACHE: cache }, cleanup: async () => { await rm(cache, { recursive: true, force: true }) } }
        },
        ms: []
      }
    ]
    const once = async (row: Row): Promise<number> => {
      const fresh = await row.env?.()
      try {
        return await timed(row.argv, fresh?.env)
      } finally {
        await fresh?.cleanup()
      }
    }
    for (const row of rows) await once(row) // warm-up: compile cache, page cache
    for (let i = 0; i < RUNS; i++) {
      for (const row of rows) row.ms.push(await once(row))
    }
    const base = median(rows[0]!.ms)
    print(`tutti CLI wall time, ${RUNS} runs of each command, interleaved (${process.version}, load ${machine().loadAvg as number[]})`)
    print(table(['command', 'p50 ms', 'p90 ms', 'p50 / node', 'goal'], rows.map(r => [
      r.label, fmt(median(r.ms), 0), fmt(percentile(r.ms, 90), 0), fmt(ratio(median(r.ms), base), 2), r.goal ?? ''
    ])))
    const file = await writeResults('cli', {
      runs: RUNS,
      machine: machine(),
      rows: rows.map(r => ({ label: r.label, argv: r.argv.map(a => a === BIN ? 'bin/tutti.js' : a), p50Ms: median(r.ms), p90Ms: percentile(r.ms, 90), ratioToNode: ratio(median(r.ms), base), ms: r.ms }))
    })
    print(`results: ${file}`)
  } finally {
    if (node != null) await stopChild(node.child)
    await rm(root, { recursive: true, force: true })
  }
}

await main()
