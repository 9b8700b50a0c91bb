/**
 * Rendezvous (highest random weight) hashing: every node ranks the same candidates the same way
 * from nothing but their ids, so all agree on a rollout's coordinator and on its wave order without
 * talking, and removing one candidate never reorders the others.
 */
import { hash } from 'node:crypto'

/** The weight of `peerId` for `key`: the first 8 bytes, big-endian, of sha256(`${key}\n${peerId}`). */
export function hrwWeight (key: string, peerId: string): bigint {
  return digest(key, peerId).readBigUInt64BE(0)
}

function digest (key: string, peerId: string): Buffer {
  return hash('sha256', `${key}\n${peerId}`, 'buffer')
}

// The 64-bit weight as two uint32 halves: compared as numbers, sorting 10,000 peers is several
// times faster than with bigints, and the order is the same.
interface Entry { id: string, hi: number, lo: number }

function entry (key: string, id: string): Entry {
  const d = digest(key, id)
  return { id, hi: d.readUInt32BE(0), lo: d.readUInt32BE(4) }
}

/** Negative when `a` ranks before `b`: higher weight first, then lower peer id. */
function compare (a: Entry, b: Entry): number {
  if (a.hi !== b.hi) return b.hi - a.hi
  if (a.lo !== b.lo) return b.lo - a.lo
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}

/**
 * `peerIds` ordered by {@link hrwWeight} for `key`, highest first; equal weights by peer id
 * (ascending, code-unit order). Duplicates are kept once. A new array; the input is not touched.
 * O(n log n): one hash per peer, then a sort.
 */
export function hrwRank (key: string, peerIds: Iterable<string>): string[] {
  const seen = new Set<string>()
  const entries: Entry[] = []
  for (const id of peerIds) {
    if (seen.has(id)) continue
    seen.add(id)
    entries.push(entry(key, id))
  }
  entries.sort(compare)
  return entries.map(e => e.id)
}

/**
 * The first `count` of `hrwRank(key, peerIds)` that `skip` does not exclude, without sorting
 * them all: O(n log k) expected. The wave planner uses it to pick the next k devices out of 10,000.
 */
export function hrwTop (key: string, peerIds: Iterable<string>, count: number, skip?: (id: string) => boolean): string[] {
  if (count <= 0) return []
  const top: Entry[] = [] // sorted, best first, at most `count`
  const seen = new Set<string>()
  for (const id of peerIds) {
    if (seen.has(id) || skip?.(id) === true) continue
    seen.add(id)
    const e = entry(key, id)
    if (top.length === count && compare(e, top[count - 1]!) >= 0) continue
    let lo = 0
    let hi = top.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compare(top[mid]!, e) < 0) lo = mid + 1
      else hi = mid
    }
    top.splice(lo, 0, e)
    if (top.length > count) top.pop()
  }
  return top.map(e => e.id)
}
