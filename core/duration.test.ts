import { describe, expect, it } from 'vitest'
import { DurationError, formatDuration, MAX_DURATION_MS, parseDuration } from './duration.js'

describe('parseDuration', () => {
  it.each<[string | number, number]>([
    ['500ms', 500],
    ['30s', 30_000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['2m30s', 150_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    ['0.5ms', 1],
    ['2d', 172_800_000],
    [' 10m ', 600_000],
    ['0', 0],
    ['0s', 0],
    [0, 0],
    [1500, 1500],
    [1.4, 1]
  ])('%j -> %i ms', (input, ms) => {
    expect(parseDuration(input)).toBe(ms)
  })

  it.each<[unknown]>([
    [''], ['10'], ['s'], ['10x'], ['1m1h'], ['1s1s'], ['-5s'], ['1 h'], ['1h 30m'], ['5sec'], ['1e3ms'],
    [-1], [Number.NaN], [Number.POSITIVE_INFINITY], ['366d'], [MAX_DURATION_MS + 1], ['1'.repeat(100) + 's'], [null], [{}]
  ])('rejects %j with ERR_DURATION', input => {
    let caught: unknown
    try { parseDuration(input as string) } catch (err) { caught = err }
    expect(caught).toBeInstanceOf(DurationError)
    expect((caught as DurationError).code).toBe('ERR_DURATION')
  })

  it('accepts exactly the maximum', () => {
    expect(parseDuration('365d')).toBe(MAX_DURATION_MS)
  })
})

describe('formatDuration', () => {
  it.each<[number, string]>([
    [0, '0s'],
    [500, '500ms'],
    [30_000, '30s'],
    [150_000, '2m30s'],
    [5_400_000, '1h30m'],
    [3_723_004, '1h2m3s4ms'],
    [172_800_000, '48h'],
    [1000.4, '1s']
  ])('%i ms -> %j', (ms, text) => {
    expect(formatDuration(ms)).toBe(text)
  })

  it('round-trips through parseDuration', () => {
    for (const ms of [1, 999, 1000, 61_001, 3_599_999, 86_400_000, 123_456_789]) expect(parseDuration(formatDuration(ms))).toBe(ms)
  })

  it('rejects negative and non-finite input', () => {
    expect(() => formatDuration(-1)).toThrow(DurationError)
    expect(() => formatDuration(Number.NaN)).toThrow(DurationError)
  })
})
