/**
 * What the runtime measures per model version, the numbers rollouts judge a version by: requests,
 * errors, latency percentiles, outputs holding NaN/Inf, memory, CPU, and, for a shadow candidate,
 * how often it agrees with the active version.
 */
import { LatencyHistogram } from './histogram.js'
import type { Comparison } from './compare.js'
import type { InferenceStats } from '../../protocols/heartbeat/index.js'
import type { HistogramSnapshot } from './histogram.js'

/** Where a version stands: serving routed traffic, shadowing it, loaded for explicit calls only, leaving, or gone. */
export type VersionRole = 'active' | 'shadow' | 'loaded' | 'draining' | 'retired'

export interface ShadowSnapshot {
  /** Requests sampled for the shadow. */
  sampled: number
  /** Sampled requests whose results were compared (both sides succeeded). */
  compared: number
  /** Compared requests whose top-1 decision agreed. */
  agreed: number
  /** agreed / compared, undefined before the first comparison. */
  agreementRate?: number
  /** Largest absolute difference seen over all comparisons. */
  maxAbsDiff: number
  /** Mean over comparisons of each one's largest absolute difference. */
  meanMaxAbsDiff?: number
  /** Comparisons where outputs did not even match in names or shapes. */
  incomparable: number
  /** Shadow runs that failed (the active side's result was returned regardless). */
  failed: number
  /** Samples skipped because the shadow was still busy with earlier ones. */
  skipped: number
}

export interface VersionMetricsSnapshot {
  name: string
  version: string
  role: VersionRole
  /** Requests routed to this version (including rejected ones). */
  requests: number
  /** Requests that failed in the runtime (inference error, timeout, overload). */
  errors: number
  /** Requests refused because their tensors did not fit the model (the caller's fault). */
  rejected: number
  /** Successful requests with NaN or ±Inf in a floating-point output. */
  nonFinite: number
  /** End-to-end latency of successful requests, as the runtime's caller sees it (queue + run). */
  latencyMs: HistogramSnapshot
  memory: {
    /** The manifest's estimate, which admission was decided on. */
    estimateBytes: number
    limitBytes?: number
    /** Process RSS growth while the session was created (noisy: the whole process counts). */
    measuredBytes?: number
  }
  cpu: {
    limitCores?: number
    intraOpThreads: number
    throttled: boolean
    /** Sum of session.run() wall times, ms. */
    busyMs: number
    /** Sum of CPU charged to runs (measured when throttled, else wall × threads; see throttleDelayMs), ms. */
    cpuMs: number
    /** Sum of duty-cycle pauses, ms. */
    throttledMs: number
  }
  shadow?: ShadowSnapshot
}

/**
 * A compact per-version summary for the heartbeat (the heartbeat's own InferenceStats): a few numbers, 50-70 bytes as JSON.
 * n requests, e errors, p50/p95/p99 latency in ms (2 significant digits), nf outputs with NaN/Inf,
 * mb memory in MiB (measured if known, else the estimate); for shadows: ag agreement rate, sc samples
 * compared, fr the fraction of requests sampled (set by the runtime, which knows it).
 */
export type VersionSummary = InferenceStats

export interface VersionMetricsInit {
  name: string
  version: string
  estimateBytes: number
  limitBytes?: number
  limitCores?: number
  intraOpThreads: number
  throttled: boolean
}

/** Two significant digits: the histogram only resolves ~9 % anyway, and the heartbeat stays small. */
function sig2 (v: number | undefined): number {
  return v === undefined || v === 0 ? 0 : Number(v.toPrecision(2))
}

export class VersionMetrics {
  role: VersionRole = 'loaded'
  measuredBytes?: number
  private requests = 0
  private errors = 0
  private rejected = 0
  private nonFinite = 0
  private busyMs = 0
  private cpuMs = 0
  private throttledMs = 0
  private readonly latency = new LatencyHistogram()
  private shadow?: ShadowSnapshot & { sumMaxAbsDiff: number }

  constructor (readonly init: VersionMetricsInit) {}

  request (): void { this.requests++ }
  error (): void { this.errors++ }
  reject (): void { this.rejected++ }

  success (latencyMs: number, nonFinite: boolean): void {
    this.latency.record(latencyMs)
    if (nonFinite) this.nonFinite++
  }

  run (wallMs: number, cpuMs: number, throttledMs: number): void {
    this.busyMs += wallMs
    this.cpuMs += cpuMs
    this.throttledMs += throttledMs
  }

  private shadowStats (): ShadowSnapshot & { sumMaxAbsDiff: number } {
    this.shadow ??= { sampled: 0, compared: 0, agreed: 0, maxAbsDiff: 0, incomparable: 0, failed: 0, skipped: 0, sumMaxAbsDiff: 0 }
    return this.shadow
  }

  shadowSampled (): void { this.shadowStats().sampled++ }
  shadowSkipped (): void { this.shadowStats().skipped++ }
  shadowFailed (): void { this.shadowStats().failed++ }

  shadowCompared (c: Comparison): void {
    const s = this.shadowStats()
    if (!c.comparable) {
      s.incomparable++
      return
    }
    s.compared++
    if (c.top1Agree) s.agreed++
    s.maxAbsDiff = Math.max(s.maxAbsDiff, c.maxAbsDiff)
    s.sumMaxAbsDiff += c.maxAbsDiff
  }

  snapshot (): VersionMetricsSnapshot {
    const snap: VersionMetricsSnapshot = {
      name: this.init.name,
      version: this.init.version,
      role: this.role,
      requests: this.requests,
      errors: this.errors,
      rejected: this.rejected,
      nonFinite: this.nonFinite,
      latencyMs: this.latency.snapshot(),
      memory: { estimateBytes: this.init.estimateBytes, limitBytes: this.init.limitBytes, measuredBytes: this.measuredBytes },
      cpu: {
        limitCores: this.init.limitCores,
        intraOpThreads: this.init.intraOpThreads,
        throttled: this.init.throttled,
        busyMs: this.busyMs,
        cpuMs: this.cpuMs,
        throttledMs: this.throttledMs
      }
    }
    if (this.shadow != null) {
      const { sumMaxAbsDiff, ...s } = this.shadow
      snap.shadow = {
        ...s,
        agreementRate: s.compared === 0 ? undefined : s.agreed / s.compared,
        meanMaxAbsDiff: s.compared === 0 ? undefined : sumMaxAbsDiff / s.compared
      }
    }
    return snap
  }

  summary (): VersionSummary {
    const l = this.latency.snapshot()
    const summary: VersionSummary = {
      n: this.requests,
      e: this.errors,
      p50: sig2(l.p50),
      p95: sig2(l.p95),
      p99: sig2(l.p99),
      nf: this.nonFinite,
      mb: Math.round((this.measuredBytes ?? this.init.estimateBytes) / (1024 * 1024))
    }
    if (this.shadow != null) {
      summary.sc = this.shadow.compared
      if (this.shadow.compared > 0) summary.ag = Math.round(this.shadow.agreed / this.shadow.compared * 1000) / 1000
    }
    return summary
  }
}
