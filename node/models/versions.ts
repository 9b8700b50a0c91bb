/**
 * Which version a NAME or NAME@VERSION means when this node does not hold it: pure, from what the
 * mesh view says peers hold. A bare NAME means the highest semver version any live peer holds
 * complete; NAME@VERSION means that version. Partial copies and dead peers do not count, and an
 * entry whose version is not semver is ignored (it came off the wire).
 */
import { compare as compareSemver } from 'semver'
import { isModelVersion as isSemver } from './manifest.js'
import type { HeartbeatModel } from '../../protocols/heartbeat/index.js'
import type { MemberStatus } from '../membership/view.js'

/** What the choice reads of one member of the mesh view. */
export interface VersionHolder {
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
