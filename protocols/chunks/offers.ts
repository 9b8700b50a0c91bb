/**
 * How a complete holder (a seed) spreads its upload: instead of telling every asking peer "I have
 * everything", which makes many peers pull the same chunks from it at once, it offers each peer a
 * few chunks that the peer says it cannot get anywhere else (its `want`), preferring chunks it has
 * offered least. Once every chunk went out, it offers a chunk again only while fewer than
 * `replicaTarget` other askers hold it (it learns what they hold from their `have`): copies
 * already in the swarm are the swarm's to spread. This is BitTorrent's super-seeding, with the
 * askers' bitfields standing in for the seed's guesswork.
 *
 * An asker's `have` is its own word. A member may claim whatever it is offered without fetching
 * it, to make the seed withhold those chunks from everyone else. So a claim counts as a copy
 * elsewhere in full only for chunks this seed served the claimant (it asked for them, see
 * {@link takeOffer}); other claims count only until an asker has wanted the chunk, without being
 * offered it, for `withholdMs`: past that the seed offers it on what it verified alone. And past
 * that, a copy counts only while its holder still asks (within `withholdMs`): one that went quiet
 * finished its download and is a seed running this same rule, or left. Without that, at the end
 * of a download every other holder was a seed counting the others' copies, and the last asker
 * waited for their word to age out (`seenTtlMs`, 120 s; seen on real links at N = 20).
 *
 * A copy the seed counts may still never reach the asker: the asker cannot dial its holder (a
 * one-way partition, a NAT), or the holder is a member that took every chunk from the seed, keeps
 * asking and serves nobody. Two askers that cannot reach each other and got different chunks from
 * the seed would each wait on the other forever. So past `starveMs` of waiting an asker is
 * offered the chunk whatever the seed counts elsewhere: the seed pays one more copy to an asker
 * that has found no source for that long, never an unbounded wait.
 *
 * Pure: the server keeps a {@link SeedOfferState} per manifest and asks {@link planOffer} what to
 * answer, then records the answer with {@link recordOffer}.
 */

export interface SeedOffer {
  peer: string
  chunk: number
  expiresAtMs: number
  /**
   * The peer asked for it: no longer an offer it may take, but a copy on its way, counted as one
   * until the peer says it holds the chunk (or the entry expires, after `seenTtlMs`).
   */
  taken?: boolean
}

export interface SeedOfferState {
  /** How many times each chunk has been offered so far. */
  offered: readonly number[]
  /** Offers not yet taken; some may have expired. */
  open: readonly SeedOffer[]
  /** Chunks asked for and not yet sent: they hold the seed's upload as much as open offers do. */
  serving: number
  /** What each asker said it holds, and when. */
  seen: ReadonlyMap<string, { has: readonly boolean[], atMs: number }>
  /** replicas[i]: askers in `seen` that hold chunk i. */
  replicas: readonly number[]
  /** served.get(peer)[i]: this seed served chunk i to peer (it asked for it), so its claim is verified. */
  served: ReadonlyMap<string, readonly boolean[]>
  /** waiting.get(peer).get(i): since when peer has wanted chunk i and not been offered it. */
  waiting: ReadonlyMap<string, ReadonlyMap<number, number>>
}

export interface SeedOfferParams {
  /** Most untaken offers one peer holds. */
  perPeer: number
  /** Most open offers plus chunks being served, all peers together: what the seed commits to. */
  maxOpen: number
  /** How long an untaken offer stands, in ms. */
  ttlMs: number
  /** A chunk already offered once is offered again only while fewer other askers hold it. */
  replicaTarget: number
  /** How long what an asker said it holds counts, in ms (a peer that left stops counting). */
  seenTtlMs: number
  /**
   * How long an asker may want a chunk without being offered it before claims the seed did not
   * verify stop counting against it, in ms. @default 5000
   */
  withholdMs?: number
  /**
   * How long an asker may want a chunk without being offered it before the seed offers it whatever
   * copies it counts elsewhere, in ms. At least `withholdMs`. @default 60000
   */
  starveMs?: number
}

/** Default {@link SeedOfferParams.withholdMs}. */
export const DEFAULT_WITHHOLD_MS = 5000
/**
 * Default {@link SeedOfferParams.starveMs}. At 20 s it fired in ordinary swarms on real links
 * (N = 10, 10 Mbit/s: origin egress 1.18-1.25 F against 1.10 without it, no device sooner), where
 * a wanted chunk can take that long to be offered by a peer; a minute is past any download there.
 */
export const DEFAULT_STARVE_MS = 60_000

export interface OfferAsk {
  peer: string
  /** Chunks the asker holds. */
  has: readonly boolean[]
  /** Chunks the asker needs and knows no other source for. */
  wants: readonly boolean[]
}

/**
 * Why a seed made a fresh offer: the chunk had not been offered before (`first`); fewer than
 * `replicaTarget` copies elsewhere, the asker's word counted in full (`replicas`); the asker had
 * waited `withholdMs` and fewer copies that can still reach it are counted (`waited`); or it had
 * waited `starveMs` (`starved`). Past the first copy of each chunk, each one costs the seed a copy.
 */
export type OfferReason = 'first' | 'replicas' | 'waited' | 'starved'

export interface OfferPlan {
  /** Every chunk to advertise to the asker, ascending. */
  offer: number[]
  /** The chunks in `offer` that are new offers. */
  fresh: number[]
  /** Why each chunk of `fresh` was offered, in the same order. */
  reasons: OfferReason[]
  /** Chunks the asker wants and lacks that it was not offered, ascending. */
  withheld: number[]
}

export function emptyOfferState (chunkCount: number): SeedOfferState {
  return { offered: new Array<number>(chunkCount).fill(0), open: [], serving: 0, seen: new Map(), replicas: new Array<number>(chunkCount).fill(0), served: new Map(), waiting: new Map() }
}

/**
 * What to advertise to `ask.peer`: its open offers it has not taken yet, plus new ones from what it
 * wants, fewest offered first, then chunks offered to nobody right now, then `rank` (a per-seed
 * shuffle, so seeds of the same model do not all start with chunk 0).
 */
export function planOffer (state: SeedOfferState, ask: OfferAsk, params: SeedOfferParams, rank: readonly number[], nowMs: number): OfferPlan {
  const live = state.open.filter(o => o.expiresAtMs > nowMs)
  const mine = new Set(live.filter(o => o.peer === ask.peer && !o.taken && ask.has[o.chunk] !== true).map(o => o.chunk))
  const othersOpen = live.filter(o => o.peer !== ask.peer)
  const openElsewhere = new Map<number, number>()
  for (const o of othersOpen) openElsewhere.set(o.chunk, (openElsewhere.get(o.chunk) ?? 0) + 1)
  const holders = [...state.replicas]
  for (const [peer, entry] of state.seen) {
    if (peer !== ask.peer && nowMs - entry.atMs <= params.seenTtlMs) continue
    entry.has.forEach((h, i) => { if (h && holders[i] != null) holders[i]-- })
  }
  const withholdMs = params.withholdMs ?? DEFAULT_WITHHOLD_MS
  const starveMs = Math.max(withholdMs, params.starveMs ?? DEFAULT_STARVE_MS)
  const waitingSince = state.waiting.get(ask.peer)
  const unverified = (i: number): number => {
    let n = 0
    for (const [peer, entry] of state.seen) {
      if (peer === ask.peer || nowMs - entry.atMs > params.seenTtlMs) continue
      if (entry.has[i] === true && state.served.get(peer)?.[i] !== true) n++
    }
    return n
  }
  // Whether `peer` asked within withholdMs: it is still downloading, so it offers what it holds.
  // A holder that went quiet is complete (a seed, withholding by this same rule) or gone.
  const asking = (peer: string): boolean => {
    const entry = state.seen.get(peer)
    return entry != null && nowMs - entry.atMs <= withholdMs
  }
  const elsewhere = (i: number): number => {
    const since = waitingSince?.get(i)
    if (since == null || nowMs - since < withholdMs) return holders[i]! + (openElsewhere.get(i) ?? 0)
    // The asker has waited: only copies that can still reach it count, those this seed served to
    // askers still asking, and offers open to them.
    let n = holders[i]! - unverified(i)
    for (const [peer, entry] of state.seen) {
      if (peer === ask.peer || nowMs - entry.atMs > params.seenTtlMs || asking(peer)) continue
      if (entry.has[i] === true && state.served.get(peer)?.[i] === true) n--
    }
    for (const o of othersOpen) if (o.chunk === i && asking(o.peer)) n++
    return n
  }
  // The asker has found no source for starveMs: whatever the seed counts does not reach it.
  const starved = (i: number): boolean => {
    const since = waitingSince?.get(i)
    return since != null && nowMs - since >= starveMs
  }
  const untakenElsewhere = othersOpen.filter(o => !o.taken).length
  const room = Math.min(params.perPeer - mine.size, params.maxOpen - state.serving - untakenElsewhere - mine.size)
  const fresh: number[] = []
  const why = new Map<number, OfferReason>()
  if (room > 0) {
    const candidates: number[] = []
    for (let i = 0; i < state.offered.length; i++) {
      if (ask.wants[i] !== true || ask.has[i] === true || mine.has(i)) continue
      if (state.offered[i] === 0) {
        why.set(i, 'first')
      } else if (elsewhere(i) < params.replicaTarget) {
        const since = waitingSince?.get(i)
        why.set(i, since != null && nowMs - since >= withholdMs ? 'waited' : 'replicas')
      } else if (starved(i)) {
        why.set(i, 'starved')
      } else {
        continue
      }
      candidates.push(i)
    }
    candidates.sort((a, b) =>
      state.offered[a]! - state.offered[b]! ||
      (openElsewhere.get(a) ?? 0) - (openElsewhere.get(b) ?? 0) ||
      (rank[a] ?? a) - (rank[b] ?? b))
    fresh.push(...candidates.slice(0, room))
  }
  const offer = [...mine, ...fresh].sort((a, b) => a - b)
  const given = new Set(offer)
  const withheld: number[] = []
  for (let i = 0; i < state.offered.length; i++) {
    if (ask.wants[i] === true && ask.has[i] !== true && !given.has(i)) withheld.push(i)
  }
  fresh.sort((a, b) => a - b)
  return { offer, fresh, reasons: fresh.map(i => why.get(i)!), withheld }
}

/**
 * The state after answering `ask` with `plan`: the fresh offers opened, what the asker holds
 * remembered, expired offers and forgotten askers dropped, and offers the asker took elsewhere closed.
 */
export function recordOffer (state: SeedOfferState, ask: OfferAsk, plan: OfferPlan, params: SeedOfferParams, nowMs: number): SeedOfferState {
  const offered = [...state.offered]
  for (const c of plan.fresh) offered[c] = (offered[c] ?? 0) + 1
  const open = state.open.filter(o => o.expiresAtMs > nowMs && !(o.peer === ask.peer && ask.has[o.chunk] === true))
  for (const c of plan.fresh) open.push({ peer: ask.peer, chunk: c, expiresAtMs: nowMs + params.ttlMs })
  const seen = new Map(state.seen)
  const replicas = [...state.replicas]
  const forget = (peer: string): void => {
    const entry = seen.get(peer)
    if (entry == null) return
    entry.has.forEach((h, i) => { if (h && replicas[i] != null) replicas[i]-- })
    seen.delete(peer)
  }
  const served = new Map(state.served)
  const waiting = new Map(state.waiting)
  for (const [peer, entry] of state.seen) {
    if (nowMs - entry.atMs > params.seenTtlMs) {
      forget(peer)
      served.delete(peer)
      waiting.delete(peer)
    }
  }
  forget(ask.peer)
  ask.has.forEach((h, i) => { if (h && replicas[i] != null) replicas[i]++ })
  seen.set(ask.peer, { has: ask.has, atMs: nowMs })
  const before = state.waiting.get(ask.peer)
  const since = new Map<number, number>()
  for (const c of plan.withheld) since.set(c, before?.get(c) ?? nowMs)
  if (since.size > 0) waiting.set(ask.peer, since)
  else waiting.delete(ask.peer)
  return { offered, open, serving: state.serving, seen, replicas, served, waiting }
}

/**
 * The state after `peer` asked for `chunk`: the copy is on its way. The entry stays (taken) so
 * the chunk is not offered to others as if nobody were getting it, until `peer` says it holds it.
 */
export function takeOffer (state: SeedOfferState, peer: string, chunk: number, nowMs: number, params: Pick<SeedOfferParams, 'seenTtlMs'>): SeedOfferState {
  const open = state.open.filter(o => !(o.peer === peer && o.chunk === chunk))
  // A copy on its way may wait behind others at this seed: it counts as long as an asker's word does.
  open.push({ peer, chunk, expiresAtMs: nowMs + params.seenTtlMs, taken: true })
  const served = new Map(state.served)
  const mine = [...(served.get(peer) ?? new Array<boolean>(state.offered.length).fill(false))]
  if (chunk >= 0 && chunk < mine.length) mine[chunk] = true
  served.set(peer, mine)
  return { ...state, open, served }
}

/** The state after the seed started (+1) or finished (-1) serving a chunk. */
export function serving (state: SeedOfferState, delta: 1 | -1): SeedOfferState {
  return { ...state, serving: Math.max(0, state.serving + delta) }
}

/**
 * The state once `peer` has disconnected: what it held no longer counts as a copy elsewhere, and
 * its open offers close. Without this a seed would keep counting a departed peer's copies until
 * `seenTtlMs`, and withhold those chunks from newcomers that have no other source.
 */
export function forgetPeer (state: SeedOfferState, peer: string): SeedOfferState {
  const entry = state.seen.get(peer)
  const hasOpen = state.open.some(o => o.peer === peer)
  if (entry == null && !hasOpen && !state.served.has(peer) && !state.waiting.has(peer)) return state
  const seen = new Map(state.seen)
  const replicas = [...state.replicas]
  if (entry != null) {
    entry.has.forEach((h, i) => { if (h && replicas[i] != null) replicas[i]-- })
    seen.delete(peer)
  }
  const served = new Map(state.served)
  served.delete(peer)
  const waiting = new Map(state.waiting)
  waiting.delete(peer)
  return { ...state, seen, replicas, served, waiting, open: state.open.filter(o => o.peer !== peer) }
}
