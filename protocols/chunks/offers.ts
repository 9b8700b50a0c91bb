/**
 * How a complete holder (a seed) spreads its upload: instead of telling every asking peer "I have
 * everything", which makes many peers pull the same chunks from it at once, it offers each peer a
 * few chunks that the peer says it cannot get anywhere else (its `want`), preferring chunks it has
 * offered least. Once every chunk went out, it offers a chunk again only while fewer than
 * `replicaTarget` other askers hold it (it learns what they hold from their `have`): copies
 * already in the swarm are the swarm's to spread. This is BitTorrent's super-seeding, with the
 * askers' bitfields standing in for the seed's guesswork.
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
}

export interface OfferAsk {
  peer: string
  /** Chunks the asker holds. */
  has: readonly boolean[]
  /** Chunks the asker needs and knows no other source for. */
  wants: readonly boolean[]
}

export interface OfferPlan {
  /** Every chunk to advertise to the asker, ascending. */
  offer: number[]
  /** The chunks in `offer` that are new offers. */
  fresh: number[]
}

export function emptyOfferState (chunkCount: number): SeedOfferState {
  return { offered: new Array<number>(chunkCount).fill(0), open: [], serving: 0, seen: new Map(), replicas: new Array<number>(chunkCount).fill(0) }
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
  const elsewhere = (i: number): number => holders[i]! + (openElsewhere.get(i) ?? 0)
  const untakenElsewhere = othersOpen.filter(o => !o.taken).length
  const room = Math.min(params.perPeer - mine.size, params.maxOpen - state.serving - untakenElsewhere - mine.size)
  const fresh: number[] = []
  if (room > 0) {
    const candidates: number[] = []
    for (let i = 0; i < state.offered.length; i++) {
      if (ask.wants[i] !== true || ask.has[i] === true || mine.has(i)) continue
      if (state.offered[i]! > 0 && elsewhere(i) >= params.replicaTarget) continue
      candidates.push(i)
    }
    candidates.sort((a, b) =>
      state.offered[a]! - state.offered[b]! ||
      (openElsewhere.get(a) ?? 0) - (openElsewhere.get(b) ?? 0) ||
      (rank[a] ?? a) - (rank[b] ?? b))
    fresh.push(...candidates.slice(0, room))
  }
  const offer = [...mine, ...fresh].sort((a, b) => a - b)
  return { offer, fresh: fresh.sort((a, b) => a - b) }
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
  for (const [peer, entry] of state.seen) if (nowMs - entry.atMs > params.seenTtlMs) forget(peer)
  forget(ask.peer)
  ask.has.forEach((h, i) => { if (h && replicas[i] != null) replicas[i]++ })
  seen.set(ask.peer, { has: ask.has, atMs: nowMs })
  return { offered, open, serving: state.serving, seen, replicas }
}

/**
 * The state after `peer` asked for `chunk`: the copy is on its way. The entry stays (taken) so
 * the chunk is not offered to others as if nobody were getting it, until `peer` says it holds it.
 */
export function takeOffer (state: SeedOfferState, peer: string, chunk: number, nowMs: number, params: Pick<SeedOfferParams, 'seenTtlMs'>): SeedOfferState {
  const open = state.open.filter(o => !(o.peer === peer && o.chunk === chunk))
  // A copy on its way may wait behind others at this seed: it counts as long as an asker's word does.
  open.push({ peer, chunk, expiresAtMs: nowMs + params.seenTtlMs, taken: true })
  return { ...state, open }
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
  if (entry == null && !hasOpen) return state
  const seen = new Map(state.seen)
  const replicas = [...state.replicas]
  if (entry != null) {
    entry.has.forEach((h, i) => { if (h && replicas[i] != null) replicas[i]-- })
    seen.delete(peer)
  }
  return { ...state, seen, replicas, open: state.open.filter(o => o.peer !== peer) }
}
