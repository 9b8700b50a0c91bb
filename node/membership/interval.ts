/**
 * How often a node heartbeats, as a pure function of the fleet size it sees. Every node hears
 * every heartbeat, so with a fixed interval a node's incoming heartbeat traffic grows with N (and
 * the fleet's total with N^2). Instead each node stretches its interval so that what one node
 * receives stays under a byte budget: interval = N * bytes * amplification / budget, never below
 * the configured base nor above the cap. See docs/HEARTBEATS.md.
 */

export interface IntervalParams {
  /** The interval for small fleets, in ms. @default 5000 */
  baseIntervalMs: number
  /** The longest interval, whatever the fleet size, in ms. @default 60000 */
  maxIntervalMs: number
  /** Heartbeat bytes per second one node is willing to receive. @default 4096 */
  budgetBytesPerSec: number
  /**
   * Copies of each heartbeat a node receives on average: gossipsub forwards through a mesh of
   * degree D, and small messages fall under its IDONTWANT threshold. @default 3
   */
  amplification: number
  /** Relative change below which the interval is left alone (avoids flapping). @default 0.2 */
  hysteresis: number
}

export const DEFAULT_INTERVAL: IntervalParams = {
  baseIntervalMs: 5000,
  maxIntervalMs: 60_000,
  budgetBytesPerSec: 4096,
  amplification: 3,
  hysteresis: 0.2
}

/** The interval a node should use for a fleet of `fleetSize` nodes sending `heartbeatBytes` each. */
export function targetIntervalMs (fleetSize: number, heartbeatBytes: number, params: IntervalParams = DEFAULT_INTERVAL): number {
  const n = Math.max(1, fleetSize)
  const needed = (n * heartbeatBytes * params.amplification * 1000) / params.budgetBytesPerSec
  // Round up: rounding down would put the received rate a hair over the budget.
  return Math.ceil(Math.min(params.maxIntervalMs, Math.max(params.baseIntervalMs, needed)))
}

/**
 * The next interval. A longer target is taken at once, so the received rate never sits above the
 * budget; a shorter one only when it is more than the hysteresis band below the current interval
 * (or back at the base), so a fleet size that wobbles does not make the interval flap.
 */
export function nextIntervalMs (currentMs: number, fleetSize: number, heartbeatBytes: number, params: IntervalParams = DEFAULT_INTERVAL): number {
  const target = targetIntervalMs(fleetSize, heartbeatBytes, params)
  if (target < currentMs && currentMs - target <= currentMs * params.hysteresis && target !== params.baseIntervalMs) return currentMs
  return target
}

/** Spreads heartbeats by +-10% so nodes started together do not publish in lockstep. */
export function jittered (intervalMs: number, random: () => number): number {
  return Math.round(intervalMs * (0.9 + 0.2 * random()))
}

/** Bytes per second one node receives at steady state, for docs and benchmarks. */
export function receivedBytesPerSec (fleetSize: number, heartbeatBytes: number, intervalMs: number, amplification: number): number {
  return (fleetSize * heartbeatBytes * amplification * 1000) / intervalMs
}

export function validateInterval (params: IntervalParams): IntervalParams {
  if (!(params.baseIntervalMs >= 50)) throw new RangeError('baseIntervalMs must be >= 50')
  if (!(params.maxIntervalMs >= params.baseIntervalMs)) throw new RangeError('maxIntervalMs must be >= baseIntervalMs')
  if (!(params.budgetBytesPerSec > 0)) throw new RangeError('budgetBytesPerSec must be > 0')
  if (!(params.amplification >= 1)) throw new RangeError('amplification must be >= 1')
  if (!(params.hysteresis >= 0 && params.hysteresis < 1)) throw new RangeError('hysteresis must be in [0, 1)')
  return params
}
