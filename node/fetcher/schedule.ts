/**
 * The fetcher's decisions, pure: which chunks to ask which peers for, now. The shell (fetcher.ts)
 * keeps the state, calls {@link planRequests} whenever something changed, and sends what it says.
 *
 * - Rarest first: chunks fewer peers offer go first, so rare chunks spread before their only
 *   holder leaves or gets busy; ties follow a per-download shuffle, so nodes that start together
 *   ask for different chunks.
 * - A chunk goes to the peer that offers it and should deliver it soonest: its chunks outstanding
 *   here plus one, over the rate it has been delivering at (a busy peer delivers slowly, so others
 *   get the work; a peer not measured yet counts as fast as the fastest). Ties go to the better
 *   scored peer. Peers that already failed the chunk are avoided while another offers it.
 * - No peer has more than `maxInFlightPerPeer` chunks outstanding (in at most `maxRequestsPerPeer`
 *   requests), and no more than `maxInFlight` are outstanding in all: on a capped link a queue of
 *   megabytes delays everything behind it, libp2p's pings included.
 * - Endgame: once few chunks are missing and all of them are asked for, idle peers are asked for
 *   the same chunks too (up to `endgameDuplicates` peers per chunk); the first copy wins and the
 *   others are cancelled. Only a late chunk gets a second peer: one whose outstanding request is
 *   expected to deliver it more than `endgameLateFactor` times later than the new peer would
 *   alone. On a download link that is already full, a second copy of a chunk on time only halves
 *   the speed of both and its bytes are wasted; worse, a cancelled copy keeps arriving for a
 *   window's worth of bytes (yamux: 256 KiB) that no counter sees. Measured on real links
 *   (bench/netns, 4 downloaders, 6 MiB, 6 Mbit/s): bytes received / (N x F) 1.15-1.30 before
 *   (up to 0.31 F of duplicate chunks and 0.26 F unseen at one node), 1.08-1.16 after, TCP/IP
 *   headers (0.05-0.10 F with the ACKs of a node's own uploads) included.
 */

export interface PeerView {
  id: string
  /** offers[i]: the peer offers chunk i. */
  offers: readonly boolean[]
  /** Chunks asked of this peer and neither delivered nor failed yet. */
  inFlight: number
  /** Requests outstanding at this peer (each may carry several chunks). Undefined: 0. */
  requests?: number
  /** Served a bad chunk or broke the protocol in this download: never asked again. */
  banned: boolean
  /** Not asked before this time (after a timeout or a busy answer), in ms. */
  cooldownUntilMs: number
  /** Reputation; higher is better (see score.ts). */
  score: number
  /** Recent delivery rate for this node, bytes per second; 0 when not measured yet. */
  rateBytesPerSec: number
}

export interface ScheduleState {
  /** done[i]: nothing left to fetch for chunk i (stored, or a repeat of another chunk's CID). */
  done: readonly boolean[]
  /** The peers each chunk is currently asked of. */
  asked: ReadonlyMap<number, ReadonlySet<string>>
  peers: readonly PeerView[]
  /** Tie order of chunks: a per-download permutation of 0..n-1 (lower goes first). */
  rank: readonly number[]
  /** Peers that failed chunk i in this download (timeout, missing): used only if nobody else offers it. */
  failed: ReadonlyMap<number, ReadonlySet<string>>
  /** Bytes of each chunk (for the endgame's lateness test). Undefined: every chunk counts as late. */
  sizes?: readonly number[]
  /**
   * For chunks being fetched: in how many ms the soonest of their outstanding requests is expected
   * to deliver them. A chunk not listed counts as late.
   */
  etaMs?: ReadonlyMap<number, number>
}

export interface ScheduleParams {
  /** Most chunks outstanding per peer. */
  maxInFlightPerPeer: number
  /**
   * Most chunks outstanding in all: more than the download link can take at once only slows
   * every one of them, and holds the senders' upload slots while they wait.
   */
  maxInFlight: number
  /** Most chunks in one request. */
  maxChunksPerRequest: number
  /**
   * Most requests outstanding per peer: a peer gets new chunks only while it has fewer, and then
   * at most (this - its requests) x maxChunksPerRequest. With several chunks per request, this
   * keeps a peer's chunks in few requests: freeing one chunk of a request does not make room for
   * a request of one chunk. Undefined: no limit besides maxInFlightPerPeer.
   */
  maxRequestsPerPeer?: number
  /** Endgame starts when at most this many chunks are missing (and all are asked for). */
  endgameChunks: number
  /** In the endgame, most peers asked for the same chunk at once. */
  endgameDuplicates: number
  /**
   * In the endgame, a chunk gets another peer only when it is expected more than this many times
   * later than that peer would deliver it alone. 0 or undefined: whenever a peer is free.
   */
  endgameLateFactor?: number
}

export interface PlannedRequest {
  peer: string
  /** Chunk indexes, in the order to ask. */
  chunks: number[]
  /** A duplicate request of the endgame. */
  endgame: boolean
}

interface Candidate {
  peer: PeerView
  order: number
}

/** What to ask for now. Deterministic in its inputs. */
export function planRequests (state: ScheduleState, params: ScheduleParams, nowMs: number): PlannedRequest[] {
  let room = params.maxInFlight - state.peers.reduce((n, p) => n + p.inFlight, 0)
  // Called on every event of a download (each offer update, each chunk): most calls find no room
  // or no peer with capacity, and nothing below could be asked then.
  if (room <= 0) return []
  const live = state.peers.filter(p => !p.banned)
  const usable: Candidate[] = state.peers
    .map((peer, order) => ({ peer, order }))
    .filter(c => !c.peer.banned && c.peer.cooldownUntilMs <= nowMs)
  const capacity = new Map(usable.map(c => {
    const byRequests = params.maxRequestsPerPeer == null
      ? Number.POSITIVE_INFINITY
      : (params.maxRequestsPerPeer - (c.peer.requests ?? 0)) * params.maxChunksPerRequest
    return [c.peer.id, Math.max(0, Math.min(params.maxInFlightPerPeer - c.peer.inFlight, byRequests))]
  }))
  let anyCapacity = false
  for (const n of capacity.values()) if (n > 0) anyCapacity = true
  if (!anyCapacity) return []
  const load = new Map(usable.map(c => [c.peer.id, c.peer.inFlight]))
  const fastest = Math.max(0, ...state.peers.map(p => p.rateBytesPerSec))

  const missing: number[] = []
  for (let i = 0; i < state.done.length; i++) if (!state.done[i]) missing.push(i)
  const availability = new Map<number, number>()
  for (const i of missing) {
    let n = 0
    for (const p of live) if (p.offers[i] === true) n++
    availability.set(i, n)
  }

  const pick = (chunk: number, exclude: ReadonlySet<string>): Candidate | undefined => {
    const able = usable.filter(c => c.peer.offers[chunk] === true && (capacity.get(c.peer.id) ?? 0) > 0 && !exclude.has(c.peer.id))
    if (able.length === 0) return undefined
    const failed = state.failed.get(chunk)
    const fresh = failed == null ? able : able.filter(c => !failed.has(c.peer.id))
    const pool = fresh.length > 0 ? fresh : able
    return pool.reduce((best, c) => better(c, best, load, fastest) ? c : best)
  }
  const take = (c: Candidate): void => {
    room--
    capacity.set(c.peer.id, (capacity.get(c.peer.id) ?? 0) - 1)
    load.set(c.peer.id, (load.get(c.peer.id) ?? 0) + 1)
  }

  const byRarity = missing
    .filter(i => (state.asked.get(i)?.size ?? 0) === 0 && (availability.get(i) ?? 0) > 0)
    .sort((a, b) => availability.get(a)! - availability.get(b)! || (state.rank[a] ?? a) - (state.rank[b] ?? b))
  const assigned = new Map<string, number[]>()
  const assignedTo = new Map<number, string>()
  for (const chunk of byRarity) {
    if (room <= 0) break
    const c = pick(chunk, new Set())
    if (c == null) continue
    take(c)
    assigned.set(c.peer.id, [...(assigned.get(c.peer.id) ?? []), chunk])
    assignedTo.set(chunk, c.peer.id)
  }

  const requests: PlannedRequest[] = []
  for (const { peer } of usable) {
    const chunks = assigned.get(peer.id)
    if (chunks == null) continue
    for (let i = 0; i < chunks.length; i += params.maxChunksPerRequest) {
      requests.push({ peer: peer.id, chunks: chunks.slice(i, i + params.maxChunksPerRequest), endgame: false })
    }
  }

  /** Would `c` alone deliver `chunk` well before its outstanding request is expected to? */
  const late = (chunk: number, c: Candidate): boolean => {
    const factor = params.endgameLateFactor ?? 0
    const eta = state.etaMs?.get(chunk)
    const size = state.sizes?.[chunk]
    const rate = c.peer.rateBytesPerSec > 0 ? c.peer.rateBytesPerSec : fastest
    if (factor <= 0 || eta == null || !Number.isFinite(eta) || size == null || rate <= 0) return true
    const alone = ((load.get(c.peer.id) ?? 0) + 1) * size * 1000 / rate
    return eta > factor * alone
  }

  const everyMissingAsked = missing.every(i => (state.asked.get(i)?.size ?? 0) > 0 || assignedTo.has(i) || (availability.get(i) ?? 0) === 0)
  if (missing.length > 0 && missing.length <= params.endgameChunks && everyMissingAsked) {
    const askedOf = (i: number): Set<string> => {
      const s = new Set(state.asked.get(i) ?? [])
      const a = assignedTo.get(i)
      if (a != null) s.add(a)
      return s
    }
    const inFlight = missing
      .filter(i => askedOf(i).size > 0)
      .sort((a, b) => askedOf(a).size - askedOf(b).size || (state.rank[a] ?? a) - (state.rank[b] ?? b))
    // Round-robin: every in-flight chunk gets one more peer before any gets two more.
    for (let round = 0; round < params.endgameDuplicates; round++) {
      for (const chunk of inFlight) {
        if (room <= 0) break
        const already = askedOf(chunk)
        for (const r of requests) if (r.endgame && r.chunks[0] === chunk) already.add(r.peer)
        if (already.size >= params.endgameDuplicates) continue
        const c = pick(chunk, already)
        if (c == null || !late(chunk, c)) continue
        take(c)
        requests.push({ peer: c.peer.id, chunks: [chunk], endgame: true })
      }
    }
  }
  return requests
}

/** Sooner expected delivery first, then higher score, then the order peers are listed in. */
function better (a: Candidate, b: Candidate, load: ReadonlyMap<string, number>, fastest: number): boolean {
  const eta = (c: Candidate): number => ((load.get(c.peer.id) ?? 0) + 1) / (c.peer.rateBytesPerSec > 0 ? c.peer.rateBytesPerSec : Math.max(fastest, 1))
  const ea = eta(a)
  const eb = eta(b)
  if (ea !== eb) return ea < eb
  if (a.peer.score !== b.peer.score) return a.peer.score > b.peer.score
  return a.order < b.order
}

/**
 * The chunks a peer should ask `target` to offer when `target` may ration its offers (a seed):
 * needed chunks that no other usable peer offers.
 */
export function wantsFrom (state: Pick<ScheduleState, 'done' | 'peers'>, target: string, nowMs: number): boolean[] {
  const others = state.peers.filter(p => p.id !== target && !p.banned && p.cooldownUntilMs <= nowMs)
  return state.done.map((done, i) => !done && !others.some(p => p.offers[i] === true))
}
