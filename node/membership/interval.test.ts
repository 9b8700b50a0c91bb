import { describe, expect, it } from 'vitest'
import { DEFAULT_INTERVAL, jittered, nextIntervalMs, receivedBytesPerSec, targetIntervalMs, validateInterval } from './interval.js'
import type { IntervalParams } from './interval.js'

// The size membership assumes before its first heartbeat is encoded; a realistic heartbeat with
// labels and device properties measures ~220 bytes (see heartbeat.test.ts), so this is conservative.
const BYTES = 300
const { baseIntervalMs: BASE, maxIntervalMs: MAX, budgetBytesPerSec: BUDGET, amplification: AMP } = DEFAULT_INTERVAL

// With the defaults (5 s base, 60 s cap, 4096 B/s budget, amplification 3) and 300-byte heartbeats:
//   interval = N * 300 * 3 * 1000 / 4096 ms = N * 219.7 ms
//   the base holds up to N = 22, the cap binds from N = 274 (273 * 219.7 = 59,985 ms).
const LAST_BASE_N = 22
const CAP_BINDS_N = 274

function received (n: number, intervalMs: number): number {
  return receivedBytesPerSec(n, BYTES, intervalMs, AMP)
}

describe('targetIntervalMs', () => {
  it.each([0, 1, 2, 10, LAST_BASE_N])('is the base interval for a small fleet of %i', n => {
    expect(targetIntervalMs(n, BYTES)).toBe(BASE)
  })

  it('grows in proportion to the fleet size between the base and the cap', () => {
    expect(targetIntervalMs(LAST_BASE_N + 1, BYTES)).toBeGreaterThan(BASE)
    expect(targetIntervalMs(100, BYTES)).toBe(21_973)
    expect(targetIntervalMs(200, BYTES)).toBe(43_946)
    let previous = 0
    for (let n = 1; n <= 2 * CAP_BINDS_N; n++) {
      const t = targetIntervalMs(n, BYTES)
      expect(t).toBeGreaterThanOrEqual(previous)
      previous = t
    }
  })

  it('grows with the heartbeat size too', () => {
    expect(targetIntervalMs(100, 2 * BYTES)).toBeGreaterThan(targetIntervalMs(100, BYTES))
  })

  it(`is capped at the max interval from N = ${CAP_BINDS_N} on`, () => {
    expect(targetIntervalMs(CAP_BINDS_N - 1, BYTES)).toBeLessThan(MAX)
    for (const n of [CAP_BINDS_N, 1000, 5000, 1_000_000]) expect(targetIntervalMs(n, BYTES)).toBe(MAX)
  })

  it('returns whole milliseconds', () => {
    for (let n = 1; n < 400; n += 7) expect(Number.isInteger(targetIntervalMs(n, 217))).toBe(true)
  })
})

describe('received heartbeat bytes per node', () => {
  it.each([10, 100])(`stay within the budget at N = %i (the cap binds only from N = ${CAP_BINDS_N})`, n => {
    const rate = received(n, targetIntervalMs(n, BYTES))
    expect(rate).toBeLessThanOrEqual(BUDGET)
    if (n > LAST_BASE_N) expect(rate).toBeGreaterThan(BUDGET * 0.99) // the budget is used, not wasted
  })

  it(`stay within the budget for every N below ${CAP_BINDS_N}`, () => {
    for (let n = 1; n < CAP_BINDS_N; n++) {
      expect(received(n, targetIntervalMs(n, BYTES)), `N = ${n}`).toBeLessThanOrEqual(BUDGET)
    }
  })

  it.each([
    [1000, 15_000],
    [5000, 75_000]
  ])(`exceed the budget once the cap binds: N = %i at 60 s receives %i B/s`, (n, rate) => {
    expect(targetIntervalMs(n, BYTES)).toBe(MAX)
    expect(received(n, targetIntervalMs(n, BYTES))).toBe(rate)
  })

  it('stay within the budget as a fleet grows one node at a time, hysteresis included', () => {
    let current = BASE
    for (let n = 1; n < CAP_BINDS_N; n++) {
      current = nextIntervalMs(current, n, BYTES)
      expect(received(n, current), `N = ${n}, interval ${current}`).toBeLessThanOrEqual(BUDGET)
    }
  })
})

describe('nextIntervalMs', () => {
  const at100 = targetIntervalMs(100, BYTES)

  it('starts from the base for a small fleet', () => {
    expect(nextIntervalMs(BASE, 3, BYTES)).toBe(BASE)
  })

  it('lengthens at once when the fleet grows, even by one node', () => {
    expect(nextIntervalMs(at100, 101, BYTES)).toBe(targetIntervalMs(101, BYTES))
    expect(nextIntervalMs(BASE, 25, BYTES)).toBe(targetIntervalMs(25, BYTES))
  })

  it('keeps the interval when the fleet shrinks by less than the hysteresis band (20%)', () => {
    expect(targetIntervalMs(85, BYTES)).toBeLessThan(at100)
    expect(nextIntervalMs(at100, 85, BYTES)).toBe(at100)
    expect(nextIntervalMs(MAX, 250, BYTES)).toBe(MAX)
  })

  it('shortens when the fleet shrinks by more than the band', () => {
    expect(nextIntervalMs(at100, 75, BYTES)).toBe(targetIntervalMs(75, BYTES))
    expect(nextIntervalMs(MAX, 200, BYTES)).toBe(targetIntervalMs(200, BYTES))
  })

  it('returns to the base when the fleet is small again, even from within the band', () => {
    expect(nextIntervalMs(5500, 10, BYTES)).toBe(BASE)
  })

  it('does not flap when the fleet size wobbles', () => {
    let current = nextIntervalMs(BASE, 100, BYTES)
    const seen = new Set<number>()
    for (let i = 0; i < 20; i++) {
      current = nextIntervalMs(current, i % 2 === 0 ? 100 : 97, BYTES)
      seen.add(current)
    }
    expect([...seen]).toEqual([at100])
  })

  it('with hysteresis 0 always follows the target', () => {
    const params: IntervalParams = { ...DEFAULT_INTERVAL, hysteresis: 0 }
    expect(nextIntervalMs(at100, 99, BYTES, params)).toBe(targetIntervalMs(99, BYTES, params))
  })
})

describe('jittered', () => {
  it('spreads an interval over +-10%', () => {
    expect(jittered(1000, () => 0)).toBe(900)
    expect(jittered(1000, () => 0.5)).toBe(1000)
    expect(jittered(1000, () => 0.99999)).toBe(1100)
  })
})

describe('validateInterval', () => {
  it('accepts the defaults', () => {
    expect(validateInterval(DEFAULT_INTERVAL)).toBe(DEFAULT_INTERVAL)
  })

  it.each<[string, Partial<IntervalParams>, RegExp]>([
    ['a base below 50 ms', { baseIntervalMs: 49 }, /baseIntervalMs/],
    ['a max below the base', { baseIntervalMs: 5000, maxIntervalMs: 4999 }, /maxIntervalMs/],
    ['a zero budget', { budgetBytesPerSec: 0 }, /budgetBytesPerSec/],
    ['amplification below 1', { amplification: 0.5 }, /amplification/],
    ['hysteresis of 1', { hysteresis: 1 }, /hysteresis/],
    ['negative hysteresis', { hysteresis: -0.1 }, /hysteresis/],
    ['NaN', { baseIntervalMs: Number.NaN }, /baseIntervalMs/]
  ])('rejects %s', (_what, patch, message) => {
    expect(() => validateInterval({ ...DEFAULT_INTERVAL, ...patch })).toThrow(message)
  })
})
