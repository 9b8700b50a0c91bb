/**
 * Abort criteria ("gates"), evaluated from what the heartbeats say about the devices of a
 * rollout. Pure and O(criteria × samples): the coordinator calls it on every decision.
 *
 * How each criterion is measured:
 *
 * - **failureType** (AWS IoT Jobs' abort config): the share of *dispatched* devices (every sample,
 *   whatever its state) that ended `Failed` (`FAILED`), `TimedOut` (`TIMED_OUT`) or either (`ALL`),
 *   in percent. Inconclusive while fewer than `minNodes` devices have an activation outcome
 *   (Active, Failed or TimedOut); then it trips when the share is `>= thresholdPercentage`.
 * - **errorRate**, **nonFiniteRate**: `sum(errors) / sum(requests)` (or NaN/Inf responses) over
 *   the devices whose stats count at least `minRequests` requests. Trips when `> max`.
 * - **p95LatencyMs**: the highest p95 among those devices (one slow device is a finding, an
 *   average would hide it). Trips when `> max`.
 * - **shadowAgreement**: the lowest agreement among those devices that report one. Trips when `< min`.
 *
 * A metric criterion is inconclusive while fewer than `minNodes` devices qualify: `tooFewNodes`
 * when fewer than `minNodes` report stats at all, `noTraffic` when enough report but too few have
 * served `minRequests`. Stats are whatever the caller attaches to a sample: those of the version
 * being rolled out. Silence is never a pass: the plan holds on inconclusive.
 */
import type { InferenceStats } from '../../protocols/heartbeat/index.js'
import type { DeviceStateKind } from './device.js'
import type { AbortCriterion } from './spec.js'

/** What the coordinator knows of one device of the rollout. */
export interface GateSample {
  peerId: string
  state: DeviceStateKind
  /** The rolled-out version's inference stats from the device's latest heartbeat. */
  stats?: InferenceStats
}

/** Why a criterion cannot be judged yet. */
export type InconclusiveReason = 'tooFewNodes' | 'noTraffic'

/** A criterion that is not yet conclusive, and why. */
export interface GateInconclusive {
  /** Index of the criterion in `strategy.abort`. */
  criterion: number
  reason: InconclusiveReason
  text: string
}

/** A criterion that tripped: the rollout must abort. */
export interface GateTrip {
  /** Index of the criterion in `strategy.abort`. */
  criterion: number
  /** e.g. `errorRate 0.031 > max 0.02 over 6 nodes (412 requests)` */
  text: string
  /** The measured value (a rate, ms, or a percentage for failureType). */
  value: number
  threshold: number
  /** Devices the value was measured over. */
  nodes: number
  /** Requests the value was measured over (metric criteria). */
  requests?: number
}

/** The verdict of all criteria: pass only when every one is conclusive and within its bound. */
export type GateResult =
  | { kind: 'pass' }
  | { kind: 'inconclusive', reasons: GateInconclusive[] }
  | { kind: 'trip', trip: GateTrip }

type Verdict = { kind: 'pass' } | { kind: 'inconclusive', reason: InconclusiveReason, text: string } | { kind: 'trip', trip: GateTrip }

const PASS: Verdict = Object.freeze({ kind: 'pass' })

/** A number for a message: up to 3 significant digits, no exponent for the usual ranges. */
function fmt (value: number): string {
  if (!Number.isFinite(value)) return String(value)
  return String(Number(value.toPrecision(3)))
}

function plural (n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`
}

function evaluateFailure (index: number, c: Extract<AbortCriterion, { failureType: string }>, samples: readonly GateSample[]): Verdict {
  let outcomes = 0
  let matching = 0
  for (let i = 0; i < samples.length; i++) {
    const kind = samples[i]!.state
    if (kind === 'Active' || kind === 'Failed' || kind === 'TimedOut') outcomes++
    if ((kind === 'Failed' && c.failureType !== 'TIMED_OUT') || (kind === 'TimedOut' && c.failureType !== 'FAILED')) matching++
  }
  if (outcomes < c.minNodes) {
    return { kind: 'inconclusive', reason: 'tooFewNodes', text: `${c.failureType}: ${outcomes} of ${c.minNodes} nodes needed have an outcome` }
  }
  const dispatched = samples.length
  const percent = (matching / dispatched) * 100
  if (percent >= c.thresholdPercentage) {
    return {
      kind: 'trip',
      trip: {
        criterion: index,
        text: `${c.failureType} ${matching} of ${plural(dispatched, 'dispatched node')} (${fmt(percent)}%) >= threshold ${fmt(c.thresholdPercentage)}%`,
        value: percent,
        threshold: c.thresholdPercentage,
        nodes: dispatched
      }
    }
  }
  return PASS
}

function evaluateMetric (index: number, c: Extract<AbortCriterion, { metric: string }>, samples: readonly GateSample[]): Verdict {
  let reporting = 0
  let nodes = 0
  let requests = 0
  let bad = 0
  let extreme = c.metric === 'shadowAgreement' ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY
  for (let i = 0; i < samples.length; i++) {
    const st = samples[i]!.stats
    if (st === undefined) continue
    if (c.metric === 'shadowAgreement' && st.ag === undefined) continue
    reporting++
    if (st.n < c.minRequests) continue
    nodes++
    requests += st.n
    switch (c.metric) {
      case 'errorRate': bad += st.e; break
      case 'nonFiniteRate': bad += st.nf; break
      case 'p95LatencyMs': if (st.p95 > extreme) extreme = st.p95; break
      case 'shadowAgreement': if (st.ag! < extreme) extreme = st.ag!; break
    }
  }
  if (nodes < c.minNodes) {
    return reporting < c.minNodes
      ? { kind: 'inconclusive', reason: 'tooFewNodes', text: `${c.metric}: ${plural(reporting, 'node')} reporting, ${c.minNodes} needed` }
      : { kind: 'inconclusive', reason: 'noTraffic', text: `${c.metric}: ${nodes} of ${c.minNodes} nodes needed served ${c.minRequests}+ requests` }
  }
  const value = c.metric === 'errorRate' || c.metric === 'nonFiniteRate' ? (requests === 0 ? 0 : bad / requests) : extreme
  const over = `over ${plural(nodes, 'node')} (${plural(requests, 'request')})`
  if ('max' in c) {
    if (value > c.max) return { kind: 'trip', trip: { criterion: index, text: `${c.metric} ${fmt(value)} > max ${fmt(c.max)} ${over}`, value, threshold: c.max, nodes, requests } }
  } else if (value < c.min) {
    return { kind: 'trip', trip: { criterion: index, text: `${c.metric} ${fmt(value)} < min ${fmt(c.min)} ${over}`, value, threshold: c.min, nodes, requests } }
  }
  return PASS
}

/**
 * Evaluates every criterion (see the module doc for how each is measured). The first criterion
 * (lowest index) that trips decides; otherwise any inconclusive criterion makes the result
 * inconclusive, with every reason; otherwise pass. No criteria: pass.
 */
export function evaluateGates (criteria: readonly AbortCriterion[], samples: readonly GateSample[]): GateResult {
  let reasons: GateInconclusive[] | undefined
  for (let i = 0; i < criteria.length; i++) {
    const c = criteria[i]!
    const verdict = 'failureType' in c ? evaluateFailure(i, c, samples) : evaluateMetric(i, c, samples)
    if (verdict.kind === 'trip') return verdict
    if (verdict.kind === 'inconclusive') (reasons ??= []).push({ criterion: i, reason: verdict.reason, text: verdict.text })
  }
  return reasons === undefined ? { kind: 'pass' } : { kind: 'inconclusive', reasons }
}
