/**
 * What an aggregator puts in a shard digest, as pure functions: each peer's heartbeat as the
 * digest carries it (no inference stats, no volatile properties), whether it goes in full or by
 * tag, and the size bound. The shell that times and publishes digests is in membership.ts.
 */
import { encodeHeartbeat, MAX_DIGEST_BYTES } from '../../protocols/heartbeat/index.js'
import type { DigestEntry, DigestTag, Heartbeat } from '../../protocols/heartbeat/index.js'

/**
 * Properties that change on nearly every heartbeat: a digest that carried them would list every
 * peer in full every time. They stay first-hand (the local shard, a coordinator watching every
 * shard, or the node itself asked directly). @default ['mem.free']
 */
export const VOLATILE_PROPS: readonly string[] = ['mem.free']

/** A heartbeat as a digest carries it: inference stats and volatile properties left out. */
export function projectForDigest (hb: Heartbeat): Heartbeat {
  const props: Record<string, string> = {}
  for (const [k, v] of Object.entries(hb.props)) if (!VOLATILE_PROPS.includes(k)) props[k] = v
  return {
    ...hb,
    props,
    models: (hb.models ?? []).map(({ stats: _stats, ...m }) => m),
    ...(hb.rollouts != null ? { rollouts: hb.rollouts.map(r => ({ ...r })) } : {})
  }
}

/** What must reach receivers again when it changes: everything of the projection but seq and times. */
export function detailKey (projected: Heartbeat): string {
  return JSON.stringify([projected.bootMs, projected.intervalMs, projected.nodeVersion, projected.restarts ?? 0, projected.labels, projected.props, projected.models ?? [], projected.rollouts ?? []])
}

/** One peer the aggregator holds alive or suspect in its shard. */
export interface ShardMember {
  peerId: string
  tag: number
  /** Since the aggregator last heard it, ms. */
  ageMs: number
  heartbeat: Heartbeat
}

export interface DigestPlan {
  entries: DigestEntry[]
  tagged: DigestTag[]
  /** Detail keys of the peers listed in full: what the aggregator now counts as sent. */
  sent: Map<string, string>
}

/** Room kept for the digest's header, the tags and the signature when filling full entries. */
const HEADROOM_BYTES = 16 * 1024

/**
 * Which members go in full and which by tag. In full: every member on a full round; otherwise the
 * ones whose detail changed since they were last listed in full (`sent`), new ones included. Full
 * entries stop once the digest would pass {@link MAX_DIGEST_BYTES} (less headroom); the rest go by
 * tag and stay unsent, so the next digest lists them.
 */
export function planDigest (members: readonly ShardMember[], sent: ReadonlyMap<string, string>, fullRound: boolean, maxBytes = MAX_DIGEST_BYTES): DigestPlan {
  const entries: DigestEntry[] = []
  const tagged: DigestTag[] = []
  const nextSent = new Map<string, string>()
  let bytes = 0
  for (const m of members) {
    const projected = projectForDigest(m.heartbeat)
    const key = detailKey(projected)
    const was = sent.get(m.peerId)
    if (was != null) nextSent.set(m.peerId, was)
    if (fullRound || was !== key) {
      const size = encodeHeartbeat(projected).byteLength + m.peerId.length + 12
      if (bytes + size <= maxBytes - HEADROOM_BYTES) {
        bytes += size
        entries.push({ peerId: m.peerId, ageMs: Math.max(0, Math.round(m.ageMs)), heartbeat: projected })
        nextSent.set(m.peerId, key)
        continue
      }
    }
    tagged.push({ tag: m.tag, ageMs: Math.max(0, m.ageMs) })
  }
  return { entries, tagged, sent: nextSent }
}
