/**
 * `tutti sim run`: parse a scenario, run it in its mode, check the invariants and the expected
 * outcomes over the recorded history, and write DIR/timeline.jsonl (one event a line),
 * DIR/summary.md (readable, linking the plots) and the plots as SVG.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { ModeNotBuiltError, parseScenario } from './scenario.js'
import { runDes } from './des/engine.js'
import { checkInvariants } from './des/invariants.js'
import { figures, summarize } from './des/report.js'
import { plotRun } from './des/plots.js'
import type { EngineOptions, EngineResult } from './des/engine.js'
import type { Figures } from './des/report.js'
import type { Scenario } from './scenario.js'
import type { SimEvent, Violation } from './des/invariants.js'

export interface RunOptions {
  seed?: number
  nodes?: number
  outDir: string
  /** Write the SVG plots. @default true */
  plots?: boolean
  /** Engine options for tests (a deliberately broken engine). */
  engine?: Omit<EngineOptions, 'nodes'>
}

export interface RunReport {
  seed: number
  nodes: number
  phase: string
  violations: Violation[]
  wallMs: number
  figures: Figures
  /** The first violating event of the first violation, if any. */
  firstViolation?: SimEvent
}

/** Checks the invariants and the scenario's `expect` over a finished run. */
export function judge (scenario: Scenario, result: EngineResult): Violation[] {
  const violations = checkInvariants(result.events, scenario.invariants, { convergenceWithinMs: scenario.convergenceWithinMs, endMs: scenario.durationMs })
  for (const x of scenario.expect) {
    if (result.phase !== x.phase) {
      const end = result.events.find(e => e.type === 'end')
      violations.push({ invariant: 'rolloutEnds', message: `expected ${x.rollout} to end ${x.phase}, it ended ${result.phase}`, ...(end !== undefined ? { event: end } : {}) })
    }
    if (x.noNodeOn !== undefined) {
      const last = new Map<number, SimEvent>()
      for (const e of result.events) if (e.type === 'running') last.set(e.node, e)
      const on = [...last.values()].filter(e => e.type === 'running' && e.version === x.noNodeOn)
      if (on.length > 0) violations.push({ invariant: 'versions', message: `${on.length} node(s) still run ${x.noNodeOn} at the end`, event: on[0]! })
    }
  }
  return violations
}

/** Runs a scenario file; throws ScenarioError (bad file) or ModeNotBuiltError (inprocess, multihost). */
export async function runScenarioFile (file: string, options: RunOptions): Promise<RunReport> {
  const scenario = parseScenario(await readFile(file, 'utf8'))
  if (scenario.mode !== 'des') throw new ModeNotBuiltError(scenario.mode)
  if (options.seed !== undefined) scenario.seed = options.seed
  const started = performance.now()
  const result = runDes(scenario, { ...options.engine, ...(options.nodes !== undefined ? { nodes: options.nodes } : {}) })
  const wallMs = performance.now() - started
  const violations = judge(scenario, result)
  const f = figures(result, wallMs)
  await mkdir(options.outDir, { recursive: true })
  const out = createWriteStream(join(options.outDir, 'timeline.jsonl'))
  for (const e of result.events) {
    if (!out.write(JSON.stringify(e) + '\n')) await once(out, 'drain')
  }
  out.end()
  await once(out, 'finish')
  const plots = options.plots === false ? [] : await plotRun(result, [100, 230, 1_000, 10_000, 100_000])
  for (const p of plots) await writeFile(join(options.outDir, p.file), p.svg)
  await writeFile(join(options.outDir, 'summary.md'), summarize(scenario, result, f, violations, wallMs, plots))
  const first = violations[0]?.event
  return { seed: scenario.seed, nodes: result.nodes, phase: result.phase, violations, wallMs, figures: f, ...(first !== undefined ? { firstViolation: first } : {}) }
}
