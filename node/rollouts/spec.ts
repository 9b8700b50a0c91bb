/**
 * The rollout manifest an operator writes (YAML, Kubernetes conventions) and the normalized
 * {@link RolloutSpec} that an admin signs into a policy. Both are checked strictly: unknown fields
 * are errors, every issue is collected with its field path, and untrusted text is bounded before it
 * is parsed (size, YAML aliases).
 */
import { parseAllDocuments } from 'yaml'
import { z } from 'zod'
import { isManifestCid } from '../../core/cid.js'
import { MAX_DURATION_MS, parseDuration } from '../../core/duration.js'
import { parseSelector, validateSelector } from '../../core/selector.js'
import { errorMessage } from '../../core/errors.js'
import { parseCpu, parseMemory } from '../inference/limits.js'
import {
  DEFAULT_ACTIVATION_TIMEOUT_MS, DEFAULT_MIN_NODES, DEFAULT_MIN_REQUESTS, MAX_ABORT_CRITERIA, MAX_MANIFEST_ALIASES,
  MAX_MANIFEST_BYTES, MAX_STEPS, ROLLOUT_API_VERSION, ROLLOUT_KIND
} from './constants.js'
import { ManifestValidationError } from './errors.js'
import type { Selector } from '../../core/selector.js'
import type { ManifestIssue } from './errors.js'

/** One step of a strategy: bring the updated share up to `setPercent`, or wait. */
export type Step =
  | { setPercent: number }
  /** A bake window of `durationMs`, or (without it) a hold until the operator resumes. */
  | { pause: { durationMs?: number } }

/** How fast devices are dispatched. */
export type RolloutRate =
  | { maxPerMinute: number }
  /**
   * AWS IoT Jobs' exponential rollout: start at `baseRatePerMinute`, multiply by
   * `incrementFactor` each time another `numberOfSucceededNodes` succeed, never above `maxPerMinute`.
   */
  | { exponential: { baseRatePerMinute: number, incrementFactor: number, numberOfSucceededNodes: number, maxPerMinute?: number } }
  | { unlimited: true }

/** Which final device states a failure-type criterion counts. */
export type FailureType = 'FAILED' | 'TIMED_OUT' | 'ALL'

/** A metric an abort criterion watches, from the heartbeats' inference stats. */
export type GateMetric = 'errorRate' | 'nonFiniteRate' | 'p95LatencyMs' | 'shadowAgreement'

/** When to stop a rollout (see gates.ts for exactly how each is measured). */
export type AbortCriterion =
  | { failureType: FailureType, thresholdPercentage: number, minNodes: number }
  | { metric: 'errorRate' | 'nonFiniteRate' | 'p95LatencyMs', max: number, minNodes: number, minRequests: number }
  | { metric: 'shadowAgreement', min: number, minNodes: number, minRequests: number }

/** The normalized rollout (what an admin signs into a policy); all durations in ms. */
export interface RolloutSpec {
  /** The model to roll out; `cid` (the manifest CID) is pinned at apply time. */
  model: { name?: string, version?: string, cid: string }
  selector: Selector
  /** Kubernetes quantities (`"500m"`, `"256Mi"`), as node/inference/limits.ts parses them. */
  resources: { limits: { cpu?: string, memory?: string } }
  strategy: {
    steps: Step[]
    rate: RolloutRate
    /** How long a device may take from dispatch to Active before it counts as TimedOut. */
    activationTimeoutMs: number
    abort: AbortCriterion[]
    rollback: 'automatic' | 'manual'
    /**
     * Every matching node downloads the model once the first step (the canary wave) is done, and
     * activates it only when its wave comes (present only when true: nodes of an older build
     * refuse unknown fields).
     */
    prefetch?: true
  }
}

/** A {@link RolloutSpec} as parsed from a manifest: the model may still lack its CID. */
export type RolloutSpecInput = Omit<RolloutSpec, 'model'> & { model: { name?: string, version?: string, cid?: string } }

// ---------------------------------------------------------------------------------------------
// Issue formatting

type Path = ReadonlyArray<PropertyKey>
interface RelativeIssue { path: PropertyKey[], message: string, subpath?: string }

function formatPath (path: Path, subpath?: string): string {
  let out = ''
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`
    else out += out === '' ? String(seg) : `.${String(seg)}`
  }
  if (subpath !== undefined && subpath !== '') out = out === '' ? subpath : subpath.startsWith('[') ? `${out}${subpath}` : `${out}.${subpath}`
  return out === '' ? '(document)' : out
}

function valueAt (root: unknown, path: Path): { present: boolean, value: unknown } {
  let cur: unknown = root
  for (const seg of path) {
    if (typeof cur !== 'object' || cur === null || !Object.hasOwn(cur, seg)) return { present: false, value: undefined }
    cur = (cur as Record<PropertyKey, unknown>)[seg]
  }
  return { present: true, value: cur }
}

const EXPECTED: Record<string, string> = {
  string: 'a string', number: 'a number', int: 'an integer', object: 'a map', array: 'a list', boolean: 'true or false', record: 'a map'
}

/** zod issues -> ours, relative to `root` (the value the schema parsed). */
function describeIssues (issues: readonly z.core.$ZodIssue[], root: unknown): RelativeIssue[] {
  const out: RelativeIssue[] = []
  for (const issue of issues) {
    const path = [...issue.path]
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: [...path, key], message: 'unknown field' })
        break
      case 'invalid_type': {
        const { present, value } = valueAt(root, path)
        // YAML reads `version: 1.0` as the number 1: say how to keep the text.
        const quote = issue.expected === 'string' && (typeof value === 'number' || typeof value === 'boolean') ? ' (put it in quotes)' : ''
        out.push({ path, message: present ? `must be ${EXPECTED[issue.expected] ?? issue.expected}${quote}` : 'is required' })
        break
      }
      case 'invalid_value':
        out.push({
          path,
          message: !valueAt(root, path).present
            ? 'is required'
            : issue.values.length === 1 ? `must be ${JSON.stringify(issue.values[0])}` : `must be one of ${issue.values.map(v => String(v)).join(', ')}`
        })
        break
      case 'custom': {
        const subpath = (issue.params as { subpath?: unknown } | undefined)?.subpath
        out.push(typeof subpath === 'string' ? { path, message: issue.message, subpath } : { path, message: issue.message })
        break
      }
      default:
        out.push({ path, message: issue.message })
    }
  }
  return out
}

type Ctx = z.core.$RefinementCtx

function report (ctx: Ctx, issue: RelativeIssue): void {
  ctx.addIssue(issue.subpath === undefined
    ? { code: 'custom', message: issue.message, path: issue.path }
    : { code: 'custom', message: issue.message, path: issue.path, params: { subpath: issue.subpath } })
}

/** Parses `value` with `schema`, forwarding its issues (paths relative to here) into `ctx`. */
function delegate<T> (schema: z.ZodType<T>, value: unknown, ctx: Ctx): T {
  const result = schema.safeParse(value)
  if (result.success) return result.data
  for (const issue of describeIssues(result.error.issues, value)) report(ctx, issue)
  return z.NEVER
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// ---------------------------------------------------------------------------------------------
// Shared pieces

const MODEL_FIELD_RE = /^[A-Za-z0-9._+-]{1,100}$/
const DNS_LABEL_RE = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$/
const modelField = z.string().regex(MODEL_FIELD_RE, 'must be 1..100 letters, digits, ".", "_", "+" or "-"')
const manifestCid = z.string().refine(isManifestCid, 'must be a model manifest CID (CIDv1, json, sha2-256: "bagaaiera...")')
const positiveInt = z.int().min(1, 'must be an integer >= 1')
const fraction = (what: string): z.ZodNumber => z.number().min(0, `${what} must be 0..1`).max(1, `${what} must be 0..1`)

const selectorObject = z.unknown().transform((value, ctx): Selector => {
  if (value === undefined) {
    report(ctx, { path: [], message: 'is required ({} selects every node)' })
    return z.NEVER
  }
  for (const issue of validateSelector(value)) {
    report(ctx, issue.path === '(root)' ? { path: [], message: issue.message } : { path: [], message: issue.message, subpath: issue.path })
  }
  return value as Selector
})

/** A selector as a map, or as kubectl `-l` text (`class=camera,battery>50`). */
const selectorInput = z.unknown().transform((value, ctx): Selector => {
  if (typeof value !== 'string') return delegate(selectorObject, value, ctx)
  try {
    return parseSelector(value)
  } catch (err) {
    report(ctx, { path: [], message: errorMessage(err) })
    return z.NEVER
  }
})

function quantity (parse: (q: string | number) => number): z.ZodType<string> {
  return z.unknown().transform((value, ctx): string => {
    if (typeof value !== 'string' && typeof value !== 'number') {
      report(ctx, { path: [], message: 'must be a quantity like "500m" or "256Mi"' })
      return z.NEVER
    }
    try {
      parse(value)
    } catch (err) {
      report(ctx, { path: [], message: errorMessage(err) })
      return z.NEVER
    }
    return typeof value === 'number' ? String(value) : value.trim()
  })
}

const limitsInput = z.strictObject({ cpu: quantity(parseCpu).optional(), memory: quantity(parseMemory).optional() })

/** A strict limits check for the normalized form: strings only, as normalization writes them. */
function normalizedQuantity (parse: (q: string) => number): z.ZodType<string> {
  return z.string().transform((value, ctx) => {
    try {
      parse(value)
    } catch (err) {
      report(ctx, { path: [], message: errorMessage(err) })
      return z.NEVER
    }
    return value
  })
}

/** A manifest duration: text with a unit ("30s", "10m", "1h30m"), more than zero. */
const durationText = z.unknown().transform((value, ctx): number => {
  if (typeof value !== 'string') {
    report(ctx, { path: [], message: 'must be a duration like "30s", "10m" or "1h30m" (a bare number has no unit)' })
    return z.NEVER
  }
  let ms: number
  try {
    ms = parseDuration(value)
  } catch (err) {
    report(ctx, { path: [], message: errorMessage(err) })
    return z.NEVER
  }
  if (ms <= 0) {
    report(ctx, { path: [], message: 'must be more than 0' })
    return z.NEVER
  }
  return ms
})

const durationMs = z.int().min(1, 'must be 1 ms or more').max(MAX_DURATION_MS, `must be at most ${MAX_DURATION_MS} ms (365 days)`)
const setPercent = z.number().min(1, 'must be 1..100').max(100, 'must be 1..100')

/** Picks the variant of a union by which key is present, for clear messages (no "invalid union"). */
function byKey<T> (variants: ReadonlyArray<readonly [string, z.ZodType<T>]>, expected: string): z.ZodType<T> {
  return z.unknown().transform((value, ctx): T => {
    if (isObject(value)) {
      for (const [key, schema] of variants) {
        if (Object.hasOwn(value, key)) return delegate(schema, value, ctx)
      }
    }
    report(ctx, { path: [], message: `must be ${expected}` })
    return z.NEVER
  })
}

function criterionSchema (normalized: boolean): z.ZodType<AbortCriterion> {
  const count = (fallback: number): z.ZodType<number> => normalized ? positiveInt : positiveInt.optional().transform(v => v ?? fallback)
  const failure = z.strictObject({
    failureType: z.enum(['FAILED', 'TIMED_OUT', 'ALL']),
    thresholdPercentage: z.number().min(0, 'must be 0..100').max(100, 'must be 0..100'),
    minNodes: count(DEFAULT_MIN_NODES)
  })
  const rate = z.strictObject({
    metric: z.enum(['errorRate', 'nonFiniteRate']),
    max: fraction('max'),
    minNodes: count(DEFAULT_MIN_NODES),
    minRequests: count(DEFAULT_MIN_REQUESTS)
  })
  const latency = z.strictObject({
    metric: z.literal('p95LatencyMs'),
    max: z.number().gt(0, 'must be more than 0 (ms)'),
    minNodes: count(DEFAULT_MIN_NODES),
    minRequests: count(DEFAULT_MIN_REQUESTS)
  })
  const agreement = z.strictObject({
    metric: z.literal('shadowAgreement'),
    min: fraction('min'),
    minNodes: count(DEFAULT_MIN_NODES),
    minRequests: count(DEFAULT_MIN_REQUESTS)
  })
  const metrics: Record<GateMetric, z.ZodType<AbortCriterion>> = { errorRate: rate, nonFiniteRate: rate, p95LatencyMs: latency, shadowAgreement: agreement }
  return z.unknown().transform((value, ctx): AbortCriterion => {
    if (isObject(value) && Object.hasOwn(value, 'failureType')) return delegate(failure, value, ctx)
    if (isObject(value) && Object.hasOwn(value, 'metric')) {
      const schema = typeof value.metric === 'string' && Object.hasOwn(metrics, value.metric) ? metrics[value.metric as GateMetric] : undefined
      if (schema !== undefined) return delegate(schema, value, ctx)
      report(ctx, { path: ['metric'], message: 'must be one of errorRate, nonFiniteRate, p95LatencyMs, shadowAgreement' })
      return z.NEVER
    }
    report(ctx, { path: [], message: 'must be {failureType, thresholdPercentage, minNodes?} or {metric, max|min, minNodes?, minRequests?}' })
    return z.NEVER
  })
}

// ---------------------------------------------------------------------------------------------
// The manifest

const pauseInput = z.unknown().transform((value, ctx): { durationMs?: number } => {
  if (value === null) return {} // `- pause:` with nothing after it
  if (typeof value === 'string') return { durationMs: delegate(durationText, value, ctx) }
  if (!isObject(value)) {
    report(ctx, { path: [], message: 'must be a duration like "30s", {} (until resumed) or {duration: DURATION}' })
    return z.NEVER
  }
  const parsed = delegate(z.strictObject({ duration: durationText.optional() }), value, ctx)
  return parsed.duration === undefined ? {} : { durationMs: parsed.duration }
})

const stepInput = byKey<Step>([
  ['setPercent', z.strictObject({ setPercent })],
  ['pause', z.strictObject({ pause: pauseInput })]
], '{setPercent: 1..100}, {pause: DURATION}, {pause: {}} or {pause: {duration: DURATION}}')

const strategyInput = z.strictObject({
  steps: z.array(stepInput).min(1, 'must have at least one step').max(MAX_STEPS, `must have at most ${MAX_STEPS} steps`),
  maxPerMinute: positiveInt.optional(),
  exponentialRate: z.strictObject({
    baseRatePerMinute: positiveInt,
    incrementFactor: z.number().gt(1, 'must be more than 1').max(100, 'must be at most 100'),
    rateIncreaseCriteria: z.strictObject({ numberOfSucceededNodes: positiveInt }),
    maxPerMinute: positiveInt.optional()
  }).optional(),
  activationTimeout: durationText.optional(),
  abort: z.array(criterionSchema(false)).max(MAX_ABORT_CRITERIA, `must have at most ${MAX_ABORT_CRITERIA} criteria`).optional(),
  rollback: z.enum(['automatic', 'manual']).optional(),
  prefetch: z.boolean().optional()
}).superRefine((s, ctx) => {
  if (s.maxPerMinute !== undefined && s.exponentialRate !== undefined) {
    ctx.addIssue({ code: 'custom', path: ['exponentialRate'], message: 'cannot be combined with maxPerMinute (give one rate)' })
  }
  const exp = s.exponentialRate
  if (exp?.maxPerMinute !== undefined && exp.maxPerMinute < exp.baseRatePerMinute) {
    ctx.addIssue({ code: 'custom', path: ['exponentialRate', 'maxPerMinute'], message: 'must be at least baseRatePerMinute' })
  }
})

const modelInput = z.strictObject({
  name: modelField.optional(),
  version: modelField.optional(),
  cid: manifestCid.optional()
}).superRefine((m, ctx) => {
  if (m.cid !== undefined) return
  if (m.name === undefined && m.version === undefined) ctx.addIssue({ code: 'custom', path: [], message: 'needs name and version, or cid' })
  else if (m.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'is required with version' })
  else if (m.version === undefined) ctx.addIssue({ code: 'custom', path: ['version'], message: 'is required with name (or give cid)' })
})

const manifestSchema = z.strictObject({
  apiVersion: z.literal(ROLLOUT_API_VERSION),
  kind: z.literal(ROLLOUT_KIND),
  metadata: z.strictObject({
    name: z.string()
      .max(63, 'must be at most 63 characters')
      .regex(DNS_LABEL_RE, 'must be a DNS label: lowercase letters, digits and "-", starting and ending with a letter or digit')
  }),
  spec: z.strictObject({
    model: modelInput,
    selector: selectorInput,
    resources: z.strictObject({ limits: limitsInput.optional() }).optional(),
    strategy: strategyInput
  })
})

type ManifestOutput = z.output<typeof manifestSchema>

function normalizeRate (s: ManifestOutput['spec']['strategy']): RolloutRate {
  if (s.maxPerMinute !== undefined) return { maxPerMinute: s.maxPerMinute }
  const exp = s.exponentialRate
  if (exp === undefined) return { unlimited: true }
  const exponential: { baseRatePerMinute: number, incrementFactor: number, numberOfSucceededNodes: number, maxPerMinute?: number } = {
    baseRatePerMinute: exp.baseRatePerMinute,
    incrementFactor: exp.incrementFactor,
    numberOfSucceededNodes: exp.rateIncreaseCriteria.numberOfSucceededNodes
  }
  if (exp.maxPerMinute !== undefined) exponential.maxPerMinute = exp.maxPerMinute
  return { exponential }
}

function withoutUndefined<T extends Record<string, unknown>> (value: T): T {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = v
  return out as T
}

function toIssues (issues: readonly z.core.$ZodIssue[], root: unknown): ManifestIssue[] {
  return describeIssues(issues, root).map(i => ({ path: formatPath(i.path, i.subpath), message: i.message }))
}

/**
 * Parses and checks a rollout manifest:
 *
 * ```yaml
 * apiVersion: tutti.dev/v1
 * kind: Rollout
 * metadata: { name: face-v2 }
 * spec:
 *   model: { name: face, version: 2.0.0 }      # or { cid: bagaaiera... }
 *   selector: { matchLabels: { class: camera } } # or "class=camera,battery>50"
 *   resources: { limits: { cpu: 500m, memory: 256Mi } }
 *   strategy:
 *     steps: [ { setPercent: 5 }, { pause: 10m }, { setPercent: 50 }, { pause: {} }, { setPercent: 100 } ]
 *     maxPerMinute: 20                           # or exponentialRate: {...}; neither = unlimited
 *     activationTimeout: 10m
 *     abort: [ { failureType: FAILED, thresholdPercentage: 10, minNodes: 5 }, { metric: errorRate, max: 0.02 } ]
 *     rollback: automatic
 *     prefetch: true                             # every target downloads now, activates in its wave
 * ```
 *
 * The text is bounded to {@link MAX_MANIFEST_BYTES} before parsing and its aliases to
 * {@link MAX_MANIFEST_ALIASES}. Returns the normalized spec (durations in ms, defaults filled in);
 * `model.cid` may be absent until apply time. Throws {@link ManifestValidationError} listing every
 * issue as `path: reason`.
 */
export function parseRolloutManifest (yamlText: string): { name: string, spec: RolloutSpecInput } {
  if (typeof yamlText !== 'string') throw new ManifestValidationError([{ path: '(document)', message: 'must be YAML text' }])
  const bytes = Buffer.byteLength(yamlText, 'utf8')
  if (bytes > MAX_MANIFEST_BYTES) {
    throw new ManifestValidationError([{ path: '(document)', message: `is ${bytes} bytes, at most ${MAX_MANIFEST_BYTES}` }])
  }
  const raw = parseYaml(yamlText)
  const result = manifestSchema.safeParse(raw)
  if (!result.success) throw new ManifestValidationError(toIssues(result.error.issues, raw))
  const { metadata, spec } = result.data
  const strategy = spec.strategy
  return {
    name: metadata.name,
    spec: {
      model: withoutUndefined({ name: spec.model.name, version: spec.model.version, cid: spec.model.cid }),
      selector: spec.selector,
      resources: { limits: withoutUndefined({ cpu: spec.resources?.limits?.cpu, memory: spec.resources?.limits?.memory }) },
      strategy: {
        steps: strategy.steps,
        rate: normalizeRate(strategy),
        activationTimeoutMs: strategy.activationTimeout ?? DEFAULT_ACTIVATION_TIMEOUT_MS,
        abort: strategy.abort ?? [],
        rollback: strategy.rollback ?? 'automatic',
        ...(strategy.prefetch === true ? { prefetch: true as const } : {})
      }
    }
  }
}

function parseYaml (text: string): unknown {
  const docs = parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, merge: false })
  const list = Array.isArray(docs) ? docs : [docs]
  const issues: ManifestIssue[] = []
  if (list.length !== 1) issues.push({ path: '(document)', message: list.length === 0 ? 'is empty' : `has ${list.length} YAML documents, expected one` })
  for (const doc of list) {
    for (const err of doc.errors) issues.push({ path: '(document)', message: `YAML: ${firstLine(err.message)}` })
  }
  if (issues.length > 0) throw new ManifestValidationError(issues)
  try {
    return list[0]!.toJS({ maxAliasCount: MAX_MANIFEST_ALIASES })
  } catch (err) {
    throw new ManifestValidationError([{ path: '(document)', message: `YAML: ${firstLine(errorMessage(err))}` }], { cause: err })
  }
}

function firstLine (message: string): string {
  return message.split('\n')[0]!.replace(/:\s*$/, '')
}

// ---------------------------------------------------------------------------------------------
// The normalized spec, as it arrives inside a signed policy

const stepNormalized = byKey<Step>([
  ['setPercent', z.strictObject({ setPercent })],
  ['pause', z.strictObject({ pause: z.strictObject({ durationMs: durationMs.optional() }) })]
], '{setPercent: 1..100} or {pause: {durationMs?}}')

const rateNormalized = byKey<RolloutRate>([
  ['maxPerMinute', z.strictObject({ maxPerMinute: positiveInt })],
  ['exponential', z.strictObject({
    exponential: z.strictObject({
      baseRatePerMinute: positiveInt,
      incrementFactor: z.number().gt(1, 'must be more than 1').max(100, 'must be at most 100'),
      numberOfSucceededNodes: positiveInt,
      maxPerMinute: positiveInt.optional()
    }).superRefine((e, ctx) => {
      if (e.maxPerMinute !== undefined && e.maxPerMinute < e.baseRatePerMinute) ctx.addIssue({ code: 'custom', path: ['maxPerMinute'], message: 'must be at least baseRatePerMinute' })
    })
  })],
  ['unlimited', z.strictObject({ unlimited: z.literal(true) })]
], '{maxPerMinute}, {exponential: {...}} or {unlimited: true}')

const specSchema = z.strictObject({
  model: z.strictObject({ name: modelField.optional(), version: modelField.optional(), cid: manifestCid }),
  selector: selectorObject,
  resources: z.strictObject({
    limits: z.strictObject({ cpu: normalizedQuantity(parseCpu).optional(), memory: normalizedQuantity(parseMemory).optional() })
  }),
  strategy: z.strictObject({
    steps: z.array(stepNormalized).min(1, 'must have at least one step').max(MAX_STEPS, `must have at most ${MAX_STEPS} steps`),
    rate: rateNormalized,
    activationTimeoutMs: durationMs,
    abort: z.array(criterionSchema(true)).max(MAX_ABORT_CRITERIA, `must have at most ${MAX_ABORT_CRITERIA} criteria`),
    rollback: z.enum(['automatic', 'manual']),
    prefetch: z.literal(true).optional()
  })
})

/** Every issue of a normalized spec (empty = valid), paths from the spec's root (`strategy.steps[0]`). */
export function rolloutSpecIssues (value: unknown): ManifestIssue[] {
  const result = specSchema.safeParse(value)
  return result.success ? [] : toIssues(result.error.issues, value)
}

/**
 * Checks a normalized {@link RolloutSpec} as it arrives from the network inside a signed policy,
 * as strictly as a manifest: unknown fields, missing CID, out-of-range values are all errors.
 * Returns the value typed (unchanged); throws {@link ManifestValidationError} with every issue.
 */
export function validateRolloutSpec (value: unknown): RolloutSpec {
  const issues = rolloutSpecIssues(value)
  if (issues.length > 0) throw new ManifestValidationError(issues, { what: 'rollout spec' })
  return value as RolloutSpec
}
