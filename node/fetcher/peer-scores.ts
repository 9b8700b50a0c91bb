import { currentScore, DEFAULT_SCORE_PARAMS, nextScore } from './score.js'
import type { PeerEvent, ScoreEntry, ScoreParams } from './score.js'

/** Most peers remembered; the least recently scored are forgotten first. */
const MAX_ENTRIES = 4096

/** Peer reputations of one fetcher, across its downloads (see score.ts for the rules). */
export class PeerScores {
  private readonly entries = new Map<string, ScoreEntry>()
  readonly params: ScoreParams

  constructor (params: Partial<ScoreParams> = {}) {
    this.params = { ...DEFAULT_SCORE_PARAMS, ...params }
  }

  get (peer: string, nowMs: number): number {
    return currentScore(this.entries.get(peer), this.params, nowMs)
  }

  /** Whether the peer scores too low to be asked at all. */
  avoid (peer: string, nowMs: number): boolean {
    return this.get(peer, nowMs) <= this.params.avoidBelow
  }

  record (peer: string, event: PeerEvent, nowMs: number): void {
    const next = nextScore(this.entries.get(peer), event, this.params, nowMs)
    this.entries.delete(peer)
    this.entries.set(peer, next)
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!)
  }
}
