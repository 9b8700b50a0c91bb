/**
 * A fixed-bucket latency histogram: buckets grow geometrically by 2^(1/8) from 10 µs to 10 min, so
 * any percentile it reports is within 9 % of the true value (HDR-like, in 210 numbers), recording
 * is O(log buckets) with no allocation, and two histograms merge by adding counts. Pure: no clock.
 */

/** Lower edge of the first bucket, ms. Smaller values count in the first bucket. */
export const HISTOGRAM_MIN_MS = 0.01
/** Growth per bucket: 8 buckets per doubling. */
export const HISTOGRAM_GROWTH = 2 ** (1 / 8)
/** Values above this land in the last (overflow) bucket. */
export const HISTOGRAM_MAX_MS = 600_000

const BUCKETS = Math.ceil(Math.log(HISTOGRAM_MAX_MS / HISTOGRAM_MIN_MS) / Math.log(HISTOGRAM_GROWTH)) + 1

/** Percentiles and totals of a histogram at one moment. Latencies in ms; undefined when empty. */
export interface HistogramSnapshot {
  count: number
  p50?: number
  p95?: number
  p99?: number
  min?: number
  max?: number
  mean?: number
}

/** The nearest rank of quantile q (0..1) among n values: 1-based, at least 1. */
export function nearestRank (q: number, n: number): number {
  return Math.max(1, Math.ceil(Math.min(1, Math.max(0, q)) * n))
}

/**
 * The exact nearest-rank percentile of `values` (in any order) at quantile q (0..1): the
 * {@link nearestRank}-th smallest. What the histogram approximates; undefined when empty.
 */
export function exactPercentile (values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length, nearestRank(q, sorted.length)) - 1]
}

export class LatencyHistogram {
  private readonly counts = new Float64Array(BUCKETS)
  private n = 0
  private total = 0
  private lo = Infinity
  private hi = -Infinity

  /** Upper edge of bucket `i`, ms. */
  static upperBound (i: number): number {
    return HISTOGRAM_MIN_MS * HISTOGRAM_GROWTH ** i
  }

  /** The bucket a value falls in: the first whose upper edge is at least the value. */
  static bucketOf (ms: number): number {
    if (!(ms > HISTOGRAM_MIN_MS)) return 0
    const i = Math.ceil(Math.log(ms / HISTOGRAM_MIN_MS) / Math.log(HISTOGRAM_GROWTH) - 1e-9)
    return Math.min(BUCKETS - 1, i)
  }

  get count (): number {
    return this.n
  }

  /** Records one value in ms; negative or non-finite values are ignored. */
  record (ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) return
    const i = LatencyHistogram.bucketOf(ms)
    this.counts[i] = (this.counts[i] ?? 0) + 1
    this.n++
    this.total += ms
    if (ms < this.lo) this.lo = ms
    if (ms > this.hi) this.hi = ms
  }

  /**
   * The value at quantile q (0..1): the upper edge of the bucket holding the ceil(q·n)-th
   * smallest value, clamped to the exact min and max seen. Undefined when empty.
   */
  percentile (q: number): number | undefined {
    if (this.n === 0) return undefined
    const rank = nearestRank(q, this.n)
    let seen = 0
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i] ?? 0
      if (seen >= rank) return Math.min(this.hi, Math.max(this.lo, LatencyHistogram.upperBound(i)))
    }
    return this.hi
  }

  /** Adds another histogram's counts to this one. */
  merge (other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] = (this.counts[i] ?? 0) + (other.counts[i] ?? 0)
    this.n += other.n
    this.total += other.total
    this.lo = Math.min(this.lo, other.lo)
    this.hi = Math.max(this.hi, other.hi)
  }

  reset (): void {
    this.counts.fill(0)
    this.n = 0
    this.total = 0
    this.lo = Infinity
    this.hi = -Infinity
  }

  snapshot (): HistogramSnapshot {
    if (this.n === 0) return { count: 0 }
    return {
      count: this.n,
      p50: this.percentile(0.5),
      p95: this.percentile(0.95),
      p99: this.percentile(0.99),
      min: this.lo,
      max: this.hi,
      mean: this.total / this.n
    }
  }
}
