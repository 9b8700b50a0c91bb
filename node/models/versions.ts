/**
 * Which version a NAME or NAME@VERSION means when this node does not hold it: pure, from what the
 * mesh view says peers hold. A bare NAME means the highest semver version any live peer holds
 * complete; NAME@VERSION means that version. Partial copies and dead peers do not count, and an
 * entry whose version is not semver is ignored (it came off the wire).
 */
import { compare as compareSemver } from 'semver'
import { isModelVersion as isSemver } from './manifest.js'
import { isManifestCid } from '../../core/cid.js'
import type { HeartbeatModel } from '../../protocols/heartbeat/index.js'
import type { MemberStatus } from '../membership/view.js'

/** What the choice reads of one member of the mesh view. */
export interface VersionHolder {
  /** The member's peer id (where to ask for a manifest). */
  peerId?: string
  status: MemberStatus
  models: ReadonlyArray<Pick<HeartbeatModel, 'name' | 'version' | 'cid' | 'state'>>
}

/** The chosen manifest: its CID, version and how many live peers hold it complete. */
export interface AnnouncedVersion {
  cid: string
  version: string
  holders: number
}

/**
 * The manifest `name` (at `version`, when given) resolves to from peers' announcements, or
 * undefined when no live peer holds one complete. Highest version first; two manifests of one
 * version (packed twice) are told apart by more holders, then by CID, so every node picks the same.
 */
export function pickAnnouncedVersion (name: string, version: string | undefined, members: readonly VersionHolder[]): AnnouncedVersion | undefined {
  const byCid = new Map<string, AnnouncedVersion>()
  for (const member of members) {
    if (member.status === 'dead') continue
    const counted = new Set<string>()
    for (const m of member.models) {
      if (m.name !== name || m.state === 'partial' || !isSemver(m.version)) continue
      if ((version != null && m.version !== version) || counted.has(m.cid)) continue
      counted.add(m.cid)
      const seen = byCid.get(m.cid)
      if (seen == null) byCid.set(m.cid, { cid: m.cid, version: m.version, holders: 1 })
      else seen.holders++
    }
  }
  return [...byCid.values()].sort((a, b) =>
    compareSemver(b.version, a.version) || b.holders - a.holders || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0))[0]
}

/** One manifest CID announced for a model, with the live peers that announce it. */
export interface AnnouncedCandidate {
  cid: string
  version: string
  /** Peer ids of live members announcing it complete. */
  peers: string[]
}

/**
 * Every manifest `name` (at `version`, when given) may resolve to from peers' announcements, best
 * first (the order of {@link pickAnnouncedVersion}). A caller checks each against its signed
 * manifest before it trusts one: any member can announce any NAME@VERSION for any CID.
 */
export function announcedCandidates (name: string, version: string | undefined, members: readonly VersionHolder[]): AnnouncedCandidate[] {
  const byCid = new Map<string, AnnouncedCandidate>()
  for (const member of members) {
    if (member.status === 'dead') continue
    for (const m of member.models) {
      if (m.name !== name || m.state === 'partial' || !isSemver(m.version)) continue
      if (version != null && m.version !== version) continue
      // Keyed by version too: a liar may announce another version's CID under its own.
      const key = `${m.version} ${m.cid}`
      let seen = byCid.get(key)
      if (seen == null) byCid.set(key, seen = { cid: m.cid, version: m.version, peers: [] })
      const peer = member.peerId ?? ''
      if (!seen.peers.includes(peer)) seen.peers.push(peer)
    }
  }
  return [...byCid.values()].sort((a, b) =>
    compareSemver(b.version, a.version) || b.peers.length - a.peers.length || (a.cid < b.cid ? -1 : a.cid > b.cid ? 1 : 0))
}

/** Live members that announce `cid`, under any name and in any state: where its manifest can be asked for. */
export function announcersOf (cid: string, members: readonly VersionHolder[]): string[] {
  return members.filter(m => m.status !== 'dead' && m.peerId != null && m.models.some(x => x.cid === cid)).map(m => m.peerId!)
}

/** A NAME@VERSION announced (or held) with more than one manifest CID. */
export interface AnnouncedConflict {
  name: string
  version: string
  /** Each CID with the peers announcing it; `here` when the local store holds it. */
  cids: Array<{ cid: string, peers: string[], here: boolean }>
}

/**
 * NAME@VERSIONs with more than one manifest CID among what this node holds (`held`) and what live
 * peers announce, in any state. Unverified: a lying member can create one, so a caller checks
 * every CID's signed manifest before it reports or acts on a conflict.
 */
export function announcedConflicts (held: ReadonlyArray<{ name: string, version: string, cid: string }>, members: readonly VersionHolder[]): AnnouncedConflict[] {
  const refs = new Map<string, AnnouncedConflict>()
  const add = (name: string, version: string, cid: string, peer: string | undefined): void => {
    const key = `${name}@${version}`
    let c = refs.get(key)
    if (c == null) refs.set(key, c = { name, version, cids: [] })
    let entry = c.cids.find(x => x.cid === cid)
    if (entry == null) c.cids.push(entry = { cid, peers: [], here: false })
    if (peer == null) entry.here = true
    else if (!entry.peers.includes(peer)) entry.peers.push(peer)
  }
  for (const h of held) add(h.name, h.version, h.cid, undefined)
  for (const member of members) {
    if (member.status === 'dead') continue
    for (const m of member.models) add(m.name, m.version, m.cid, member.peerId ?? '')
  }
  return [...refs.values()].filter(c => c.cids.length > 1)
}

/** The name (and version) a NAME or NAME@VERSION asks for; undefined for a CID. */
export function refParts (ref: string): { name: string, version?: string } | undefined {
  if (isManifestCid(ref as unknown)) return undefined
  const at = ref.indexOf('@')
  return at < 0 ? { name: ref } : { name: ref.slice(0, at), version: ref.slice(at + 1) }
}
