/**
 * The coordinator's whole decision, as one pure function: given the signed policy, the recorded
 * progress, who the targets are now and what each device reports, what to do next. The shell
 * around it sends the commands, records dispatch times and writes the progress; the simulator runs
 * the same function for 10,000 logical nodes. O(n log k) per call over n targets when k devices
 * are dispatched or reverted (one hash per candidate, a bounded selection), O(n) otherwise.
 */
import { RATE_WINDOW_MS } from './constants.js'
import { isInProgress, isUpdated } from './device.js'
import { evaluateGates } from './gates.js'
import { hrwTop } from './hrw.js'
import type { DeviceStateKind } from './device.js'
import type { GateInconclusive, GateSample, GateTrip } from './gates.js'
import type { RolloutRate, RolloutSpec, Step } from './spec.js'

/** Where a rollout stands, as its progress record says. */
export type RolloutPhase = 'Progressing' | 'Paused' | 'Completed' | 'Aborted' | 'RolledBack'

/** The operator's controls, as the policy document carries them (node/policy `PolicyControl`). */
export interface RolloutControl {
  /** Hold: no new activation and no step advance (reverts and gates still run). */
  paused: boolean
  /** An indefinite `{pause: {}}` step at index i is passed iff `resumedThrough >= i`. */
  resumedThrough: number
  /** Roll every updated device back; the rollout ends RolledBack. */
  undo: boolean
  /** Tombstone: the coordinator stops; devices keep what they run. */
  deleted: boolean
}

/** The progress the coordinator recorded last (from its own or a predecessor's RolloutProgress). */
export interface ProgressState {
  phase: RolloutPhase
  /** Index into the effective steps ({@link effectiveSteps}). */
  step: number
  /** When the current step began, ms (the caller's clock). */
  stepStartedAt: number
}

/** Everything {@link decide} looks at. Nothing in it is modified. */
export interface ControllerInput {
  /** The rollout's name; the wave order is HRW-ranked on `${rollout}/waves`. */
  rollout: string
  policy: { spec: RolloutSpec, control: RolloutControl }
  progress: ProgressState
  /** Distinct peer ids that match the selector and are alive now (the caller computes them). */
  targets: readonly string[]
  /**
   * Peer ids that match the selector and are still in the caller's view but not alive (suspect
   * or dead), none of them in `targets`. They count in a step's percentage, updated or not, and are
   * never sent commands: a coordinator that loses sight of the canaries (a partition, a crash)
   * must not send the version to more nodes to make up for them. @default []
   */
  unreachable?: readonly string[]
  /** Each known device's state in this rollout (targets or not); absent = never dispatched. */
  devices: ReadonlyMap<string, DeviceStateKind>
  /** When commands (activations and reverts) were sent, ms; only those in the last minute count. */
  recentDispatches: readonly number[]
  /** Devices that reached Active in this rollout (drives the exponential rate). */
  succeeded: number
  /** Heartbeat stats of the rolled-out version, for the abort criteria. */
  samples: readonly GateSample[]
  /** The caller's clock, ms. */
  now: number
}

/** What the coordinator should do now. */
export type Decision =
  /** Send an activate command to these peers (in this order), then record their dispatch times. */
  | { kind: 'dispatch', peers: string[] }
  /** Move to step `toStep` and set `stepStartedAt = now`. */
  | { kind: 'advance', toStep: number, reason: string }
  /** Nothing to send yet; `reason` is for the progress message. */
  | { kind: 'hold', reason: string, inconclusive?: GateInconclusive[] }
  /** A criterion tripped: phase Aborted, with the trip. Rollback follows if automatic. */
  | { kind: 'abort', trip: GateTrip }
  /** Send a revert command to these peers, then record their dispatch times. */
  | { kind: 'revert', peers: string[] }
  /** Every step is done: phase Completed. */
  | { kind: 'complete' }
  /** Every updated device is rolled back: phase RolledBack. */
  | { kind: 'rolledBack' }
  /** The operator paused the rollout: phase Paused, nothing sent. */
  | { kind: 'paused' }
  /** Nothing to do, now or later without new input (a finished, aborted or deleted rollout). */
  | { kind: 'idle' }

const FINAL_STEP: Step = Object.freeze({ setPercent: 100 })

/**
 * The steps a rollout walks: the spec's, plus a final `{setPercent: 100}` when the last
 * `setPercent` is below 100 or there is none (as Argo Rollouts promotes fully after the last step).
 */
export function effectiveSteps (steps: readonly Step[]): readonly Step[] {
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!
    if ('setPercent' in s) return s.setPercent >= 100 ? steps : [...steps, FINAL_STEP]
  }
  return [...steps, FINAL_STEP]
}

/** ceil(percent/100 × targets), robust to float error (7% of 100 is 7, not 8). */
export function wantedCount (percent: number, targets: number): number {
  if (percent <= 0 || targets <= 0) return 0
  return Math.min(targets, Math.ceil((percent * targets) / 100 - 1e-9))
}

/**
 * Commands per minute the rate allows now. Exponential (AWS IoT Jobs): `baseRatePerMinute ×
 * incrementFactor^floor(succeeded / numberOfSucceededNodes)`, floored, capped at `maxPerMinute`.
 */
export function ratePerMinute (rate: RolloutRate, succeeded: number): number {
  if ('unlimited' in rate) return Number.POSITIVE_INFINITY
  if ('maxPerMinute' in rate) return rate.maxPerMinute
  const e = rate.exponential
  const steps = Math.floor(Math.max(0, succeeded) / e.numberOfSucceededNodes)
  const grown = Math.floor(e.baseRatePerMinute * e.incrementFactor ** steps)
  const cap = e.maxPerMinute ?? Number.MAX_SAFE_INTEGER
  return Math.min(cap, Number.isFinite(grown) ? grown : cap)
}

/** How many more commands may go out now: the rate minus those sent in the last minute. */
export function rateBudget (rate: RolloutRate, succeeded: number, recentDispatches: readonly number[], now: number): number {
  const limit = ratePerMinute(rate, succeeded)
  if (limit === Number.POSITIVE_INFINITY) return limit
  let recent = 0
  for (let i = 0; i < recentDispatches.length; i++) {
    const t = recentDispatches[i]!
    if (t > now - RATE_WINDOW_MS && t <= now) recent++
  }
  return Math.max(0, limit - recent)
}

/** The percentage a step holds the rollout at: its own setPercent, or the last one before a pause. */
function percentAt (steps: readonly Step[], index: number): number {
  for (let i = Math.min(index, steps.length - 1); i >= 0; i--) {
    const s = steps[i]!
    if ('setPercent' in s) return s.setPercent
  }
  return 0
}

interface TargetCounts {
  updated: number
  inProgress: number
  undispatched: number
}

/** Counts over the live targets, plus the updated devices among the unreachable ones. */
function countTargets (targets: readonly string[], devices: ReadonlyMap<string, DeviceStateKind>, unreachable: readonly string[] = []): TargetCounts {
  let updated = 0
  let inProgress = 0
  let undispatched = 0
  for (let i = 0; i < targets.length; i++) {
    const kind = devices.get(targets[i]!)
    if (kind === undefined) undispatched++
    else {
      if (isUpdated(kind)) updated++
      if (isInProgress(kind)) inProgress++
    }
  }
  for (let i = 0; i < unreachable.length; i++) {
    const kind = devices.get(unreachable[i]!)
    if (kind !== undefined && isUpdated(kind)) updated++
  }
  return { updated, inProgress, undispatched }
}

/** Every matching member a step's percentage is of: the live targets and the unreachable ones. */
function population (input: ControllerInput): number {
  return input.targets.length + (input.unreachable?.length ?? 0)
}

/** The first `count` never-dispatched targets in wave (HRW) order. */
function nextWave (input: ControllerInput, count: number): string[] {
  return hrwTop(`${input.rollout}/waves`, input.targets, count, id => input.devices.has(id))
}

function rateHold (input: ControllerInput): Decision {
  const limit = ratePerMinute(input.policy.spec.strategy.rate, input.succeeded)
  return { kind: 'hold', reason: `rate limit: ${limit} commands per minute reached` }
}

/**
 * Rolling back: revert every updated device (Active or in progress), targets or not, rate-limited
 * like dispatches; RolledBack once none is updated or rolling back.
 */
function decideRollback (input: ControllerInput): Decision {
  const toRevert: string[] = []
  let rollingBack = 0
  for (const [id, kind] of input.devices) {
    if (isUpdated(kind)) toRevert.push(id)
    else if (kind === 'RollingBack') rollingBack++
  }
  if (toRevert.length === 0) {
    return rollingBack === 0 ? { kind: 'rolledBack' } : { kind: 'hold', reason: `waiting for ${rollingBack} device(s) to roll back` }
  }
  const budget = rateBudget(input.policy.spec.strategy.rate, input.succeeded, input.recentDispatches, input.now)
  if (budget <= 0) return rateHold(input)
  return { kind: 'revert', peers: hrwTop(`${input.rollout}/waves`, toRevert, Math.min(budget, toRevert.length)) }
}

/** Tops the updated count up to `wanted`, if targets and the rate allow; undefined when nothing to send. */
function topUp (input: ControllerInput, wanted: number, counts: TargetCounts): Decision | undefined {
  const need = Math.min(wanted - counts.updated, counts.undispatched)
  if (need <= 0) return undefined
  const budget = rateBudget(input.policy.spec.strategy.rate, input.succeeded, input.recentDispatches, input.now)
  if (budget <= 0) return rateHold(input)
  return { kind: 'dispatch', peers: nextWave(input, Math.min(need, budget)) }
}

/**
 * The coordinator's next move. In order:
 *
 * 1. `control.deleted` -> idle.
 * 2. `control.undo` (unless RolledBack), or Aborted with `rollback: automatic` -> roll back:
 *    revert updated devices (rate-limited), then `rolledBack`. Pause does not hold a rollback.
 * 3. RolledBack, or Aborted with manual rollback -> idle.
 * 4. Completed -> keep converging: a device that starts matching later is dispatched (unless
 *    paused); otherwise idle. Criteria are no longer evaluated.
 * 5. Progressing or Paused: an abort criterion that trips -> abort (at any time, paused or not).
 * 6. `control.paused` -> paused.
 * 7. The current step. Targets are ordered by HRW on `${rollout}/waves`, so the canary set is
 *    stable; a step at p% wants ceil(p/100 × targets) updated (Active or in progress; Failed and
 *    TimedOut devices are not, and are not retried), dispatched in that order within the rate.
 *    A device that starts matching later falls into the count; one that stops matching keeps what
 *    it runs and is not counted. The percentage is of every matching member the caller's view
 *    holds, alive or not (`unreachable`), and only live ones are sent commands.
 *    - setPercent: dispatch until the count is met; the step is done when none of the targets is
 *      still in progress -> advance (or complete after the last step). No targets -> hold.
 *    - pause with a duration (a bake window): keeps the previous percentage topped up; at its end
 *      the criteria must pass to advance (inconclusive holds: never advance on silence), unless
 *      `control.resumedThrough >= step`: the operator's resume takes an inconclusive bake as a
 *      pass once the window is over (it never cuts a window short, and a trip still aborts).
 *    - pause without one: keeps topping up; advances once `control.resumedThrough >= step`.
 */
export function decide (input: ControllerInput): Decision {
  const { spec, control } = input.policy
  const phase = input.progress.phase
  if (control.deleted) return { kind: 'idle' }
  if ((control.undo && phase !== 'RolledBack') || (phase === 'Aborted' && spec.strategy.rollback === 'automatic')) {
    return decideRollback(input)
  }
  if (phase === 'RolledBack' || phase === 'Aborted') return { kind: 'idle' }

  const steps = effectiveSteps(spec.strategy.steps)
  if (phase === 'Completed') {
    if (control.paused) return { kind: 'idle' }
    const counts = countTargets(input.targets, input.devices, input.unreachable)
    const top = topUp(input, wantedCount(percentAt(steps, steps.length - 1), population(input)), counts)
    return top?.kind === 'dispatch' ? top : { kind: 'idle' }
  }

  const gates = evaluateGates(spec.strategy.abort, input.samples)
  if (gates.kind === 'trip') return { kind: 'abort', trip: gates.trip }
  if (control.paused) return { kind: 'paused' }

  const index = Math.max(0, input.progress.step)
  if (index >= steps.length) return { kind: 'complete' }
  const step = steps[index]!
  const counts = countTargets(input.targets, input.devices, input.unreachable)
  const wanted = wantedCount(percentAt(steps, index), population(input))
  const advance = (reason: string): Decision => index + 1 >= steps.length ? { kind: 'complete' } : { kind: 'advance', toStep: index + 1, reason }

  if ('setPercent' in step) {
    if (input.targets.length === 0) return { kind: 'hold', reason: 'no alive node matches the selector' }
    const top = topUp(input, wanted, counts)
    if (top !== undefined) return top
    if (counts.inProgress > 0) return { kind: 'hold', reason: `waiting for ${counts.inProgress} of ${wanted} device(s) to finish activating` }
    return advance(`${step.setPercent}% reached: ${counts.updated} of ${population(input)} targets updated`)
  }

  const top = topUp(input, wanted, counts)
  if (top?.kind === 'dispatch') return top
  const durationMs = step.pause.durationMs
  if (durationMs === undefined) {
    if (control.resumedThrough >= index) return advance(`resumed through step ${control.resumedThrough}`)
    return { kind: 'hold', reason: `paused at step ${index} until resumed` }
  }
  const leftMs = input.progress.stepStartedAt + durationMs - input.now
  if (leftMs > 0) return { kind: 'hold', reason: `baking: ${Math.ceil(leftMs / 1000)}s left` }
  if (gates.kind === 'inconclusive') {
    const why = gates.reasons.map(r => r.text).join('; ')
    // The operator's word, as Argo's promote: `tutti rollout resume` takes an inconclusive bake
    // as a pass (a trip still aborts, above). Silence alone never advances.
    if (control.resumedThrough >= index) return advance(`resumed through step ${control.resumedThrough} with the criteria inconclusive: ${why}`)
    return { kind: 'hold', reason: `bake window over, criteria inconclusive: ${why} (\`tutti rollout resume\` goes on without them)`, inconclusive: gates.reasons }
  }
  return advance(`baked ${Math.round(durationMs / 1000)}s, criteria pass`)
}

/** The phase to record after acting on `decision` in `current`. */
export function nextPhase (current: RolloutPhase, decision: Decision): RolloutPhase {
  switch (decision.kind) {
    case 'abort': return 'Aborted'
    case 'complete': return 'Completed'
    case 'rolledBack': return 'RolledBack'
    case 'paused': return 'Paused'
    case 'dispatch':
    case 'advance':
    case 'hold':
      return current === 'Paused' ? 'Progressing' : current
    case 'revert':
    case 'idle':
      return current
    default: {
      const never: never = decision
      throw new TypeError(`unknown decision ${JSON.stringify(never)}`)
    }
  }
}

/** Counts for `tutti get rollouts` and the progress message. */
export interface RolloutProgressSummary {
  /** Current targets (alive and matching). */
  targets: number
  /** Devices by state, over every known device of the rollout (targets or not). */
  counts: Record<DeviceStateKind, number>
  /** Targets updated (Active or in progress). */
  updated: number
  /** Targets Active. */
  active: number
  /** Active targets as a whole percentage of targets, rounded down (100 only when all are). */
  percentDone: number
}

/** Counts by state and how much of the current target set runs the new version. O(n). */
export function rolloutProgressSummary (targets: readonly string[], devices: ReadonlyMap<string, DeviceStateKind>): RolloutProgressSummary {
  const counts: Record<DeviceStateKind, number> = {
    Pending: 0, Downloading: 0, Verifying: 0, Loading: 0, SmokeTest: 0, Active: 0, Failed: 0, TimedOut: 0, RollingBack: 0, RolledBack: 0
  }
  for (const kind of devices.values()) counts[kind]++
  const unique = new Set(targets)
  let updated = 0
  let active = 0
  for (const id of unique) {
    const kind = devices.get(id)
    if (kind === undefined) continue
    if (isUpdated(kind)) updated++
    if (kind === 'Active') active++
  }
  return {
    targets: unique.size,
    counts,
    updated,
    active,
    percentDone: unique.size === 0 ? 0 : Math.floor((active * 100) / unique.size)
  }
}
