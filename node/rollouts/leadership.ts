/**
 * Who drives a rollout, as pure functions the coordinator shell (coordinator.ts), the progress
 * store (service.ts) and the simulator share: whether a node takes the rollout over, keeps it or
 * steps down; whether its epoch holds a quorum; whether a refusal fences it off; which of two
 * progress records is newer. No clock, no I/O: the caller gathers the inputs from its view.
 */

/** What {@link leadershipMove} looks at. */
export interface LeadershipInput {
  /** This node's peer id. */
  self: string
  /** The epoch this node leads under, or undefined while it follows. */
  leadingEpoch?: number
  /** The coordinator named in the newest progress this node holds, and that progress's epoch. */
  current?: { coordinator: string, epoch: number }
  /** Whether that progress was received within the stale-after window (this node's clock). */
  fresh: boolean
  /** Whether `current.coordinator` is alive in this node's view. */
  currentAlive: boolean
  /** The first of `hrwRank(rollout, ids alive in this node's view, itself included)`. */
  first?: string
  /** Fenced off a moment ago: the winner is about to publish, do not duel it. */
  deferred: boolean
  /**
   * The node's view is still filling (it started, or restarted, less than about two heartbeat
   * intervals ago): it may not have heard of the coordinator or of the rest of the fleet yet, and
   * with an empty view it would rank itself first and make a quorum of itself. @default false
   */
  settling?: boolean
}

/** What the node does about the rollout's leadership now. */
export type LeadershipMove =
  /** Not leading and not taking over: a live coordinator holds it, or another node ranks first. */
  | { kind: 'follow' }
  /** Take the rollout with a new epoch (`nextEpoch` over everything seen). */
  | { kind: 'takeOver' }
  /** Leading, and nothing says otherwise: go on. */
  | { kind: 'keep' }
  /** Leading, but an alive coordinator publishes a higher epoch. */
  | { kind: 'stepDown', reason: string }

/**
 * A follower takes over when it ranks first among the nodes alive in its view and no live
 * coordinator with fresh progress holds the rollout (docs/ROLLOUTS.md, "The coordinator"). A
 * leader keeps the rollout until it sees progress of a higher epoch from a coordinator alive in
 * its view. A live coordinator whose progress is fresh keeps the rollout even when another node
 * would now rank first, so coordinators do not flap as members come and go.
 */
export function leadershipMove (input: LeadershipInput): LeadershipMove {
  const { self, current } = input
  if (input.leadingEpoch === undefined) {
    if (current !== undefined && current.coordinator !== self && input.fresh && input.currentAlive) return { kind: 'follow' }
    if (input.deferred || input.settling === true) return { kind: 'follow' }
    return input.first === self ? { kind: 'takeOver' } : { kind: 'follow' }
  }
  if (current !== undefined && current.coordinator !== self && current.epoch > input.leadingEpoch && input.currentAlive) {
    return { kind: 'stepDown', reason: `coordinator ${current.coordinator} holds the higher epoch ${current.epoch}` }
  }
  return { kind: 'keep' }
}

/**
 * Whether a leader's epoch holds a quorum: a majority (floor(n/2)+1) of `quorum`, the matching
 * members its view still holds (suspect and dead ones too), promised by members alive in its view.
 * The minority side of a partition sees the others dead and so cannot make a majority of itself.
 */
export function quorumOf (quorum: readonly string[], promised: ReadonlySet<string>, isAlive: (peer: string) => boolean): { reached: boolean, promised: number, size: number } {
  const unique = new Set(quorum)
  let count = 0
  for (const t of unique) if (promised.has(t) && isAlive(t)) count++
  const size = unique.size
  return { reached: size > 0 && count >= Math.floor(size / 2) + 1, promised: count, size }
}

/**
 * Whether a refused prepare fences the leader off: the device promised a higher epoch, or the
 * same epoch to another candidate (two took over at once).
 */
export function refusalFences (leadingEpoch: number, self: string, refusal: { promisedEpoch: number, promisedTo?: string }): boolean {
  return refusal.promisedEpoch > leadingEpoch || (refusal.promisedEpoch === leadingEpoch && refusal.promisedTo !== self)
}

/** The ordering of progress records of one rollout: a higher epoch, or the same epoch and a higher seq, or a higher policy version. */
export function isNewerProgress (incoming: { epoch: number, seq: number, policyVersion: number }, held: { epoch: number, seq: number, policyVersion: number } | undefined): boolean {
  if (held === undefined) return true
  return incoming.epoch > held.epoch || (incoming.epoch === held.epoch && incoming.seq > held.seq) || incoming.policyVersion > held.policyVersion
}
