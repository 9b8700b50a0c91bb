/**
 * The merge of policies, per rollout name: a last-writer-wins register ordered by version, ties
 * broken by payload CID (see protocols/policy compareHeads). Pure; the store applies it.
 *
 * A deleted policy is a tombstone: it stays held as the head, so a replay of any older version,
 * deleted or not, is stale and never resurrects the rollout. Only a newer signed version replaces it.
 */
import { compareHeads } from '../../protocols/policy/index.js'
import type { PolicyHead } from '../../protocols/policy/index.js'

export type MergeDecision =
  /** The incoming head replaces what is held (or nothing was held). */
  | { kind: 'accept' }
  /** The very same head is held already. */
  | { kind: 'duplicate' }
  /** Older than what is held, or an equal version that loses the tie-break. Changes nothing. */
  | { kind: 'stale', reason: string }

/** What to do with `incoming` given the head held for the same name (undefined: none). */
export function mergePolicy (held: PolicyHead | undefined, incoming: PolicyHead): MergeDecision {
  if (held == null) return { kind: 'accept' }
  const order = compareHeads(incoming, held)
  if (order > 0) return { kind: 'accept' }
  if (order === 0) return { kind: 'duplicate' }
  if (incoming.version < held.version) {
    return { kind: 'stale', reason: `version ${incoming.version} is older than the held version ${held.version}` }
  }
  return { kind: 'stale', reason: `version ${incoming.version} is held with other bytes that win the tie-break (payload CID ${held.cid})` }
}
