/**
 * Which new identities enter the mesh view, as a pure function. Any fleet member holds the network
 * key and can mint identities: it signs gossip heartbeats with fresh keys and relays them over its
 * one connection. Without a bound, a few thousand of them stretch every node's heartbeat interval,
 * overflow admin answers and keep the connectivity loop dialing peers that do not exist.
 *
 * Three bounds, checked when a heartbeat of an identity the view does not hold arrives:
 *
 * - an admission check (`admit`), the hook where enrolled-devices-only goes (a later issue: a
 *   device certificate signed by an admin, checked here before anything is stored);
 * - a cap on the identities the view tracks (`maxMembers`); at the cap a dead entry makes room, a
 *   live one never does (an attacker must not evict honest peers);
 * - a rate per source: an identity relayed by another peer (the gossip propagation source, the
 *   remote end of the connection it came on) costs that source one token of a bucket of
 *   `newPerSourceBurst`, refilled one per `newPerSourceEveryMs`. An identity heard from itself
 *   costs nothing: it is bounded by the connections this node accepts.
 *
 * A refused identity is ignored (not forwarded, no penalty: an honest relay hits the rate during a
 * cold start of a large fleet); its next heartbeat tries again.
 */

export interface AdmissionParams {
  /** Most identities the view tracks, this node included. @default 4096 */
  maxMembers: number
  /**
   * New relayed identities one source may introduce at once. A node joining a fleet hears most
   * members first through the few peers of its gossip mesh, each relaying hundreds: at 32 the
   * in-process benchmark's 20-node mesh already hit the limit while forming. @default 256
   */
  newPerSourceBurst: number
  /** One more new relayed identity per source every this many ms (5 a second). @default 200 */
  newPerSourceEveryMs: number
}

export const DEFAULT_ADMISSION: AdmissionParams = {
  maxMembers: 4096,
  newPerSourceBurst: 256,
  newPerSourceEveryMs: 200
}

/** What a source has left to introduce, as of `atMs`. */
export interface SourceBudget {
  tokens: number
  atMs: number
}

export interface AdmissionInput {
  /** The identity the heartbeat is signed by. */
  author: string
  /** The peer that delivered it. */
  source: string
  /** Identities the view tracks now. */
  size: number
  /** Whether a dead entry can be dropped to make room. */
  canEvictDead: boolean
  budget: SourceBudget | undefined
  now: number
}

export type AdmissionDecision =
  | { admit: true, evictDead: boolean, budget?: SourceBudget }
  | { admit: false, reason: 'view-full' | 'source-rate' }

/** Refills a source's bucket to `now`. */
export function refill (budget: SourceBudget | undefined, now: number, params: AdmissionParams): SourceBudget {
  if (budget == null) return { tokens: params.newPerSourceBurst, atMs: now }
  const earned = Math.floor(Math.max(0, now - budget.atMs) / params.newPerSourceEveryMs)
  if (earned === 0) return budget
  const tokens = Math.min(params.newPerSourceBurst, budget.tokens + earned)
  // A full bucket earns nothing more; otherwise keep the remainder of the current period.
  const atMs = tokens === params.newPerSourceBurst ? now : budget.atMs + earned * params.newPerSourceEveryMs
  return { tokens, atMs }
}

/** Whether a heartbeat of an identity not in the view may add it (the admission hook said yes). */
export function admitIdentity (input: AdmissionInput, params: AdmissionParams = DEFAULT_ADMISSION): AdmissionDecision {
  const full = input.size >= params.maxMembers
  if (full && !input.canEvictDead) return { admit: false, reason: 'view-full' }
  if (input.author === input.source) return { admit: true, evictDead: full }
  const budget = refill(input.budget, input.now, params)
  if (budget.tokens < 1) return { admit: false, reason: 'source-rate' }
  return { admit: true, evictDead: full, budget: { tokens: budget.tokens - 1, atMs: budget.atMs } }
}

/** Whether a source's bucket is full again at `now`, so it need not be remembered. */
export function isFull (budget: SourceBudget, now: number, params: AdmissionParams): boolean {
  return refill(budget, now, params).tokens >= params.newPerSourceBurst
}

export function validateAdmission (params: AdmissionParams): AdmissionParams {
  if (!(Number.isSafeInteger(params.maxMembers) && params.maxMembers >= 2)) throw new RangeError('maxMembers must be an integer >= 2')
  if (!(Number.isSafeInteger(params.newPerSourceBurst) && params.newPerSourceBurst >= 1)) throw new RangeError('newPerSourceBurst must be an integer >= 1')
  if (!(params.newPerSourceEveryMs > 0)) throw new RangeError('newPerSourceEveryMs must be > 0')
  return params
}
