/**
 * What an aggregator puts in a shard digest, as pure functions: each peer's heartbeat as the
 * digest carries it (no inference stats, no volatile properties), whether it goes in full or by
 * tag, and the size bound. The shell that times and publishes digests is in membership.ts.
 */
import { encodeHeartbeat } from '../../protocols/heartbeat/index.js'
import type { DigestEntry, DigestRolloutUpdate, DigestTag, Heartbeat } from '../../protocols/heartbeat/index.js'

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

/** What must reach receivers again in full when it changes: everything of the projection but seq, times and rollout state. */
export function detailKey (projected: Heartbeat): string {
  return JSON.stringify([projected.bootMs, projected.intervalMs, projected.nodeVersion, projected.restarts ?? 0, projected.labels, projected.props, projected.models ?? []])
}

/** The rollout state, which a digest can send on its own (a rollout changes it on every target). */
export function rolloutKey (projected: Heartbeat): string {
  return JSON.stringify(projected.rollouts ?? [])
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
  updated: DigestRolloutUpdate[]
  /** What the aggregator now counts as sent of each member: its detail and rollout keys. */
  sent: Map<string, string>
}

/**
 * Bytes of full entries one digest carries at most, by default: a fleet's cold start (every peer
 * new) is spread over several digests, each paced by its size, rather than one huge one. @default 8192
 */
export const DIGEST_FULL_BYTES = 8 * 1024

/**
 * How each member goes in the digest. In full: members not listed yet, or whose detail
 * ({@link detailKey}) changed, up to `fullBudgetBytes` of them (the rest stay unsent and go by tag,
 * for the next digests). As a rollout update: members whose rollout state alone changed. By tag:
 * everyone else. A full round forgets what was sent, so every member is listed in full again over
 * the next digests (how a node that joined since learns them).
 */
export function planDigest (members: readonly ShardMember[], sent: ReadonlyMap<string, string>, fullRound: boolean, fullBudgetBytes = DIGEST_FULL_BYTES): DigestPlan {
  const entries: DigestEntry[] = []
  const tagged: DigestTag[] = []
  const updated: DigestRolloutUpdate[] = []
  const nextSent = new Map<string, string>()
  let bytes = 0
  for (const m of members) {
    const projected = projectForDigest(m.heartbeat)
    const detail = detailKey(projected)
    const rollouts = rolloutKey(projected)
    const was = fullRound ? undefined : sent.get(m.peerId)
    const [wasDetail, wasRollouts] = was == null ? [undefined, undefined] : was.split('\n')
    const ageMs = Math.max(0, Math.round(m.ageMs))
    if (wasDetail !== detail) {
      const size = encodeHeartbeat(projected).byteLength + m.peerId.length + 12
      if (bytes + size <= fullBudgetBytes || entries.length === 0) {
        bytes += size
        entries.push({ peerId: m.peerId, ageMs, heartbeat: projected })
        nextSent.set(m.peerId, `${detail}\n${rollouts}`)
        continue
      }
      tagged.push({ tag: m.tag, ageMs })
      continue
    }
    nextSent.set(m.peerId, `${detail}\n${rollouts}`)
    if (wasRollouts !== rollouts) updated.push({ tag: m.tag, ageMs, rollouts: projected.rollouts ?? [] })
    else tagged.push({ tag: m.tag, ageMs })
  }
  return { entries, tagged, updated, sent: nextSent }
}

/**
 * A digest's bytes on the wire, estimated before it is encoded and signed (it carries the wait it
 * was sized on): header and envelope 400, tags 5 bytes, rollout updates 40, full entries 300 and
 * their peer id; a little over what the encoder writes, so the budget holds.
 */
export function estimateDigestBytes (plan: Pick<DigestPlan, 'entries' | 'tagged' | 'updated'>): number {
  return 400 + 5 * plan.tagged.length + 40 * plan.updated.length + plan.entries.reduce((n, e) => n + 300 + e.peerId.length, 0)
}
