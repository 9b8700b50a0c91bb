/**
 * The state of one device in one rollout, as a discriminated union, and its pure transition
 * function. The device shell feeds it events from the fetcher, the model store and the serving
 * layer; heartbeats carry the resulting `kind` (and a short reason for Failed).
 *
 * ```
 * (none) -dispatched-> Pending -downloadStarted-> Downloading -downloaded-> Verifying -verified->
 *   Loading -loaded-> SmokeTest -smokePassed-> Active
 * any in-progress state -failed(reason)-> Failed, -timedOut-> TimedOut
 * in progress, Active, Failed or TimedOut -revertStarted-> RollingBack -reverted-> RolledBack
 * RollingBack -failed(reason)-> Failed
 * Failed, TimedOut or RolledBack -dispatched-> Pending (a new attempt)
 * ```
 */
import { MAX_FAILURE_REASON_LENGTH } from './constants.js'

/** Where a device stands in a rollout. */
export type DeviceState =
  | { kind: 'Pending' }
  | { kind: 'Downloading' }
  | { kind: 'Verifying' }
  | { kind: 'Loading' }
  | { kind: 'SmokeTest' }
  | { kind: 'Active' }
  | { kind: 'Failed', reason: string }
  | { kind: 'TimedOut' }
  | { kind: 'RollingBack' }
  | { kind: 'RolledBack' }

/** The tag of a {@link DeviceState}. */
export type DeviceStateKind = DeviceState['kind']

/** Every {@link DeviceStateKind}, in lifecycle order. */
export const DEVICE_STATE_KINDS: readonly DeviceStateKind[] = Object.freeze([
  'Pending', 'Downloading', 'Verifying', 'Loading', 'SmokeTest', 'Active', 'Failed', 'TimedOut', 'RollingBack', 'RolledBack'
])

/** What can happen to a device. */
export type DeviceEvent =
  | { type: 'dispatched' }
  | { type: 'downloadStarted' }
  | { type: 'downloaded' }
  | { type: 'verified' }
  | { type: 'loaded' }
  | { type: 'smokePassed' }
  | { type: 'failed', reason: string }
  | { type: 'timedOut' }
  | { type: 'revertStarted' }
  | { type: 'reverted' }

/** An event that does not apply to the state it was given. Nothing changes. */
export interface InvalidTransition {
  ok: false
  code: 'ERR_INVALID_TRANSITION'
  from: DeviceStateKind | 'none'
  event: DeviceEvent['type']
  message: string
}

/** The result of {@link transition}: the next state, or why the event does not apply. */
export type TransitionResult = { ok: true, state: DeviceState } | InvalidTransition

const IN_PROGRESS: ReadonlySet<DeviceStateKind> = new Set(['Pending', 'Downloading', 'Verifying', 'Loading', 'SmokeTest'])

/** Dispatched and on the way to Active (Pending through SmokeTest). */
export function isInProgress (kind: DeviceStateKind): boolean {
  return IN_PROGRESS.has(kind)
}

/** An outcome of activation: Active, Failed or TimedOut. */
export function isActivationOutcome (kind: DeviceStateKind): boolean {
  return kind === 'Active' || kind === 'Failed' || kind === 'TimedOut'
}

/** Runs, or is about to run, the new version: in progress or Active (what a wave counts as updated). */
export function isUpdated (kind: DeviceStateKind): boolean {
  return kind === 'Active' || IN_PROGRESS.has(kind)
}

/** Nothing more will happen without a new command: Active, Failed, TimedOut or RolledBack. */
export function isFinal (kind: DeviceStateKind): boolean {
  return isActivationOutcome(kind) || kind === 'RolledBack'
}

const PENDING: DeviceState = Object.freeze({ kind: 'Pending' })
const NEXT_STEP: Partial<Record<DeviceEvent['type'], [DeviceStateKind, DeviceState]>> = {
  downloadStarted: ['Pending', Object.freeze({ kind: 'Downloading' })],
  downloaded: ['Downloading', Object.freeze({ kind: 'Verifying' })],
  verified: ['Verifying', Object.freeze({ kind: 'Loading' })],
  loaded: ['Loading', Object.freeze({ kind: 'SmokeTest' })],
  smokePassed: ['SmokeTest', Object.freeze({ kind: 'Active' })]
}

/**
 * The next state of a device (`undefined` = not dispatched yet) after `event`. Pure; an event that
 * does not apply returns an {@link InvalidTransition} rather than throwing, so a duplicate or
 * reordered message from the network changes nothing.
 */
export function transition (state: DeviceState | undefined, event: DeviceEvent): TransitionResult {
  const from = state?.kind
  const ok = (next: DeviceState): TransitionResult => ({ ok: true, state: next })
  switch (event.type) {
    case 'dispatched':
      if (from === undefined || from === 'Failed' || from === 'TimedOut' || from === 'RolledBack') return ok(PENDING)
      break
    case 'downloadStarted':
    case 'downloaded':
    case 'verified':
    case 'loaded':
    case 'smokePassed': {
      const [need, next] = NEXT_STEP[event.type]!
      if (from === need) return ok(next)
      break
    }
    case 'failed':
      if (from !== undefined && (IN_PROGRESS.has(from) || from === 'RollingBack')) return ok({ kind: 'Failed', reason: shortReason(event.reason) })
      break
    case 'timedOut':
      if (from !== undefined && IN_PROGRESS.has(from)) return ok({ kind: 'TimedOut' })
      break
    case 'revertStarted':
      if (from !== undefined && (IN_PROGRESS.has(from) || from === 'Active' || from === 'Failed' || from === 'TimedOut')) return ok({ kind: 'RollingBack' })
      break
    case 'reverted':
      if (from === 'RollingBack') return ok({ kind: 'RolledBack' })
      break
    default: {
      const never: never = event
      throw new TypeError(`unknown device event ${JSON.stringify(never)}`)
    }
  }
  return {
    ok: false,
    code: 'ERR_INVALID_TRANSITION',
    from: from ?? 'none',
    event: event.type,
    message: `a device in ${from ?? 'no state (not dispatched)'} cannot take "${event.type}"`
  }
}

function shortReason (reason: string): string {
  const text = String(reason).replace(/[\u0000-\u001f\u007f]+/g, ' ').trim()
  if (text.length === 0) return 'unknown'
  return text.length > MAX_FAILURE_REASON_LENGTH ? `${text.slice(0, MAX_FAILURE_REASON_LENGTH - 1)}…` : text
}
