import { describe, expect, it } from 'vitest'
import { DEFAULT_LOCAL_HEALTH, judgedLiveness, lateThresholdMs, nextHealthScore, validateLocalHealth } from './health.js'
import { DEFAULT_LIVENESS } from './view.js'

describe('local health (Lifeguard)', () => {
  it.each([
    // score, lateness, step, interval -> next
    { why: 'on time stays healthy', score: 0, late: 0, step: 1000, interval: 5000, next: 0 },
    { why: 'late within the threshold (half a step) is on time', score: 0, late: 500, step: 1000, interval: 5000, next: 0 },
    { why: 'late within the 250 ms floor is on time, even for a short step', score: 0, late: 240, step: 10, interval: 5000, next: 0 },
    { why: 'late past the threshold: up by one', score: 0, late: 501, step: 1000, interval: 5000, next: 1 },
    { why: 'late by whole intervals: one more per interval', score: 0, late: 12_000, step: 1000, interval: 5000, next: 3 },
    { why: 'never past maxScore', score: 7, late: 60_000, step: 1000, interval: 5000, next: 8 },
    { why: 'on time: down by one', score: 3, late: 0, step: 1000, interval: 5000, next: 2 },
    { why: 'never below 0', score: 0, late: 0, step: 5000, interval: 5000, next: 0 }
  ])('$why', ({ score, late, step, interval, next }) => {
    expect(nextHealthScore(score, late, step, interval)).toBe(next)
  })

  it('turned off with maxScore 0', () => {
    expect(nextHealthScore(0, 60_000, 1000, 1000, { ...DEFAULT_LOCAL_HEALTH, maxScore: 0 })).toBe(0)
  })

  it('stretches suspect and dead by (1 + score), leaves forgetting alone, and is the identity at 0', () => {
    expect(judgedLiveness(DEFAULT_LIVENESS, 0)).toBe(DEFAULT_LIVENESS)
    expect(judgedLiveness(DEFAULT_LIVENESS, 2)).toEqual({ ...DEFAULT_LIVENESS, suspectAfterIntervals: 9, deadAfterIntervals: 18 })
    expect(lateThresholdMs(10_000)).toBe(5000)
  })

  it('refuses invalid settings', () => {
    expect(() => validateLocalHealth({ ...DEFAULT_LOCAL_HEALTH, maxScore: 1.5 })).toThrow(RangeError)
    expect(() => validateLocalHealth({ ...DEFAULT_LOCAL_HEALTH, lateMinMs: -1 })).toThrow(RangeError)
    expect(() => validateLocalHealth({ ...DEFAULT_LOCAL_HEALTH, lateFraction: Number.NaN })).toThrow(RangeError)
  })
})
