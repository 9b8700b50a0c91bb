import { describe, expect, it } from 'vitest'
import { seededRandom } from './testing/models.js'
import { exactPercentile, HISTOGRAM_GROWTH, LatencyHistogram } from './histogram.js'

describe('latency histogram', () => {
  it('reports nothing but a zero count when empty', () => {
    const h = new LatencyHistogram()
    expect(h.snapshot()).toEqual({ count: 0 })
    expect(h.percentile(0.5)).toBeUndefined()
  })

  it('places each value in the first bucket whose upper edge holds it', () => {
    for (const v of [0.011, 0.5, 1, 3.7, 100, 12_345]) {
      const i = LatencyHistogram.bucketOf(v)
      expect(LatencyHistogram.upperBound(i)).toBeGreaterThanOrEqual(v * (1 - 1e-12))
      expect(LatencyHistogram.upperBound(i - 1)).toBeLessThan(v)
    }
    expect(LatencyHistogram.bucketOf(0)).toBe(0)
    expect(LatencyHistogram.bucketOf(1e12)).toBe(LatencyHistogram.bucketOf(1e13))
  })

  it('keeps percentiles within one bucket (9 %) of the exact ones', () => {
    const random = seededRandom(42)
    const values: number[] = []
    const h = new LatencyHistogram()
    for (let i = 0; i < 5000; i++) {
      const v = Math.exp(random() * 8) * 0.05 // 0.05 ms .. 150 ms, log-uniform
      values.push(v)
      h.record(v)
    }
    values.sort((a, b) => a - b)
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = exactPercentile(values, q)!
      const got = h.percentile(q)!
      expect(got).toBeGreaterThanOrEqual(exact * (1 - 1e-9))
      expect(got).toBeLessThanOrEqual(exact * HISTOGRAM_GROWTH)
    }
    const s = h.snapshot()
    expect(s.count).toBe(5000)
    expect(s.min).toBe(values[0])
    expect(s.max).toBe(values[values.length - 1])
  })

  it('never reports a percentile outside the values seen', () => {
    const h = new LatencyHistogram()
    h.record(7.3)
    expect(h.percentile(0)).toBe(7.3)
    expect(h.percentile(0.5)).toBe(7.3)
    expect(h.percentile(1)).toBe(7.3)
  })

  it('ignores negative and non-finite values', () => {
    const h = new LatencyHistogram()
    h.record(-1)
    h.record(Number.NaN)
    h.record(Number.POSITIVE_INFINITY)
    expect(h.count).toBe(0)
  })

  it('merges two histograms into the histogram of both', () => {
    const a = new LatencyHistogram()
    const b = new LatencyHistogram()
    const both = new LatencyHistogram()
    for (let i = 1; i <= 100; i++) {
      (i % 2 === 0 ? a : b).record(i)
      both.record(i)
    }
    a.merge(b)
    expect(a.snapshot()).toEqual(both.snapshot())
    a.reset()
    expect(a.count).toBe(0)
  })
})
