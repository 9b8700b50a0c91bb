/**
 * `tutti sim run`: parse a scenario, run it in its mode (`des`, or real nodes through a RealFleet:
 * `inprocess`, `multihost`), check the invariants and the expected
 * outcomes over the recorded history, and write DIR/timeline.jsonl (one event a line),
 * DIR/summary.md (readable, linking the plots) and the plots as SVG.
 */
import { createWriteStream } from 'node:fs'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { once } from 'node:events'
import { join } from 'node:path'
import { parseScenario } from './scenario.js'
import { runDes } from './des/engine.js'
import { checkInvariants } from './des/invariants.js'
import { figures, summarize } from './des/report.js'
import { plotRun } from './des/plots.js'
import type { EngineOptions } from './des/engine.js'
import type { Figures, RunResult } from './des/report.js'
import type { RealRunOptions } from './real/runner.js'
import type { Scenario, SimMode } from './scenario.js'
import type { LabProbe } from './netns/lab.js'
import type { SimEvent, Violation } from './des/invariants.js'

export interface RunOptions {
  seed?: number
  nodes?: number
  outDir: string
  /** Write the SVG plots. @default true */
  plots?: boolean
  /** Overrides the scenario's mode. */
  mode?: SimMode
  /** Engine options for tests (a deliberately broken engine). */
  engine?: Omit<EngineOptions, 'nodes'>
  /** What multihost's privilege check looks at (tests). @default this machine */
  probe?: LabProbe
  /** Options of the real-node modes (time scale, heartbeat, progress, a work directory). */
  real?: Omit<RealRunOptions, 'nodes'>
}

export interface RunReport {
  mode: SimMode
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
export function judge (scenario: Scenario, result: Pick<RunResult, 'events' | 'phase'>): Violation[] {
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

/**
 * Runs a scenario file in its mode (or `options.mode`); throws ScenarioError (bad file),
 * ERR_SIM_UNSUPPORTED (a scenario the mode cannot run) or ERR_SIM_NEEDS_ROOT (multihost without
 * root, `ip`, `tc` or `nft`; checked before anything is built).
 */
export async function runScenarioFile (file: string, options: RunOptions): Promise<RunReport> {
  const scenario = parseScenario(await readFile(file, 'utf8'))
  if (options.seed !== undefined) scenario.seed = options.seed
  const mode = options.mode ?? scenario.mode
  const started = performance.now()
  let result: RunResult
  switch (mode) {
    case 'des':
      result = runDes(scenario, { ...options.engine, ...(options.nodes !== undefined ? { nodes: options.nodes } : {}) })
      break
    case 'inprocess': {
      // Loaded only here: the real nodes bring libp2p, onnxruntime and the rest of the node.
      const [{ runReal }, { InProcessFleet }] = await Promise.all([import('./real/runner.js'), import('./real/inprocess.js')])
      result = await runReal(scenario, new InProcessFleet(), { ...options.real, ...(options.nodes !== undefined ? { nodes: options.nodes } : {}) })
      break
    }
    case 'multihost': {
      // Separate `tutti node start` processes in network namespaces: root only, checked before
      // anything is built. They run at the wall clock's pace, so heartbeats are 1 s unless asked.
      const [{ runReal }, { MultihostFleet, MultihostUnavailableError, multihostUnavailable }] = await Promise.all([import('./real/runner.js'), import('./real/multihost.js')])
      const why = multihostUnavailable(options.probe)
      if (why != null) throw new MultihostUnavailableError(why)
      result = await runReal(scenario, new MultihostFleet(), { heartbeatMs: 1000, timeScale: 1, ...options.real, ...(options.nodes !== undefined ? { nodes: options.nodes } : {}) })
      const shaped = [scenario.fleet.links, ...scenario.timeline.flatMap(e => e.action.kind === 'shapeLinks' ? [e.action.links] : [])]
      if (shaped.some(l => (l.latencyMs ?? 0) > 0 || (l.jitterMs ?? 0) > 0)) {
        result.notes = [...(result.notes ?? []), 'link latency and jitter are not applied in multihost mode (no `tc netem` in this kernel): only bandwidth and loss']
      }
      break
    }
    default: {
      const never: never = mode
      throw new TypeError(`unknown mode ${String(never)}`)
    }
  }
  const wallMs = performance.now() - started
  return await writeRun(scenario, result, wallMs, options)
}

/** Judges a finished run and writes DIR/timeline.jsonl, DIR/summary.md and the plots. */
export async function writeRun (scenario: Scenario, result: RunResult, wallMs: number, options: Pick<RunOptions, 'outDir' | 'plots'>): Promise<RunReport> {
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
  return { mode: result.mode, seed: scenario.seed, nodes: result.nodes, phase: result.phase, violations, wallMs, figures: f, ...(first !== undefined ? { firstViolation: first } : {}) }
}
