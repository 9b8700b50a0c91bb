import { describe, expect, it } from 'vitest'
import { PeerScores } from './peer-scores.js'
import { currentScore, DEFAULT_SCORE_PARAMS, nextScore } from './score.js'
import type { PeerEvent, ScoreEntry } from './score.js'

const P = DEFAULT_SCORE_PARAMS
const HALF = P.halfLifeMs

describe('currentScore: a score decays toward zero with its half-life', () => {
  const cases: Array<[string, ScoreEntry | undefined, number, number]> = [
    ['a peer never seen scores 0', undefined, 0, 0],
    ['no time passed: unchanged', { score: 40, atMs: 1000 }, 1000, 40],
    ['one half-life halves it', { score: 40, atMs: 0 }, HALF, 20],
    ['two half-lives quarter it', { score: -100, atMs: 0 }, 2 * HALF, -25],
    ['a negative score decays toward 0 too', { score: -80, atMs: 0 }, HALF, -40],
    ['a clock that went back does not grow it', { score: 40, atMs: 5000 }, 1000, 40]
  ]
  for (const [name, entry, now, want] of cases) {
    it(name, () => { expect(currentScore(entry, P, now)).toBeCloseTo(want, 9) })
  }
})

describe('nextScore: what each event is worth', () => {
  const cases: Array<[string, ScoreEntry | undefined, PeerEvent, number, ScoreEntry]> = [
    ['a good chunk earns a little', undefined, 'chunk', 10, { score: 1, atMs: 10 }],
    ['a timeout costs some', undefined, 'timeout', 10, { score: -5, atMs: 10 }],
    ['a bad chunk costs a lot', undefined, 'bad', 10, { score: -100, atMs: 10 }],
    ['events add to the decayed score', { score: 10, atMs: 0 }, 'chunk', HALF, { score: 6, atMs: HALF }],
    ['the score never goes past +max', { score: 100, atMs: 0 }, 'chunk', 0, { score: 100, atMs: 0 }],
    ['nor below -max', { score: -60, atMs: 0 }, 'bad', 0, { score: -100, atMs: 0 }]
  ]
  for (const [name, entry, event, now, want] of cases) {
    it(name, () => {
      const next = nextScore(entry, event, P, now)
      expect(next.atMs).toBe(want.atMs)
      expect(next.score).toBeCloseTo(want.score, 9)
    })
  }
})

describe('PeerScores.avoid: a peer at or below avoidBelow is not asked', () => {
  it('avoids a peer after one bad chunk, and again asks it once the score has decayed', () => {
    const scores = new PeerScores()
    scores.record('p', 'bad', 0)
    expect(scores.avoid('p', 0)).toBe(true)
    // -100 halves to -50 (still avoided, at the threshold) after one half-life, and rises past it after.
    expect(scores.avoid('p', HALF)).toBe(true)
    expect(scores.avoid('p', HALF + 1)).toBe(false)
  })
  it('does not avoid a peer for timeouts alone until they add up', () => {
    const scores = new PeerScores()
    for (let i = 0; i < 9; i++) scores.record('p', 'timeout', 0)
    expect(scores.avoid('p', 0)).toBe(false)
    scores.record('p', 'timeout', 0)
    expect(scores.avoid('p', 0)).toBe(true)
  })
})
