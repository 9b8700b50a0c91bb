/**
 * Library scenarios in the `inprocess` mode: real TuttiNodes on the shaped transport, at sizes and
 * durations a busy CI machine affords. Each is the library file with its node ranges fitted to the
 * smaller fleet, its timeline compressed (the same story, shorter pauses) and its models at 1 MiB;
 * the checker is the one the DES runs use. Nothing waits on wall time: the runner follows the
 * fleet's virtual clock, and each run is judged over its recorded history.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parse, stringify } from 'yaml'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runScenarioFile } from '../run.js'
import type { RunReport } from '../run.js'
import type { SimEvent } from '../des/invariants.js'

const library = (name: string): string => new URL(`../scenarios/${name}.yaml`, import.meta.url).pathname
let out: string
beforeAll(async () => { out = await mkdtemp(join(tmpdir(), 'tutti-sim-inproc-')) })
afterAll(async () => { await rm(out, { recursive: true, force: true }) })

type Doc = Record<string, any>

/** The library scenario, edited for a small in-process fleet, written to a temp file. */
async function variant (name: string, edit: (doc: Doc) => void): Promise<string> {
  const doc = parse(await readFile(library(name), 'utf8')) as Doc
  doc.mode = 'inprocess'
  for (const m of doc.models) for (const v of m.versions) v.size = '1MiB'
  edit(doc)
  const file = join(out, `${name}-${Math.random().toString(36).slice(2)}.yaml`)
  await writeFile(file, stringify(doc))
  return file
}

type RealOptions = NonNullable<Parameters<typeof runScenarioFile>[1]['real']>

async function run (file: string, nodes: number, real: Pick<RealOptions, 'unsafe' | 'endWhenSettled'> = {}): Promise<{ report: RunReport, events: SimEvent[] }> {
  const dir = join(out, `run-${Math.random().toString(36).slice(2)}`)
  const report = await runScenarioFile(file, { outDir: dir, nodes, plots: false, real: { timeScale: 10, ...real } })
  const events = (await readFile(join(dir, 'timeline.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as SimEvent)
  return { report, events }
}

const at = (doc: Doc, key: string): Doc => doc.timeline.find((e: Doc) => e[key] !== undefined)

describe('scenario library on real nodes (inprocess mode, small fleets)', () => {
  it('bad-model-rollback (6 nodes): the NaN canary trips nonFiniteRate and the rollout is rolled back', async () => {
    const file = await variant('bad-model-rollback', doc => {
      doc.duration = '6m'
      // 1% of 6 nodes is one canary; a one-minute bake (1 request/s) trips the gate.
      at(doc, 'apply').apply.spec.strategy.steps = [{ setPercent: 1 }, { pause: '1m' }, { setPercent: 100 }]
    })
    const { report, events } = await run(file, 6)
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('RolledBack')
    expect(events.some(e => e.type === 'running' && e.version === '3.0.0')).toBe(true)
    expect(events.some(e => e.type === 'commandAccepted' && e.action === 'revert')).toBe(true)
  }, 600_000)

  it('bad-model-rollback with a `failing` version (4 nodes): every canary fails its smoke test, the FAILED criterion trips, and no node ever runs it', async () => {
    const file = await variant('bad-model-rollback', doc => {
      doc.duration = '6m'
      doc.models[0].versions[1].behaviour = 'failing'
      const spec = at(doc, 'apply').apply.spec
      spec.strategy.steps = [{ setPercent: 50 }, { pause: '1m' }, { setPercent: 100 }]
      spec.strategy.abort = [{ failureType: 'FAILED', thresholdPercentage: 50, minNodes: 2 }]
    })
    const { report, events } = await run(file, 4)
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('RolledBack')
    expect(events.some(e => e.type === 'phase' && e.trip !== undefined && /FAILED/.test(e.trip))).toBe(true)
    expect(events.some(e => e.type === 'running' && e.version === '3.0.0')).toBe(false)
    const failed = events.filter((e): e is Extract<SimEvent, { type: 'deviceState' }> => e.type === 'deviceState' && e.state === 'Failed')
    expect(failed.length).toBeGreaterThanOrEqual(2)
    expect(failed[0]!.reason).toMatch(/failed its sample input: an output holds NaN or infinity/)
  }, 600_000)

  it('partition-during-rollout (6 nodes): nothing moves on the minority side before the heal, then it converges and completes', async () => {
    const file = await variant('partition-during-rollout', doc => {
      doc.duration = '12m'
      doc.timeline = doc.timeline.filter((e: Doc) => e.apply !== undefined)
      const apply = doc.timeline[0]
      apply.apply.spec.strategy.steps = [{ setPercent: 10 }, { pause: '1m' }, { setPercent: 50 }, { setPercent: 100 }]
      doc.timeline = [
        { at: '20s', partition: [{ nodes: '0-1' }] },
        apply,
        { at: '3m', heal: true },
        { at: '5m', partition: [{ nodes: '5' }] },
        { at: '7m', heal: true }
      ]
    })
    const { report, events } = await run(file, 6)
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('Completed')
    const heal = events.find(e => e.type === 'healed')!
    expect(events.some(e => e.type === 'commandAccepted' && e.t < heal.t)).toBe(false)
    expect(report.figures.heals[0]!.lacking).toBeGreaterThan(0)
    expect(report.figures.heals[0]!.convergedAfterMs).toBeDefined()
  }, 600_000)

  it('coordinator-crash (6 nodes): a successor takes over with a higher epoch and completes; the restarted node verifies its files', async () => {
    const file = await variant('coordinator-crash', doc => {
      doc.duration = '12m'
      at(doc, 'apply').apply.spec.strategy.steps = [{ setPercent: 20 }, { pause: '2m' }, { setPercent: 100 }]
      at(doc, 'killCoordinator').at = '1m'
      at(doc, 'restart').at = '6m'
    })
    const { report, events } = await run(file, 6)
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('Completed')
    const takeovers = events.filter((e): e is Extract<SimEvent, { type: 'coordinator' }> => e.type === 'coordinator' && e.action === 'takeOver')
    expect(takeovers.some(e => e.epoch >= 2)).toBe(true)
    const kill = events.find(e => e.type === 'down')!
    expect(takeovers.find(e => e.epoch >= 2)!.t).toBeGreaterThan(kill.t)
    expect(events.filter(e => e.type === 'digestCheck').length).toBeGreaterThan(0)
  }, 600_000)

  it('flaky-links (5 nodes): a lossy, slow link and two slowed nodes (disk x100, CPU x10) still complete', async () => {
    // The lossy node fetches 1 MiB in 75-275 s (each lost segment costs it a 2.4 s retransmission
    // timeout), and when it is the canary the second wave waits for it: the run completes at
    // 160-380 s, and its duration is a deadline with room for that tail (the run ends once the
    // rollout has).
    const file = await variant('flaky-links', doc => {
      doc.duration = '15m'
      doc.timeline[0].shapeLinks.target = { nodes: '1' }
      doc.timeline[1].slow = { target: { nodes: '3-4' }, disk: 100, cpu: 10 }
      at(doc, 'apply').apply.spec.strategy.steps = [{ setPercent: 20 }, { pause: '30s' }, { setPercent: 100 }]
    })
    // The nodes' own log records, with their clock's times (sim/real/inprocess.ts writes them there).
    const log = join(out, `flaky-links-${Math.random().toString(36).slice(2)}.log`)
    process.env.TUTTI_MESH_LOG = log
    let result: Awaited<ReturnType<typeof run>>
    try {
      result = await run(file, 5, { endWhenSettled: true })
    } finally {
      delete process.env.TUTTI_MESH_LOG
    }
    const { report, events } = result
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('Completed')
    const end = events.find((e): e is Extract<SimEvent, { type: 'end' }> => e.type === 'end')!
    expect(end.t).toBeLessThan(15 * 60_000)
    const records = (await readFile(log, 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { ts: string, node: number, msg: string, model?: string, version?: string })
    const when = (node: number, msg: string, model: string, version?: string): number => {
      const r = records.find(x => x.node === node && x.msg === msg && x.model === model && (version === undefined || x.version === version))
      expect(r, `node ${node}: ${msg} ${model}`).toBeDefined()
      return Date.parse(r!.ts)
    }
    // A slowed node reads the 1 MiB model file into its session at 100 MiB/s / 100: 1 s of this
    // machine's time, 10 s on the fleet's 10x clock, between its assembly and its load at least.
    for (const node of [3, 4]) {
      expect(when(node, 'model version loaded', 'detector', '2.0.0') - when(node, 'model assembled', 'detector@2.0.0')).toBeGreaterThanOrEqual(10_000)
    }
    const slow = events.find((e): e is Extract<SimEvent, { type: 'fault' }> => e.type === 'fault' && /^slow/.test(e.action))
    expect(slow?.action).toBe('slow disk x100 cpu x10')
    // Both slowed nodes run the new version in the end (their pace: sim/real/pace.test.ts, and the
    // node's side: node/inference/runtime.test.ts, test/models-store.test.ts).
    const active = events.filter(e => e.type === 'deviceState' && e.state === 'Active').map(e => (e as Extract<SimEvent, { type: 'deviceState' }>).node)
    expect(active).toEqual(expect.arrayContaining([3, 4]))
  }, 600_000)

  it('coordinator-pause (6 nodes): a frozen coordinator is replaced with a higher epoch; after its resume it steps down and nothing stale is applied', async () => {
    const file = await variant('coordinator-pause', doc => {
      doc.duration = '10m'
      at(doc, 'apply').apply.spec.strategy.steps = [{ setPercent: 20 }, { pause: '2m' }, { setPercent: 100 }]
      at(doc, 'pause').at = '1m'
      at(doc, 'resume').at = '4m'
    })
    const { report, events } = await run(file, 6)
    expect(report.violations, `seed ${report.seed}`).toEqual([])
    expect(report.phase).toBe('Completed')
    const paused = events.find((e): e is Extract<SimEvent, { type: 'down' }> => e.type === 'down' && e.how === 'pause')!
    const resumed = events.find(e => e.type === 'up' && e.how === 'resume')!
    expect(events.some(e => e.type === 'coordinator' && e.action === 'takeOver' && e.epoch >= 2 && e.node !== paused.node && e.t > paused.t && e.t < resumed.t)).toBe(true)
    expect(events.some(e => e.type === 'coordinator' && e.action === 'stepDown' && e.node === paused.node && e.t >= resumed.t)).toBe(true)
  }, 600_000)

  it('a deliberately broken run (a stray activation of a third version) is caught, with the first violating event', async () => {
    const file = await variant('bad-model-rollback', doc => {
      doc.duration = '3m'
      doc.models[0].versions.push({ version: '9.9.9', size: '1MiB', behaviour: 'good' })
      doc.invariants = ['versions']
      doc.expect = []
    })
    const { report } = await run(file, 3, { unsafe: { strayActivation: { atMs: 60_000, node: 1, model: 'detector', version: '9.9.9' } } })
    const v = report.violations.find(x => x.invariant === 'versions')
    expect(v?.message).toMatch(/node 1 runs detector@9\.9\.9/)
    expect(report.firstViolation).toMatchObject({ type: 'running', node: 1, version: '9.9.9' })
  }, 600_000)
})
