/**
 * `tutti sim run`: parse a scenario, run it in its mode, write DIR/timeline.jsonl and
 * DIR/summary.md, check the invariants and the expected outcomes over the recorded history.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { ModeNotBuiltError, parseScenario } from './scenario.js'
import { runRollout } from './des/engine.js'
import { checkInvariants } from './des/invariants.js'
import { heartbeatCost } from './des/heartbeats.js'
import type { Violation } from './des/invariants.js'

export interface RunOptions { seed?: number, nodes?: number, outDir: string }
export interface RunReport { seed: number, nodes: number, phase: string, violations: Violation[], wallMs: number }

/** Runs a scenario file; throws ScenarioError (bad file) or ModeNotBuiltError (inprocess, multihost). */
export async function runScenarioFile (file: string, options: RunOptions): Promise<RunReport> {
  const scenario = parseScenario(await readFile(file, 'utf8'))
  if (scenario.mode !== 'des') throw new ModeNotBuiltError(scenario.mode)
  if (options.seed !== undefined) scenario.seed = options.seed
  const nodes = options.nodes ?? scenario.fleet.nodes
  const started = performance.now()
  const result = runRollout(scenario, nodes)
  const wallMs = performance.now() - started
  const violations = checkInvariants(result.events, scenario.invariants, { convergenceWithinMs: scenario.convergenceWithinMs, endMs: scenario.durationMs })
  for (const x of scenario.expect) {
    if (result.phase !== x.phase) violations.push({ invariant: 'rolloutEnds', message: `expected ${x.rollout} to end ${x.phase}, it ended ${result.phase}` })
    if (x.noNodeOn !== undefined) {
      const last = new Map<number, string>()
      for (const e of result.events) if (e.type === 'running') last.set(e.node, e.version)
      const on = [...last.values()].filter(v => v === x.noNodeOn).length
      if (on > 0) violations.push({ invariant: 'versions', message: `${on} node(s) still run ${x.noNodeOn} at the end` })
    }
  }
  await mkdir(options.outDir, { recursive: true })
  await writeFile(join(options.outDir, 'timeline.jsonl'), result.events.map(e => JSON.stringify(e)).join('\n') + '\n')
  const hb = [100, 1_000, nodes, 100_000].map(n => heartbeatCost(n))
  const summary = [
    `# ${scenario.name} (seed ${scenario.seed}, ${nodes} nodes, ${Math.round(scenario.durationMs / 1000)} s simulated)`,
    '',
    `- outcome: ${result.phase}; invariants: ${violations.length === 0 ? 'all hold' : `${violations.length} violated`}`,
    `- model bytes from the origin: ${result.originBytes}, from peers: ${result.peerBytes}`,
    `- wall time: ${Math.round(wallMs)} ms (${Math.round(nodes * scenario.durationMs / wallMs)} node-seconds per wall second)`,
    '- plots: none yet (SVG plots are not built)',
    '',
    '| fleet size | heartbeat B/s per node, flat | with shard digests |',
    '|---:|---:|---:|',
    ...hb.map(c => `| ${c.fleetSize} | ${Math.round(c.flatBytesPerSec)} | ${Math.round(c.shardedBytesPerSec)} |`),
    '',
    ...violations.map(v => `- VIOLATION ${v.invariant}: ${v.message}${v.event !== undefined ? ` (first event: ${JSON.stringify(v.event)})` : ''}`)
  ].join('\n') + '\n'
  await writeFile(join(options.outDir, 'summary.md'), summary)
  return { seed: scenario.seed, nodes, phase: result.phase, violations, wallMs }
}
