/**
 * Digests and the order of policy versions, shared by the wire (what to send a peer) and the
 * node's store (what to keep), so both always agree on which of two heads wins.
 */
import type { DigestEntry } from './index.js'

/** The head of one policy: its version and the CID of its signed payload. */
export interface PolicyHead {
  version: number
  cid: string
}

/**
 * Positive when `a` supersedes `b`, negative when `b` supersedes `a`, 0 when they are the same
 * head. The higher version wins; at an equal version (two different documents, which one admin
 * never signs) the payload CID that sorts higher wins, so every node picks the same one.
 */
export function compareHeads (a: PolicyHead, b: PolicyHead): number {
  if (a.version !== b.version) return a.version > b.version ? 1 : -1
  if (a.cid === b.cid) return 0
  return a.cid > b.cid ? 1 : -1
}

/**
 * Names of the policies in `local` that `remote` lacks or holds an older head of, sorted by
 * name so that a sender limited to a few per message sends the same ones first every time.
 */
export function newerThan (local: Iterable<DigestEntry>, remote: Iterable<DigestEntry>): string[] {
  const theirs = new Map<string, DigestEntry>()
  for (const entry of remote) theirs.set(entry.name, entry)
  const names: string[] = []
  for (const entry of local) {
    const other = theirs.get(entry.name)
    if (other == null || compareHeads(entry, other) > 0) names.push(entry.name)
  }
  return names.sort((a, b) => a < b ? -1 : a > b ? 1 : 0)
}
