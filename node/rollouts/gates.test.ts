import { describe, expect, it } from 'vitest'
import { evaluateGates } from './gates.js'
import type { InferenceStats } from '../../protocols/heartbeat/index.js'
import type { DeviceStateKind } from './device.js'
import type { GateResult, GateSample } from './gates.js'
import type { AbortCriterion } from './spec.js'

function stats (n: number, e = 0, extra: Partial<InferenceStats> = {}): InferenceStats {
  return { n, e, p50: 5, p95: 20, p99: 40, nf: 0, mb: 30, ...extra }
}

function sample (i: number, state: DeviceStateKind, st?: InferenceStats): GateSample {
  return st === undefined ? { peerId: `p${i}`, state } : { peerId: `p${i}`, state, stats: st }
}

function states (...kinds: DeviceStateKind[]): GateSample[] {
  return kinds.map((k, i) => sample(i, k))
}

const errorRate = (max: number, minNodes = 1, minRequests = 20): AbortCriterion => ({ metric: 'errorRate', max, minNodes, minRequests })
const failed = (failureType: 'FAILED' | 'TIMED_OUT' | 'ALL', thresholdPercentage: number, minNodes = 1): AbortCriterion => ({ failureType, thresholdPercentage, minNodes })

describe('evaluateGates: errorRate', () => {
  // 6 nodes over minRequests: 412 requests, 13 errors -> 0.0316
  const six = [
    sample(0, 'Active', stats(100, 5)), sample(1, 'Active', stats(80, 3)), sample(2, 'Active', stats(60, 2)),
    sample(3, 'Active', stats(72, 1)), sample(4, 'Active', stats(50, 2)), sample(5, 'Active', stats(50, 0)),
    sample(6, 'Active', stats(10, 10)) // below minRequests: its errors do not count
  ]

  it('trips with a text naming value, bound, nodes and requests', () => {
    expect(evaluateGates([errorRate(0.02)], six)).toEqual({
      kind: 'trip',
      trip: { criterion: 0, text: 'errorRate 0.0316 > max 0.02 over 6 nodes (412 requests)', value: 13 / 412, threshold: 0.02, nodes: 6, requests: 412 }
    })
  })

  it('passes at exactly the max (trips only above it)', () => {
    expect(evaluateGates([errorRate(13 / 412)], six)).toEqual({ kind: 'pass' })
  })

  it('aggregates requests, not per-node rates', () => {
    // one node at 50% over 20 requests, one at 0% over 980: 10/1000 = 1%
    const samples = [sample(0, 'Active', stats(20, 10)), sample(1, 'Active', stats(980, 0))]
    expect(evaluateGates([errorRate(0.011)], samples)).toEqual({ kind: 'pass' })
    expect(evaluateGates([errorRate(0.009)], samples).kind).toBe('trip')
  })

  it('is inconclusive with too few nodes reporting', () => {
    expect(evaluateGates([errorRate(0.02, 3)], [sample(0, 'Active', stats(100)), sample(1, 'Loading')])).toEqual({
      kind: 'inconclusive', reasons: [{ criterion: 0, reason: 'tooFewNodes', text: 'errorRate: 1 node reporting, 3 needed' }]
    })
    expect(evaluateGates([errorRate(0.02)], [])).toMatchObject({ kind: 'inconclusive', reasons: [{ reason: 'tooFewNodes' }] })
  })

  it('is inconclusive without traffic, never a pass on silence', () => {
    const idle = [sample(0, 'Active', stats(0)), sample(1, 'Active', stats(19, 19))]
    expect(evaluateGates([errorRate(0.02)], idle)).toEqual({
      kind: 'inconclusive', reasons: [{ criterion: 0, reason: 'noTraffic', text: 'errorRate: 0 of 1 nodes needed served 20+ requests' }]
    })
  })
})

describe('evaluateGates: other metrics', () => {
  it('nonFiniteRate sums NaN/Inf responses over requests', () => {
    const samples = [sample(0, 'Active', stats(100, 0, { nf: 3 })), sample(1, 'Active', stats(100, 0, { nf: 0 }))]
    expect(evaluateGates([{ metric: 'nonFiniteRate', max: 0.01, minNodes: 2, minRequests: 20 }], samples)).toMatchObject({
      kind: 'trip', trip: { text: 'nonFiniteRate 0.015 > max 0.01 over 2 nodes (200 requests)', value: 0.015 }
    })
  })

  it('p95LatencyMs is the highest p95 among qualifying nodes', () => {
    const samples = [
      sample(0, 'Active', stats(100, 0, { p95: 30 })),
      sample(1, 'Active', stats(100, 0, { p95: 312 })),
      sample(2, 'Active', stats(5, 0, { p95: 9000 })) // too few requests to count
    ]
    const c: AbortCriterion = { metric: 'p95LatencyMs', max: 250, minNodes: 1, minRequests: 20 }
    expect(evaluateGates([c], samples)).toEqual({
      kind: 'trip', trip: { criterion: 0, text: 'p95LatencyMs 312 > max 250 over 2 nodes (200 requests)', value: 312, threshold: 250, nodes: 2, requests: 200 }
    })
    expect(evaluateGates([{ ...c, max: 312 }], samples)).toEqual({ kind: 'pass' })
  })

  it('shadowAgreement is the lowest agreement; nodes without one do not count', () => {
    const samples = [
      sample(0, 'Active', stats(100, 0, { ag: 0.99 })),
      sample(1, 'Active', stats(100, 0, { ag: 0.91 })),
      sample(2, 'Active', stats(100, 0))
    ]
    const c: AbortCriterion = { metric: 'shadowAgreement', min: 0.95, minNodes: 2, minRequests: 20 }
    expect(evaluateGates([c], samples)).toEqual({
      kind: 'trip', trip: { criterion: 0, text: 'shadowAgreement 0.91 < min 0.95 over 2 nodes (200 requests)', value: 0.91, threshold: 0.95, nodes: 2, requests: 200 }
    })
    expect(evaluateGates([{ ...c, minNodes: 3 }], samples)).toMatchObject({ kind: 'inconclusive', reasons: [{ reason: 'tooFewNodes' }] })
    expect(evaluateGates([{ ...c, min: 0.91 }], samples)).toEqual({ kind: 'pass' })
  })
})

describe('evaluateGates: failureType', () => {
  it.each<[string, AbortCriterion, GateSample[], GateResult['kind']]>([
    ['FAILED trips at the threshold', failed('FAILED', 20), states('Failed', 'Active', 'Active', 'Active', 'Active'), 'trip'],
    ['FAILED passes below it', failed('FAILED', 21), states('Failed', 'Active', 'Active', 'Active', 'Active'), 'pass'],
    ['FAILED ignores TimedOut', failed('FAILED', 20), states('TimedOut', 'Active', 'Active', 'Active', 'Active'), 'pass'],
    ['TIMED_OUT counts TimedOut', failed('TIMED_OUT', 20), states('TimedOut', 'Active', 'Active', 'Active', 'Active'), 'trip'],
    ['TIMED_OUT ignores Failed', failed('TIMED_OUT', 20), states('Failed', 'Active', 'Active', 'Active', 'Active'), 'pass'],
    ['ALL counts both', failed('ALL', 40), states('Failed', 'TimedOut', 'Active', 'Active', 'Active'), 'trip'],
    ['the share is of dispatched nodes, in progress included', failed('FAILED', 50), states('Failed', 'Downloading', 'Pending', 'Loading'), 'pass'],
    ['inconclusive while fewer than minNodes have an outcome', failed('FAILED', 10, 3), states('Failed', 'Failed', 'Downloading', 'Loading'), 'inconclusive'],
    ['RolledBack is dispatched but not an outcome', failed('FAILED', 10, 2), states('Failed', 'RolledBack'), 'inconclusive'],
    ['no devices is inconclusive', failed('ALL', 10), [], 'inconclusive'],
    ['threshold 0 trips once conclusive', failed('ALL', 0), states('Active'), 'trip']
  ])('%s', (_name, criterion, samples, kind) => {
    expect(evaluateGates([criterion], samples).kind).toBe(kind)
  })

  it('describes the trip', () => {
    expect(evaluateGates([failed('ALL', 10, 2)], states('Failed', 'TimedOut', 'Active', 'Downloading', 'Pending', 'Active', 'Active', 'Active'))).toEqual({
      kind: 'trip', trip: { criterion: 0, text: 'ALL 2 of 8 dispatched nodes (25%) >= threshold 10%', value: 25, threshold: 10, nodes: 8 }
    })
    expect(evaluateGates([failed('FAILED', 10, 3)], states('Failed'))).toEqual({
      kind: 'inconclusive', reasons: [{ criterion: 0, reason: 'tooFewNodes', text: 'FAILED: 1 of 3 nodes needed have an outcome' }]
    })
  })
})

describe('evaluateGates: several criteria', () => {
  const healthy = [sample(0, 'Active', stats(100)), sample(1, 'Active', stats(100))]

  it('passes with no criteria', () => {
    expect(evaluateGates([], [])).toEqual({ kind: 'pass' })
  })

  it('passes only when every criterion passes', () => {
    expect(evaluateGates([failed('FAILED', 10), errorRate(0.02)], healthy)).toEqual({ kind: 'pass' })
  })

  it('a trip wins over an earlier inconclusive criterion, and names its own index', () => {
    const samples = [...healthy, sample(2, 'Failed')]
    expect(evaluateGates([errorRate(0.02, 5), failed('FAILED', 10)], samples)).toMatchObject({ kind: 'trip', trip: { criterion: 1 } })
  })

  it('the lowest tripping index decides', () => {
    const samples = [sample(0, 'Active', stats(100, 50)), sample(1, 'Failed')]
    expect(evaluateGates([failed('FAILED', 10), errorRate(0.02)], samples)).toMatchObject({ kind: 'trip', trip: { criterion: 0 } })
    expect(evaluateGates([errorRate(0.02), failed('FAILED', 10)], samples)).toMatchObject({ kind: 'trip', trip: { criterion: 0, value: 0.5 } })
  })

  it('lists every inconclusive reason', () => {
    expect(evaluateGates([errorRate(0.02, 5), failed('FAILED', 10), errorRate(0.02, 1, 1000)], healthy)).toEqual({
      kind: 'inconclusive',
      reasons: [
        { criterion: 0, reason: 'tooFewNodes', text: 'errorRate: 2 nodes reporting, 5 needed' },
        { criterion: 2, reason: 'noTraffic', text: 'errorRate: 0 of 1 nodes needed served 1000+ requests' }
      ]
    })
  })

  it('aggregates over 10,000 devices', () => {
    const many = Array.from({ length: 10_000 }, (_, i) => sample(i, i % 100 === 0 ? 'Failed' : 'Active', stats(50, i % 50 === 0 ? 1 : 0)))
    expect(evaluateGates([failed('FAILED', 2, 100), errorRate(0.0001, 100)], many)).toMatchObject({
      kind: 'trip', trip: { criterion: 1, nodes: 10_000, requests: 500_000, value: 200 / 500_000 }
    })
  })
})
