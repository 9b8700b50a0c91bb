/**
 * How a complete holder (a seed) spreads its upload: instead of telling every asking peer "I have
 * everything", which makes many peers pull the same chunks from it at once, it offers each peer a
 * few chunks that the peer says it cannot get anywhere else, preferring chunks it has offered least.
 * The peers then trade those chunks among themselves. This is BitTorrent's super-seeding, with the
 * asker's `want` bitfield standing in for the seed's guesswork.
 *
 * Pure: the server keeps a {@link SeedOfferState} per manifest and asks {@link planOffer} what to
 * answer, then records the answer with {@link recordOffer}.
 */

export interface SeedOffer {
  peer: string
  chunk: number
  expiresAtMs: number
}

export interface SeedOfferState {
  /** How many times each chunk has been offered so far. */
  offered: readonly number[]
  /** Offers not yet taken; some may have expired. */
  open: readonly SeedOffer[]
  /** Chunks asked for and not yet sent: they hold the seed's upload as much as open offers do. */
  serving: number
}

export interface SeedOfferParams {
  /** Most untaken offers one peer holds. */
  perPeer: number
  /** Most open offers plus chunks being served, all peers together: what the seed commits to. */
  maxOpen: number
  /** How long an untaken offer stands, in ms. */
  ttlMs: number
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
  return { offered: new Array<number>(chunkCount).fill(0), open: [], serving: 0 }
}

/**
 * What to advertise to `ask.peer`: its open offers it has not taken yet, plus new ones from what it
 * wants, fewest offered first, then chunks offered to nobody right now, then `rank` (a per-seed
 * shuffle, so seeds of the same model do not all start with chunk 0).
 */
export function planOffer (state: SeedOfferState, ask: OfferAsk, params: SeedOfferParams, rank: readonly number[], nowMs: number): OfferPlan {
  const live = state.open.filter(o => o.expiresAtMs > nowMs)
  const mine = new Set(live.filter(o => o.peer === ask.peer && ask.has[o.chunk] !== true).map(o => o.chunk))
  const othersOpen = live.filter(o => o.peer !== ask.peer)
  const openElsewhere = new Map<number, number>()
  for (const o of othersOpen) openElsewhere.set(o.chunk, (openElsewhere.get(o.chunk) ?? 0) + 1)
  const room = Math.min(params.perPeer - mine.size, params.maxOpen - state.serving - othersOpen.length - mine.size)
  const fresh: number[] = []
  if (room > 0) {
    const candidates: number[] = []
    for (let i = 0; i < state.offered.length; i++) {
      if (ask.wants[i] === true && ask.has[i] !== true && !mine.has(i)) candidates.push(i)
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

/** The state after answering `peer` with `plan`: expired offers and ones the peer took elsewhere dropped. */
export function recordOffer (state: SeedOfferState, ask: OfferAsk, plan: OfferPlan, params: SeedOfferParams, nowMs: number): SeedOfferState {
  const offered = [...state.offered]
  for (const c of plan.fresh) offered[c] = (offered[c] ?? 0) + 1
  const open = state.open.filter(o => o.expiresAtMs > nowMs && !(o.peer === ask.peer && ask.has[o.chunk] === true))
  for (const c of plan.fresh) open.push({ peer: ask.peer, chunk: c, expiresAtMs: nowMs + params.ttlMs })
  return { offered, open, serving: state.serving }
}

/** The state after `peer` asked for `chunk`: its offer (if any) is closed. */
export function takeOffer (state: SeedOfferState, peer: string, chunk: number): SeedOfferState {
  if (!state.open.some(o => o.peer === peer && o.chunk === chunk)) return state
  return { ...state, open: state.open.filter(o => !(o.peer === peer && o.chunk === chunk)) }
}

/** The state after the seed started (+1) or finished (-1) serving a chunk. */
export function serving (state: SeedOfferState, delta: 1 | -1): SeedOfferState {
  return { ...state, serving: Math.max(0, state.serving + delta) }
}
