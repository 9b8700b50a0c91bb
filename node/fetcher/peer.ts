/** What a download keeps about each peer, and small helpers around it. */
import type { PeerProgress } from './fetcher.js'
import type { HaveWatch } from '../../protocols/chunks/index.js'
import type { PeerId } from '@libp2p/interface'

export interface PeerRecord {
  peerId: PeerId
  id: string
  /** Random tie order among peers, fixed for the download. */
  key: number
  status: 'new' | 'ok' | 'no-manifest'
  offers: boolean[]
  complete: boolean
  inFlight: number
  /** Requests outstanding (streams): a request may carry several chunks. */
  requests: number
  banned: boolean
  dropped: boolean
  cooldownUntilMs: number
  failures: number
  bytes: number
  chunks: number
  /** Recent delivery rate (EWMA over chunks, from asking to receiving), bytes per second; 0 = unknown. */
  rateBytesPerSec: number
  /** The open WATCH on the peer's offer, if any. */
  watch?: HaveWatch
  watchOpening: boolean
  /** No WATCH is opened before this time, in ms. */
  nextWatchMs: number
  /** What this node last told the peer it holds and wants (a seed plans offers on it). */
  sent?: { held: number, want: boolean[] }
  manifestTriedMs: number
}

export function newPeerRecord (peerId: PeerId, chunkCount: number, key: number): PeerRecord {
  return {
    peerId,
    id: peerId.toString(),
    key,
    status: 'new',
    offers: new Array<boolean>(chunkCount).fill(false),
    complete: false,
    inFlight: 0,
    requests: 0,
    banned: false,
    dropped: false,
    cooldownUntilMs: 0,
    failures: 0,
    bytes: 0,
    chunks: 0,
    rateBytesPerSec: 0,
    watchOpening: false,
    nextWatchMs: 0,
    manifestTriedMs: Number.NEGATIVE_INFINITY
  }
}

/**
 * The peer to let go when a download is at its peer cap and another turns up (a provider record,
 * a new connection): one that has nothing for it now, so a cap filled early with peers that lack
 * the manifest, or offer nothing, cannot shut out the peers that hold the model. Only peers
 * already asked, with nothing in flight and no watch open: a peer still being tried keeps its
 * place. Those without the manifest go first, then those that offer nothing, longest-asked first.
 */
export function pickEvictable (peers: Iterable<PeerRecord>): PeerRecord | undefined {
  let best: PeerRecord | undefined
  let bestRank = Infinity
  for (const p of peers) {
    if (p.banned || p.dropped || p.inFlight > 0 || p.watch != null || p.watchOpening) continue
    const rank = p.status === 'no-manifest' ? 0 : p.status === 'ok' && !p.complete && !p.offers.some(Boolean) ? 1 : Infinity
    if (rank === Infinity) continue
    if (rank < bestRank || (rank === bestRank && best != null && p.manifestTriedMs < best.manifestTriedMs)) {
      best = p
      bestRank = rank
    }
  }
  return best
}

export function peerProgress (p: PeerRecord, nowMs: number): PeerProgress {
  return {
    peerId: p.id,
    bytes: p.bytes,
    chunks: p.chunks,
    inFlight: p.inFlight,
    offers: p.offers.filter(Boolean).length,
    state: p.banned ? 'banned' : p.dropped ? 'dropped' : p.cooldownUntilMs > nowMs ? 'cooldown' : p.status === 'no-manifest' ? 'no-manifest' : 'ok'
  }
}

/** Bytes per second over a sliding window. */
export class RateWindow {
  private readonly samples: Array<[number, number]> = []
  constructor (private readonly windowMs: number) {}

  add (nowMs: number, bytes: number): void {
    this.samples.push([nowMs, bytes])
    while (nowMs - this.samples[0]![0] > this.windowMs) this.samples.shift()
  }

  /** The rate over the window ending now (or since `sinceMs`, if that is later). */
  perSecond (nowMs: number, sinceMs: number): number {
    while (this.samples.length > 0 && nowMs - this.samples[0]![0] > this.windowMs) this.samples.shift()
    const span = Math.min(this.windowMs, Math.max(1, nowMs - sinceMs))
    return this.samples.reduce((a, [, b]) => a + b, 0) * 1000 / span
  }
}
