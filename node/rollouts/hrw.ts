/**
 * Rendezvous (highest random weight) hashing: every node ranks the same candidates the same way
 * from nothing but their ids, so all agree on a rollout's coordinator and on its wave order without
 * talking, and removing one candidate never reorders the others.
 */
import { createHash } from 'node:crypto'

/** The weight of `peerId` for `key`: the first 8 bytes, big-endian, of sha256(`${key}\n${peerId}`). */
export function hrwWeight (key: string, peerId: string): bigint {
  return createHash('sha256').update(`${key}\n${peerId}`).digest().readBigUInt64BE(0)
}

/**
 * `peerIds` ordered by {@link hrwWeight} for `key`, highest first; equal weights by peer id
 * (ascending, code-unit order). Duplicates are kept once. A new array; the input is not touched.
 * O(n log n): one hash per peer, then a sort.
 */
export function hrwRank (key: string, peerIds: Iterable<string>): string[] {
  const seen = new Set<string>()
  const entries: Array<{ id: string, weight: bigint }> = []
  for (const id of peerIds) {
    if (seen.has(id)) continue
    seen.add(id)
    entries.push({ id, weight: hrwWeight(key, id) })
  }
  entries.sort((a, b) => a.weight > b.weight ? -1 : a.weight < b.weight ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
  return entries.map(e => e.id)
}
