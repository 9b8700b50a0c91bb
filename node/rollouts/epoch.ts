/**
 * The acceptor rules that keep two coordinators of one rollout from both issuing commands (a
 * single-decree Paxos "prepare/promise" without values): every target node promises at most one
 * coordinator per epoch, and a coordinator commands only while a majority of the targets it
 * computes has promised its epoch. Pure: the caller persists the returned state.
 */

/** What one node has promised for one rollout. Persisted across restarts. */
export interface AcceptorState {
  /** Highest epoch promised or accepted; 0 = none yet. */
  promised: number
  /** The coordinator (peer id) that `promised` belongs to. */
  promisedTo?: string
}

/** The state of a node that never promised anything for a rollout. */
export const INITIAL_ACCEPTOR_STATE: AcceptorState = Object.freeze({ promised: 0 })

/** Why a prepare or a command was refused. */
export type EpochRejectCode = 'ERR_STALE_EPOCH' | 'ERR_INVALID_EPOCH'

/** A refusal: what the node holds instead, so the coordinator can pick a higher epoch. */
export interface EpochRejected {
  kind: 'rejected'
  code: EpochRejectCode
  promised: number
  promisedTo?: string
}

/** The answer to a Prepare: a promise (with the state to persist) or a refusal. */
export type PrepareResult =
  | { kind: 'promised', state: AcceptorState, changed: boolean }
  | EpochRejected

/** The answer to a wave command: accepted (with the state to persist) or refused. */
export type CommandResult =
  | { kind: 'accepted', state: AcceptorState, changed: boolean }
  | EpochRejected

function isEpoch (epoch: number): boolean {
  return Number.isSafeInteger(epoch) && epoch >= 1
}

function rejected (state: AcceptorState, code: EpochRejectCode): EpochRejected {
  return state.promisedTo === undefined
    ? { kind: 'rejected', code, promised: state.promised }
    : { kind: 'rejected', code, promised: state.promised, promisedTo: state.promisedTo }
}

/**
 * Prepare(epoch e, from c): promise iff e > promised, or e == promised and c == promisedTo (a
 * repeated prepare from the same coordinator). Otherwise reject with what is promised.
 * `changed` says whether the state must be written.
 */
export function onPrepare (state: AcceptorState, epoch: number, from: string): PrepareResult {
  if (!isEpoch(epoch) || from.length === 0) return rejected(state, 'ERR_INVALID_EPOCH')
  if (epoch > state.promised) return { kind: 'promised', state: { promised: epoch, promisedTo: from }, changed: true }
  if (epoch === state.promised && from === state.promisedTo) return { kind: 'promised', state, changed: false }
  return rejected(state, 'ERR_STALE_EPOCH')
}

/**
 * Command(epoch e, from c): accept iff e == promised and c == promisedTo, or e > promised (the
 * node then promises e to c: a command implies the prepare it may have missed). Otherwise reject
 * with ERR_STALE_EPOCH: a stale coordinator, or a second coordinator in the same epoch.
 */
export function onCommand (state: AcceptorState, epoch: number, from: string): CommandResult {
  if (!isEpoch(epoch) || from.length === 0) return rejected(state, 'ERR_INVALID_EPOCH')
  if (epoch > state.promised) return { kind: 'accepted', state: { promised: epoch, promisedTo: from }, changed: true }
  if (epoch === state.promised && from === state.promisedTo) return { kind: 'accepted', state, changed: false }
  return rejected(state, 'ERR_STALE_EPOCH')
}

/**
 * The epoch a new coordinator prepares with: one more than the highest epoch it has seen in any
 * promise, refusal or progress record (1 when it has seen none). Ignores values that are not epochs.
 */
export function nextEpoch (seen: Iterable<number>): number {
  let max = 0
  for (const e of seen) if (isEpoch(e) && e > max) max = e
  return max + 1
}

/** floor(n/2) + 1: the smallest majority of n targets. */
export function majorityOf (targets: number): number {
  return Math.floor(targets / 2) + 1
}

/**
 * Whether the peers that promised hold a majority (floor(n/2)+1) of `targets`. Promises from peers
 * that are not targets do not count; no targets is never a majority. O(n).
 */
export function hasMajority (promised: Iterable<string>, targets: readonly string[]): boolean {
  if (targets.length === 0) return false
  const set = promised instanceof Set ? promised as ReadonlySet<string> : new Set(promised)
  let count = 0
  const need = majorityOf(new Set(targets).size)
  const counted = new Set<string>()
  for (const t of targets) {
    if (set.has(t) && !counted.has(t)) {
      counted.add(t)
      if (++count >= need) return true
    }
  }
  return false
}
