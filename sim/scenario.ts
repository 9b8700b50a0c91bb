/**
 * The simulator's scenario file (YAML): one format for its three modes (`des`, the discrete-event
 * simulation of large fleets; `inprocess`, real nodes in one process; `multihost`, node processes in network namespaces). A
 * scenario names the fleet (node count, label and property distributions, link shape), the models
 * (versions with a size and a behaviour), a timeline of actions and the invariants the run checks.
 * Every problem is reported with its field path (`timeline[2].apply.spec.strategy.steps[0]`).
 * Rollout manifests in the timeline are checked by the node's own parser
 * (`parseRolloutManifest`), so a scenario accepts exactly what `tutti apply` accepts.
 */
import { parseAllDocuments, stringify } from 'yaml'
import { z } from 'zod'
import { parseDuration } from '../core/duration.js'
import { parseBytes, parseByteRate } from '../core/quantity.js'
import { matchesSelector, parseSelector } from '../core/selector.js'
import { TuttiError, errorMessage } from '../core/errors.js'
import { parseRolloutManifest } from '../node/rollouts/spec.js'
import { ManifestValidationError } from '../node/rollouts/errors.js'
import type { Selector } from '../core/selector.js'
import type { RolloutSpecInput } from '../node/rollouts/spec.js'

/** Largest scenario text accepted, in UTF-8 bytes. @default 1 MiB */
export const MAX_SCENARIO_BYTES = 1024 * 1024
/** Most YAML alias expansions in one scenario. */
export const MAX_SCENARIO_ALIASES = 100
/** Most nodes a scenario may ask for (the DES aims at 100,000). */
export const MAX_SCENARIO_NODES = 1_000_000

/** The simulator's modes. */
export type SimMode = 'des' | 'inprocess' | 'multihost'

/** One problem in a scenario: the field path and what is wrong there. */
export interface ScenarioIssue {
  path: string
  message: string
}

/** A scenario that is not valid; every issue names its field. Retrying cannot help. */
export class ScenarioError extends TuttiError {
  readonly issues: ScenarioIssue[]
  constructor (issues: ScenarioIssue[], options: { cause?: unknown } = {}) {
    super('ERR_SCENARIO', `invalid scenario:\n${issues.slice(0, 20).map(i => `${i.path}: ${i.message}`).join('\n')}`, options)
    this.name = 'ScenarioError'
    this.issues = issues
  }
}

/** A label or property drawn per node: fixed, weighted choice, or a uniform (integer) range. */
export type Distribution =
  | { fixed: string }
  | { choice: Record<string, number> }
  | { uniform: [number, number] }

/** The shape of every link (per-link values are drawn from these). */
export interface LinkShape {
  latencyMs: number
  jitterMs: number
  bytesPerSec: number
  /** Probability that one message is lost, 0..1. */
  loss: number
}

export type ModelBehaviour = 'good' | 'nan' | 'slow' | 'failing'

export interface ScenarioModel {
  name: string
  versions: Array<{ version: string, sizeBytes: number, behaviour: ModelBehaviour }>
}

/** Which nodes an action applies to. */
export type NodeSet =
  | { nodes: Array<[number, number]> }
  | { selector: Selector }
  | { count: number }
  | { coordinator: string }

/**
 * The node indices a set names, among `size` nodes: ranges in order, a selector over each node's
 * attributes, `count` eligible nodes drawn with `random` (a seeded shuffle), or the coordinator.
 */
export function resolveNodeSet (set: NodeSet, size: number, eligible: (i: number) => boolean, attrsOf: (i: number) => Record<string, string>, coordinator: () => number | undefined, random: () => number): number[] {
  if ('nodes' in set) {
    const out: number[] = []
    for (const [lo, hi] of set.nodes) for (let i = lo; i <= Math.min(hi, size - 1); i++) out.push(i)
    return out.filter(eligible)
  }
  const all = Array.from({ length: size }, (_, i) => i)
  if ('selector' in set) return all.filter(i => eligible(i) && matchesSelector(set.selector, attrsOf(i)))
  if ('coordinator' in set) {
    const c = coordinator()
    return c === undefined ? [] : [c].filter(eligible)
  }
  const pool = all.filter(eligible)
  for (let k = pool.length - 1; k > 0; k--) {
    const j = Math.floor(random() * (k + 1))
    ;[pool[k], pool[j]] = [pool[j]!, pool[k]!]
  }
  return pool.slice(0, set.count)
}

export type ScenarioAction =
  | { kind: 'apply', name: string, spec: RolloutSpecInput }
  | { kind: 'partition', groups: NodeSet[] }
  | { kind: 'heal' }
  | { kind: 'crash', target: NodeSet }
  | { kind: 'restart', target: NodeSet }
  | { kind: 'pause', target: NodeSet }
  | { kind: 'resume', target: NodeSet }
  | { kind: 'killCoordinator', rollout: string }
  | { kind: 'drainBattery', target: NodeSet, to: number }
  | { kind: 'addNodes', count: number, labels: Record<string, Distribution>, props: Record<string, Distribution> }
  /** Slows a node's disk (verify) and/or CPU (load, smoke test) by these factors (1 = normal). */
  | { kind: 'slow', target: NodeSet, disk: number, cpu: number }
  /** Every link touching these nodes takes this shape (fields left out keep the fleet's). */
  | { kind: 'shapeLinks', target: NodeSet, links: Partial<LinkShape> }

export interface TimelineEntry {
  atMs: number
  action: ScenarioAction
}

export type InvariantName = 'versions' | 'policyConvergence' | 'singleCoordinator' | 'rolloutEnds' | 'digests'
export const INVARIANT_NAMES: readonly InvariantName[] = ['versions', 'policyConvergence', 'singleCoordinator', 'rolloutEnds', 'digests']

export interface Scenario {
  name: string
  mode: SimMode
  seed: number
  durationMs: number
  fleet: {
    nodes: number
    labels: Record<string, Distribution>
    props: Record<string, Distribution>
    links: LinkShape
    /** Upload of the node the models were pushed to (node 0). */
    originBytesPerSec: number
    /** Degree of the random regular gossip graph. */
    gossipDegree: number
  }
  models: ScenarioModel[]
  /** What every node runs when the run starts. */
  initial: Array<{ model: string, version: string }>
  timeline: TimelineEntry[]
  invariants: InvariantName[]
  /** T of "every applied policy is on every live node within T after the last heal". */
  convergenceWithinMs: number
  /** Outcomes the run must reach (checked like invariants). */
  expect: Array<{ rollout: string, phase: 'Completed' | 'RolledBack', noNodeOn?: string }>
}

// ---------------------------------------------------------------------------------------------

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseDuration(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) })
    return z.NEVER
  }
})
const bytes = z.union([z.string(), z.number()]).transform((v, ctx) => {
  try {
    return parseBytes(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) })
    return z.NEVER
  }
})
const rate = z.string().transform((v, ctx) => {
  try {
    return parseByteRate(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) })
    return z.NEVER
  }
})
const selector = z.string().transform((v, ctx) => {
  try {
    return parseSelector(v)
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: errorMessage(err) })
    return z.NEVER
  }
})
const name = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label').max(63, 'must be at most 63 characters')

const distribution = z.union([
  z.string().transform(s => ({ fixed: s })),
  z.number().transform(n => ({ fixed: String(n) })),
  z.strictObject({ choice: z.record(z.string(), z.number().positive('weights must be > 0')) })
    .refine(d => Object.keys(d.choice).length > 0, 'choice needs at least one value'),
  z.strictObject({ uniform: z.tuple([z.number(), z.number()]) })
    .refine(d => d.uniform[0] <= d.uniform[1], 'uniform: the low end must not exceed the high end')
]) as z.ZodType<Distribution>

/** `"0-99"`, `"7"` or a list of them: node indices, inclusive ranges. */
const ranges = z.union([z.string(), z.number().int().nonnegative(), z.array(z.union([z.string(), z.number().int().nonnegative()])).min(1)])
  .transform((v, ctx) => {
    const out: Array<[number, number]> = []
    for (const item of Array.isArray(v) ? v : [v]) {
      const m = /^(\d+)(?:-(\d+))?$/.exec(String(item).trim())
      if (m == null) {
        ctx.addIssue({ code: 'custom', message: `"${String(item)}" is not a node index or a range like "0-99"` })
        return z.NEVER
      }
      const lo = Number(m[1])
      const hi = m[2] === undefined ? lo : Number(m[2])
      if (hi < lo) {
        ctx.addIssue({ code: 'custom', message: `range "${String(item)}" ends before it starts` })
        return z.NEVER
      }
      out.push([lo, hi])
    }
    return out
  })

const nodeSet = z.union([
  z.strictObject({ nodes: ranges }),
  z.strictObject({ selector }),
  z.strictObject({ count: z.number().int().positive() }),
  z.strictObject({ coordinator: name })
]) as z.ZodType<NodeSet>

const actionSchema = z.strictObject({
  at: duration,
  apply: z.record(z.string(), z.unknown()).optional(),
  partition: z.array(nodeSet).min(1, 'needs at least one group (the rest of the fleet is the last)').optional(),
  heal: z.literal(true).optional(),
  crash: nodeSet.optional(),
  restart: nodeSet.optional(),
  pause: nodeSet.optional(),
  resume: nodeSet.optional(),
  killCoordinator: name.optional(),
  drainBattery: z.strictObject({ target: nodeSet, to: z.number().min(0).max(100) }).optional(),
  addNodes: z.strictObject({
    count: z.number().int().positive(),
    labels: z.record(z.string(), distribution).optional(),
    props: z.record(z.string(), distribution).optional()
  }).optional(),
  slow: z.strictObject({ target: nodeSet, disk: z.number().min(1).max(1000).default(1), cpu: z.number().min(1).max(1000).default(1) }).optional(),
  shapeLinks: z.strictObject({
    target: nodeSet,
    latency: duration.optional(),
    jitter: duration.optional(),
    bandwidth: rate.optional(),
    loss: z.number().min(0).max(1).optional()
  }).optional()
})

const ACTION_KEYS = ['apply', 'partition', 'heal', 'crash', 'restart', 'pause', 'resume', 'killCoordinator', 'drainBattery', 'addNodes', 'slow', 'shapeLinks'] as const

const scenarioSchema = z.strictObject({
  name,
  mode: z.enum(['des', 'inprocess', 'multihost']),
  seed: z.number().int().nonnegative().max(0xffffffff).default(1),
  duration,
  fleet: z.strictObject({
    nodes: z.number().int().min(1).max(MAX_SCENARIO_NODES),
    labels: z.record(z.string(), distribution).default({}),
    props: z.record(z.string(), distribution).default({}),
    links: z.strictObject({
      latency: duration.default(20),
      jitter: duration.default(0),
      bandwidth: rate.default(2_500_000),
      loss: z.number().min(0).max(1).default(0)
    }).default({ latency: 20, jitter: 0, bandwidth: 2_500_000, loss: 0 }),
    originBandwidth: rate.optional(),
    gossipDegree: z.number().int().min(2).max(64).default(6)
  }),
  models: z.array(z.strictObject({
    name,
    versions: z.array(z.strictObject({
      version: z.string().min(1),
      size: bytes,
      behaviour: z.enum(['good', 'nan', 'slow', 'failing']).default('good')
    })).min(1)
  })).default([]),
  initial: z.array(z.strictObject({ model: name, version: z.string().min(1) })).default([]),
  timeline: z.array(actionSchema).default([]),
  invariants: z.array(z.enum(INVARIANT_NAMES as [InvariantName, ...InvariantName[]])).default([...INVARIANT_NAMES]),
  convergenceWithin: duration.default(120_000),
  expect: z.array(z.strictObject({ rollout: name, phase: z.enum(['Completed', 'RolledBack']), noNodeOn: z.string().optional() })).default([])
})

function formatPath (path: ReadonlyArray<PropertyKey>): string {
  let out = ''
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? String(seg) : `.${String(seg)}`
  return out === '' ? '(document)' : out
}

function zodIssues (issues: readonly z.core.$ZodIssue[]): ScenarioIssue[] {
  const out: ScenarioIssue[] = []
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push({ path: formatPath([...issue.path, key]), message: 'unknown field' })
    } else if (issue.code === 'invalid_union') {
      out.push({ path: formatPath(issue.path), message: 'is not any of the accepted forms' })
    } else {
      out.push({ path: formatPath(issue.path), message: issue.message })
    }
  }
  return out
}

/**
 * Parses and checks a scenario. Throws {@link ScenarioError} listing every issue with its path.
 * Cross-field checks: versions in `initial` and in applied rollouts exist among `models`, timeline
 * entries fall within `duration` and each holds exactly one action.
 */
export function parseScenario (text: string): Scenario {
  const size = Buffer.byteLength(text, 'utf8')
  if (size > MAX_SCENARIO_BYTES) throw new ScenarioError([{ path: '(document)', message: `is ${size} bytes, at most ${MAX_SCENARIO_BYTES}` }])
  const docs = parseAllDocuments(text, { uniqueKeys: true, merge: false })
  const list = Array.isArray(docs) ? docs : [docs]
  if (list.length !== 1) throw new ScenarioError([{ path: '(document)', message: list.length === 0 ? 'is empty' : `has ${list.length} YAML documents, expected one` }])
  const errors = list[0]!.errors
  if (errors.length > 0) throw new ScenarioError(errors.map(e => ({ path: '(document)', message: `YAML: ${e.message.split('\n')[0]!}` })))
  let raw: unknown
  try {
    raw = list[0]!.toJS({ maxAliasCount: MAX_SCENARIO_ALIASES })
  } catch (err) {
    throw new ScenarioError([{ path: '(document)', message: `YAML: ${errorMessage(err)}` }], { cause: err })
  }
  const parsed = scenarioSchema.safeParse(raw)
  if (!parsed.success) throw new ScenarioError(zodIssues(parsed.error.issues))
  const s = parsed.data
  const issues: ScenarioIssue[] = []
  const versions = new Map(s.models.map(m => [m.name, new Set(m.versions.map(v => v.version))]))
  s.initial.forEach((i, k) => {
    if (versions.get(i.model)?.has(i.version) !== true) issues.push({ path: `initial[${k}]`, message: `${i.model}@${i.version} is not among models` })
  })
  const timeline: TimelineEntry[] = []
  s.timeline.forEach((entry, k) => {
    const path = `timeline[${k}]`
    const present = ACTION_KEYS.filter(key => entry[key] !== undefined)
    if (present.length !== 1) {
      issues.push({ path, message: present.length === 0 ? `needs one action: ${ACTION_KEYS.join(', ')}` : `has ${present.join(' and ')}; one action per entry` })
      return
    }
    if (entry.at > s.duration) issues.push({ path: `${path}.at`, message: 'is after the end of the run (duration)' })
    const action = toAction(entry, present[0]!, path, versions, issues)
    if (action !== undefined) timeline.push({ atMs: entry.at, action })
  })
  if (issues.length > 0) throw new ScenarioError(issues)
  timeline.sort((a, b) => a.atMs - b.atMs)
  return {
    name: s.name,
    mode: s.mode,
    seed: s.seed,
    durationMs: s.duration,
    fleet: {
      nodes: s.fleet.nodes,
      labels: s.fleet.labels,
      props: s.fleet.props,
      links: { latencyMs: s.fleet.links.latency, jitterMs: s.fleet.links.jitter, bytesPerSec: s.fleet.links.bandwidth, loss: s.fleet.links.loss },
      originBytesPerSec: s.fleet.originBandwidth ?? s.fleet.links.bandwidth,
      gossipDegree: s.fleet.gossipDegree
    },
    models: s.models.map(m => ({ name: m.name, versions: m.versions.map(v => ({ version: v.version, sizeBytes: v.size, behaviour: v.behaviour })) })),
    initial: s.initial,
    timeline,
    invariants: s.invariants,
    convergenceWithinMs: s.convergenceWithin,
    expect: s.expect
  }
}

type RawEntry = z.infer<typeof actionSchema>

function toAction (entry: RawEntry, key: typeof ACTION_KEYS[number], path: string, versions: Map<string, Set<string>>, issues: ScenarioIssue[]): ScenarioAction | undefined {
  switch (key) {
    case 'apply': {
      try {
        const { name: rollout, spec } = parseRolloutManifest(stringify(entry.apply))
        const model = spec.model
        if (model.cid === undefined && (model.name === undefined || model.version === undefined || versions.get(model.name)?.has(model.version) !== true)) {
          issues.push({ path: `${path}.apply.spec.model`, message: `${model.name ?? '?'}@${model.version ?? '?'} is not among models` })
          return undefined
        }
        return { kind: 'apply', name: rollout, spec }
      } catch (err) {
        if (!(err instanceof ManifestValidationError)) throw err
        for (const i of err.issues) issues.push({ path: i.path === '(document)' ? `${path}.apply` : `${path}.apply.${i.path}`, message: i.message })
        return undefined
      }
    }
    case 'partition': return { kind: 'partition', groups: entry.partition! }
    case 'heal': return { kind: 'heal' }
    case 'crash': return { kind: 'crash', target: entry.crash! }
    case 'restart': return { kind: 'restart', target: entry.restart! }
    case 'pause': return { kind: 'pause', target: entry.pause! }
    case 'resume': return { kind: 'resume', target: entry.resume! }
    case 'killCoordinator': return { kind: 'killCoordinator', rollout: entry.killCoordinator! }
    case 'drainBattery': return { kind: 'drainBattery', target: entry.drainBattery!.target, to: entry.drainBattery!.to }
    case 'addNodes': return { kind: 'addNodes', count: entry.addNodes!.count, labels: entry.addNodes!.labels ?? {}, props: entry.addNodes!.props ?? {} }
    case 'slow': return { kind: 'slow', target: entry.slow!.target, disk: entry.slow!.disk, cpu: entry.slow!.cpu }
    case 'shapeLinks': {
      const l = entry.shapeLinks!
      const links: Partial<LinkShape> = {}
      if (l.latency !== undefined) links.latencyMs = l.latency
      if (l.jitter !== undefined) links.jitterMs = l.jitter
      if (l.bandwidth !== undefined) links.bytesPerSec = l.bandwidth
      if (l.loss !== undefined) links.loss = l.loss
      return { kind: 'shapeLinks', target: l.target, links }
    }
    default: {
      const never: never = key
      throw new TypeError(`unknown action ${String(never)}`)
    }
  }
}
