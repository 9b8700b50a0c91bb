/**
 * Local health, after Lifeguard (Dadgar, Phillips, Currey: "Lifeguard: Local Health Awareness for
 * More Accurate Failure Detection", 2018), as pure functions. A node whose own timers fire late (a
 * saturated CPU, a stalled event loop, a paused VM) also hears its peers late: their heartbeats
 * wait in its socket buffers while its sweep judges them by how long ago the last one was
 * processed, and it would call healthy peers suspect, then dead, for its own slowness. So it keeps
 * a score: raised when its membership timer fires late (by more for a longer delay), lowered by one
 * for each timer on time; and it gives every peer (1 + score) times the usual number of intervals
 * before suspect and dead. A node that is fine keeps a score of 0 and judges exactly as before.
 */
import type { LivenessParams } from './view.js'

export interface LocalHealthParams {
  /** Highest score: peers get at most (1 + maxScore) times the usual time. @default 8 (Lifeguard's) */
  maxScore: number
  /** A timer this much late or less counts as on time, whatever its period, in ms. @default 250 */
  lateMinMs: number
  /** ... and so does one late by at most this fraction of its period. @default 0.5 */
  lateFraction: number
}

export const DEFAULT_LOCAL_HEALTH: LocalHealthParams = {
  maxScore: 8,
  lateMinMs: 250,
  lateFraction: 0.5
}

/** How late a timer of period `stepMs` may fire and still count as on time, in ms. */
export function lateThresholdMs (stepMs: number, params: LocalHealthParams = DEFAULT_LOCAL_HEALTH): number {
  return Math.max(params.lateMinMs, params.lateFraction * stepMs)
}

/**
 * The score after a timer of period `stepMs` fired `latenessMs` after it was due. Late: up by one,
 * plus one per heartbeat interval (`intervalMs`) of delay, since that many heartbeats of every peer
 * may be waiting unread; on time: down by one.
 */
export function nextHealthScore (score: number, latenessMs: number, stepMs: number, intervalMs: number, params: LocalHealthParams = DEFAULT_LOCAL_HEALTH): number {
  if (latenessMs > lateThresholdMs(stepMs, params)) {
    return Math.min(params.maxScore, score + 1 + Math.floor(latenessMs / Math.max(1, intervalMs)))
  }
  return Math.max(0, score - 1)
}

/** The liveness thresholds a node with this score judges its peers by. */
export function judgedLiveness (liveness: LivenessParams, score: number): LivenessParams {
  if (score <= 0) return liveness
  return {
    ...liveness,
    suspectAfterIntervals: liveness.suspectAfterIntervals * (1 + score),
    deadAfterIntervals: liveness.deadAfterIntervals * (1 + score)
  }
}

export function validateLocalHealth (params: LocalHealthParams): LocalHealthParams {
  if (!(Number.isInteger(params.maxScore) && params.maxScore >= 0)) throw new RangeError('maxScore must be an integer >= 0')
  if (!(params.lateMinMs >= 0)) throw new RangeError('lateMinMs must be >= 0')
  if (!(params.lateFraction >= 0)) throw new RangeError('lateFraction must be >= 0')
  return params
}
