/**
 * Peer reputation across downloads, pure. A good chunk earns a little, a timeout costs some, a bad
 * chunk costs a lot; the score decays toward zero with a half-life, so a peer that once served a
 * corrupted chunk (a failing disk, say) is avoided for a while, not forever.
 */

export type PeerEvent = 'chunk' | 'timeout' | 'bad'

export interface ScoreEntry {
  score: number
  atMs: number
}

export interface ScoreParams {
  /** @default 1 */
  chunk: number
  /** @default -5 */
  timeout: number
  /** @default -100 */
  bad: number
  /** Scores stay within [-max, max]. @default 100 */
  max: number
  /** Time for a score to halve, in ms. @default 30 min */
  halfLifeMs: number
  /** Peers at or below this score are not asked at all. @default -50 */
  avoidBelow: number
}

export const DEFAULT_SCORE_PARAMS: ScoreParams = {
  chunk: 1,
  timeout: -5,
  bad: -100,
  max: 100,
  halfLifeMs: 30 * 60_000,
  avoidBelow: -50
}

export function currentScore (entry: ScoreEntry | undefined, params: ScoreParams, nowMs: number): number {
  if (entry == null) return 0
  const elapsed = Math.max(0, nowMs - entry.atMs)
  return entry.score * Math.pow(0.5, elapsed / params.halfLifeMs)
}

export function nextScore (entry: ScoreEntry | undefined, event: PeerEvent, params: ScoreParams, nowMs: number): ScoreEntry {
  const score = currentScore(entry, params, nowMs) + params[event]
  return { score: Math.max(-params.max, Math.min(params.max, score)), atMs: nowMs }
}
