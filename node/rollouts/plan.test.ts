import { describe, expect, it } from 'vitest'
import { manifestCid } from '../../core/cid.js'
import { seededRandom } from '../../core/random.js'
import { hrwRank, hrwTop } from './hrw.js'
import { RATE_WINDOW_MS } from './constants.js'
import { decide, effectiveSteps, nextPhase, ratePerMinute, rateBudget, rolloutProgressSummary, wantedCount } from './plan.js'
import type { DeviceStateKind } from './device.js'
import type { GateSample } from './gates.js'
import type { ControllerInput, Decision, RolloutControl, RolloutPhase } from './plan.js'
import type { AbortCriterion, RolloutRate, RolloutSpec, Step } from './spec.js'

const ROLLOUT = 'face-v2'
const T0 = 1_700_000_000_000
const CID = manifestCid(new TextEncoder().encode('{"name":"face"}'))
const peers = (n: number, prefix = 'p'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i.toString().padStart(4, '0')}`)
const P100 = peers(100)
const RANKED = hrwRank(`${ROLLOUT}/waves`, P100)

function spec (steps: Step[], options: { rate?: RolloutRate, abort?: AbortCriterion[], rollback?: 'automatic' | 'manual' } = {}): RolloutSpec {
  return {
    model: { name: 'face', version: '2.0.0', cid: CID },
    selector: {},
    resources: { limits: {} },
    strategy: {
      steps,
      rate: options.rate ?? { unlimited: true },
      activationTimeoutMs: 600_000,
      abort: options.abort ?? [],
      rollback: options.rollback ?? 'automatic'
    }
  }
}

const CONTROL: RolloutControl = { paused: false, resumedThrough: -1, undo: false, deleted: false }

function input (over: Partial<Omit<ControllerInput, 'policy' | 'progress'>> & {
  spec?: RolloutSpec, control?: Partial<RolloutControl>, phase?: RolloutPhase, step?: number, stepStartedAt?: number
} = {}): ControllerInput {
  return {
    rollout: ROLLOUT,
    policy: { spec: over.spec ?? spec([{ setPercent: 10 }, { setPercent: 100 }]), control: { ...CONTROL, ...over.control } },
    progress: { phase: over.phase ?? 'Progressing', step: over.step ?? 0, stepStartedAt: over.stepStartedAt ?? T0 },
    targets: over.targets ?? P100,
    unreachable: over.unreachable,
    devices: over.devices ?? new Map(),
    recentDispatches: over.recentDispatches ?? [],
    succeeded: over.succeeded ?? 0,
    samples: over.samples ?? [],
    now: over.now ?? T0
  }
}

function devices (ids: readonly string[], kind: DeviceStateKind): Map<string, DeviceStateKind> {
  return new Map(ids.map(id => [id, kind]))
}

const healthy = (ids: readonly string[]): GateSample[] => ids.map(peerId => ({ peerId, state: 'Active', stats: { n: 100, e: 0, p50: 5, p95: 10, p99: 20, nf: 0, mb: 30 } }))
const ERROR_RATE: AbortCriterion = { metric: 'errorRate', max: 0.02, minNodes: 3, minRequests: 20 }

describe('wantedCount, ratePerMinute, rateBudget, effectiveSteps', () => {
  it.each<[number, number, number]>([
    [10, 100, 10], [7, 100, 7], [5, 20, 1], [1, 3, 1], [33, 3, 1], [34, 3, 2], [100, 37, 37], [2.5, 10_000, 250], [50, 0, 0], [1, 1, 1]
  ])('ceil(%d%% of %i) = %i', (percent, targets, expected) => {
    expect(wantedCount(percent, targets)).toBe(expected)
  })

  it.each<[RolloutRate, number, number]>([
    [{ unlimited: true }, 0, Number.POSITIVE_INFINITY],
    [{ maxPerMinute: 7 }, 1000, 7],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10 } }, 0, 5],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10 } }, 9, 5],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10 } }, 10, 10],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10 } }, 35, 40],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 1.5, numberOfSucceededNodes: 10 } }, 20, 11],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10, maxPerMinute: 30 } }, 35, 30],
    [{ exponential: { baseRatePerMinute: 5, incrementFactor: 100, numberOfSucceededNodes: 1 } }, 10_000, Number.MAX_SAFE_INTEGER]
  ])('rate %j after %i succeeded = %d per minute', (rate, succeeded, expected) => {
    expect(ratePerMinute(rate, succeeded)).toBe(expected)
  })

  it('counts only commands inside the last minute', () => {
    const now = T0 + 120_000
    const recent = [now - RATE_WINDOW_MS, now - RATE_WINDOW_MS + 1, now - 5, now, now + 1]
    expect(rateBudget({ maxPerMinute: 5 }, 0, recent, now)).toBe(2) // counted: -59999, -5, 0
    expect(rateBudget({ maxPerMinute: 2 }, 0, recent, now)).toBe(0)
    expect(rateBudget({ unlimited: true }, 0, recent, now)).toBe(Number.POSITIVE_INFINITY)
  })

  it('appends a final 100% step unless the last setPercent is 100', () => {
    expect(effectiveSteps([{ setPercent: 10 }, { pause: { durationMs: 60_000 } }])).toEqual([{ setPercent: 10 }, { pause: { durationMs: 60_000 } }, { setPercent: 100 }])
    expect(effectiveSteps([{ setPercent: 100 }, { pause: { durationMs: 60_000 } }])).toEqual([{ setPercent: 100 }, { pause: { durationMs: 60_000 } }])
    expect(effectiveSteps([{ pause: {} }])).toEqual([{ pause: {} }, { setPercent: 100 }])
  })
})

describe('decide: waves', () => {
  it('dispatches the first wave in HRW order', () => {
    expect(decide(input())).toEqual({ kind: 'dispatch', peers: RANKED.slice(0, 10) })
  })

  it('picks 2.5% of 10,000 targets as the top of the HRW ranking', () => {
    const fleet = peers(10_000, '12D3KooW')
    const d = decide(input({ targets: fleet, spec: spec([{ setPercent: 2.5 }]) }))
    expect(d).toEqual({ kind: 'dispatch', peers: hrwRank(`${ROLLOUT}/waves`, fleet).slice(0, 250) })
  })

  it('the canary set does not depend on the order targets are listed in', () => {
    expect(decide(input({ targets: [...P100].reverse() }))).toEqual(decide(input()))
  })

  it('respects maxPerMinute, counting the last minute only', () => {
    const s = spec([{ setPercent: 10 }], { rate: { maxPerMinute: 4 } })
    expect(decide(input({ spec: s }))).toEqual({ kind: 'dispatch', peers: RANKED.slice(0, 4) })
    const sent = devices(RANKED.slice(0, 4), 'Pending')
    expect(decide(input({ spec: s, devices: sent, recentDispatches: [T0 - 100, T0 - 90, T0 - 80], now: T0 }))).toEqual({ kind: 'dispatch', peers: [RANKED[4]] })
    expect(decide(input({ spec: s, devices: sent, recentDispatches: [T0 - 100, T0 - 90, T0 - 80, T0 - 70] }))).toEqual({
      kind: 'hold', reason: 'rate limit: 4 commands per minute reached'
    })
    expect(decide(input({ spec: s, devices: sent, recentDispatches: [T0 - 100, T0 - 90, T0 - 80, T0 - 70], now: T0 + RATE_WINDOW_MS }))).toEqual({
      kind: 'dispatch', peers: RANKED.slice(4, 8)
    })
  })

  it('follows the exponential rate as devices succeed', () => {
    const s = spec([{ setPercent: 100 }], { rate: { exponential: { baseRatePerMinute: 2, incrementFactor: 3, numberOfSucceededNodes: 2 } } })
    expect(decide(input({ spec: s }))).toMatchObject({ kind: 'dispatch', peers: RANKED.slice(0, 2) })
    const two = devices(RANKED.slice(0, 2), 'Active')
    expect(decide(input({ spec: s, devices: two, succeeded: 2 }))).toEqual({ kind: 'dispatch', peers: RANKED.slice(2, 8) })
  })

  it('holds while the wave is in progress, then advances', () => {
    const wave = devices(RANKED.slice(0, 10), 'Active')
    wave.set(RANKED[3]!, 'Downloading')
    wave.set(RANKED[4]!, 'SmokeTest')
    expect(decide(input({ devices: wave }))).toEqual({ kind: 'hold', reason: 'waiting for 2 of 10 device(s) to finish activating' })
    wave.set(RANKED[3]!, 'Active')
    wave.set(RANKED[4]!, 'Active')
    expect(decide(input({ devices: wave }))).toEqual({ kind: 'advance', toStep: 1, reason: '10% reached: 10 of 100 targets updated' })
  })

  it('replaces failed and timed-out devices (they are not updated) and does not retry them', () => {
    const wave = devices(RANKED.slice(0, 10), 'Active')
    wave.set(RANKED[0]!, 'Failed')
    wave.set(RANKED[1]!, 'TimedOut')
    expect(decide(input({ devices: wave }))).toEqual({ kind: 'dispatch', peers: RANKED.slice(10, 12) })
  })

  it('advances when the pool is exhausted and nothing is in progress', () => {
    const few = P100.slice(0, 3)
    const all = devices(few, 'Failed')
    expect(decide(input({ targets: few, devices: all }))).toMatchObject({ kind: 'advance', toStep: 1 })
  })

  it('a late joiner falls into the current step: the count grows and the top-ranked undispatched go next', () => {
    const wave = devices(RANKED.slice(0, 10), 'Active')
    const grown = [...P100, ...peers(20, 'late')]
    const d = decide(input({ targets: grown, devices: wave }))
    const expected = hrwRank(`${ROLLOUT}/waves`, grown).filter(id => !wave.has(id)).slice(0, 2) // ceil(10% of 120) = 12
    expect(d).toEqual({ kind: 'dispatch', peers: expected })
  })

  it('a device that stops matching keeps its version and is not counted', () => {
    const wave = devices(RANKED.slice(0, 10), 'Active')
    const shrunk = P100.filter(id => id !== RANKED[0]) // 99 targets -> still 10 wanted, 9 counted
    expect(decide(input({ targets: shrunk, devices: wave }))).toEqual({ kind: 'dispatch', peers: [RANKED[10]] })
    const decisions: Decision[] = [decide(input({ targets: shrunk, devices: wave }))]
    expect(decisions.every(x => x.kind !== 'revert')).toBe(true)
  })

  it('holds with no targets rather than completing an empty rollout', () => {
    expect(decide(input({ targets: [] }))).toEqual({ kind: 'hold', reason: 'no alive node matches the selector' })
  })

  it('completes after the last step (including the implicit 100%)', () => {
    const s = spec([{ setPercent: 10 }])
    const all = devices(P100, 'Active')
    expect(decide(input({ spec: s, devices: all, step: 0 }))).toEqual({ kind: 'advance', toStep: 1, reason: '10% reached: 100 of 100 targets updated' })
    expect(decide(input({ spec: s, devices: all, step: 1 }))).toEqual({ kind: 'complete' })
    expect(decide(input({ spec: s, devices: all, step: 7 }))).toEqual({ kind: 'complete' })
  })
})

describe('decide: pauses and gates', () => {
  const bake = spec([{ setPercent: 10 }, { pause: { durationMs: 600_000 } }, { setPercent: 100 }], { abort: [ERROR_RATE] })
  const canaries = RANKED.slice(0, 10)
  const wave = devices(canaries, 'Active')

  it('bakes: holds until the window is over', () => {
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: healthy(canaries), now: T0 + 599_000 }))).toEqual({ kind: 'hold', reason: 'baking: 1s left' })
  })

  it('advances at the end of the window when the criteria pass', () => {
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: healthy(canaries), now: T0 + 600_000 }))).toEqual({
      kind: 'advance', toStep: 2, reason: 'baked 600s, criteria pass'
    })
  })

  it('never advances on silence: inconclusive criteria hold after the window', () => {
    const d = decide(input({ spec: bake, step: 1, devices: wave, samples: healthy(canaries.slice(0, 2)), now: T0 + 900_000 }))
    expect(d).toEqual({
      kind: 'hold',
      reason: 'bake window over, criteria inconclusive: errorRate: 2 nodes reporting, 3 needed (`tutti rollout resume` goes on without them)',
      inconclusive: [{ criterion: 0, reason: 'tooFewNodes', text: 'errorRate: 2 nodes reporting, 3 needed' }]
    })
  })

  it('an operator resume takes an inconclusive bake as a pass, once its window is over; a trip still aborts', () => {
    const few = healthy(canaries.slice(0, 2))
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: few, now: T0 + 900_000, control: { resumedThrough: 1 } }))).toEqual({
      kind: 'advance', toStep: 2, reason: 'resumed through step 1 with the criteria inconclusive: errorRate: 2 nodes reporting, 3 needed'
    })
    // An earlier resume (of a step before this one) does not count.
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: few, now: T0 + 900_000, control: { resumedThrough: 0 } }))).toMatchObject({ kind: 'hold' })
    // It never cuts the window short.
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: few, now: T0 + 599_000, control: { resumedThrough: 1 } }))).toEqual({ kind: 'hold', reason: 'baking: 1s left' })
    const bad = healthy(canaries).map(s => ({ ...s, stats: { ...s.stats!, e: 10 } }))
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: bad, now: T0 + 900_000, control: { resumedThrough: 1 } }))).toMatchObject({ kind: 'abort' })
  })

  it('trips at any time: during the bake window, during a wave, while paused', () => {
    const bad = healthy(canaries).map(s => ({ ...s, stats: { ...s.stats!, e: 10 } }))
    const trip = { criterion: 0, text: 'errorRate 0.1 > max 0.02 over 10 nodes (1000 requests)', value: 0.1, threshold: 0.02, nodes: 10, requests: 1000 }
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: bad, now: T0 + 1000 }))).toEqual({ kind: 'abort', trip })
    expect(decide(input({ spec: bake, step: 0, devices: devices(canaries.slice(0, 5), 'Active'), samples: bad }))).toEqual({ kind: 'abort', trip })
    expect(decide(input({ spec: bake, step: 1, devices: wave, samples: bad, control: { paused: true } }))).toEqual({ kind: 'abort', trip })
  })

  it('tops up during a bake window when a device fails or a target joins', () => {
    const lost = new Map(wave)
    lost.set(canaries[0]!, 'Failed')
    expect(decide(input({ spec: bake, step: 1, devices: lost, samples: healthy(canaries.slice(1)), now: T0 + 1000 }))).toEqual({ kind: 'dispatch', peers: [RANKED[10]] })
  })

  it('an indefinite pause waits for resumedThrough >= step', () => {
    const s = spec([{ setPercent: 10 }, { pause: {} }, { setPercent: 100 }])
    expect(decide(input({ spec: s, step: 1, devices: wave, now: T0 + 86_400_000 }))).toEqual({ kind: 'hold', reason: 'paused at step 1 until resumed' })
    expect(decide(input({ spec: s, step: 1, devices: wave, control: { resumedThrough: 0 } }))).toMatchObject({ kind: 'hold' })
    expect(decide(input({ spec: s, step: 1, devices: wave, control: { resumedThrough: 1 } }))).toEqual({ kind: 'advance', toStep: 2, reason: 'resumed through step 1' })
    expect(decide(input({ spec: s, step: 1, devices: wave, control: { resumedThrough: 5 } }))).toMatchObject({ kind: 'advance', toStep: 2 })
  })

  it('counts canaries it lost sight of (a partition, a crash) and sends no one in their place', () => {
    // The partition test's case: 40% of 5 at an indefinite pause; the two canaries went silent
    // on this coordinator's side. Counting only the 3 live targets, it would send 2 more.
    const s = spec([{ setPercent: 40 }, { pause: {} }, { setPercent: 100 }])
    const five = RANKED.slice(0, 5)
    const canaries5 = five.slice(0, 2)
    const live = five.slice(2)
    const known = devices(canaries5, 'Active')
    expect(decide(input({ spec: s, step: 1, targets: live, unreachable: canaries5, devices: known }))).toEqual({ kind: 'hold', reason: 'paused at step 1 until resumed' })
    // Without them in view at all (forgotten), the live ones are the whole population again.
    expect(decide(input({ spec: s, step: 1, targets: live, devices: known }))).toEqual({ kind: 'dispatch', peers: hrwTop(`${ROLLOUT}/waves`, live, 2) })
    // Unreachable ones never get a command, and do not block a 100% step from completing.
    expect(decide(input({ spec: s, step: 2, targets: live, unreachable: five.slice(0, 2), devices: new Map() }))).toEqual({ kind: 'dispatch', peers: hrwTop(`${ROLLOUT}/waves`, live, 3) })
    expect(decide(input({ spec: s, step: 2, targets: live, unreachable: five.slice(0, 2), devices: devices(live, 'Active') }))).toEqual({ kind: 'complete' })
  })

  it('control.paused holds every new dispatch and advance', () => {
    expect(decide(input({ control: { paused: true } }))).toEqual({ kind: 'paused' })
    expect(decide(input({ control: { paused: true }, phase: 'Paused', devices: devices(RANKED.slice(0, 10), 'Active') }))).toEqual({ kind: 'paused' })
    // resumed: a Paused phase carries on from its step
    expect(decide(input({ phase: 'Paused' }))).toEqual({ kind: 'dispatch', peers: RANKED.slice(0, 10) })
  })
})

describe('decide: abort, undo, rollback, delete', () => {
  const wave = devices(RANKED.slice(0, 10), 'Active')

  it('after an abort with automatic rollback, reverts updated devices in wave order, rate-limited', () => {
    const mixed = new Map(wave)
    mixed.set(RANKED[0]!, 'Failed')
    mixed.set(RANKED[1]!, 'Loading')
    const s = spec([{ setPercent: 10 }], { rate: { maxPerMinute: 5 } })
    expect(decide(input({ spec: s, phase: 'Aborted', devices: mixed }))).toEqual({ kind: 'revert', peers: RANKED.slice(1, 6) })
    expect(decide(input({ spec: s, phase: 'Aborted', devices: mixed, recentDispatches: [T0, T0, T0, T0, T0] }))).toMatchObject({ kind: 'hold', reason: expect.stringContaining('rate limit') })
  })

  it('holds while devices roll back, then ends RolledBack', () => {
    const back = devices(RANKED.slice(0, 10), 'RolledBack')
    back.set(RANKED[2]!, 'RollingBack')
    back.set(RANKED[3]!, 'Failed')
    expect(decide(input({ phase: 'Aborted', devices: back }))).toEqual({ kind: 'hold', reason: 'waiting for 1 device(s) to roll back' })
    back.set(RANKED[2]!, 'RolledBack')
    expect(decide(input({ phase: 'Aborted', devices: back }))).toEqual({ kind: 'rolledBack' })
    expect(decide(input({ phase: 'RolledBack', devices: back }))).toEqual({ kind: 'idle' })
  })

  it('with manual rollback an aborted rollout stays as it is until undo', () => {
    const s = spec([{ setPercent: 10 }], { rollback: 'manual' })
    expect(decide(input({ spec: s, phase: 'Aborted', devices: wave }))).toEqual({ kind: 'idle' })
    expect(decide(input({ spec: s, phase: 'Aborted', devices: wave, control: { undo: true } }))).toEqual({ kind: 'revert', peers: RANKED.slice(0, 10) })
  })

  it('undo reverts every updated device, targets or not, even while paused, from any phase but RolledBack', () => {
    const gone = new Map(wave)
    gone.set('not-a-target', 'Active')
    const expected = hrwRank(`${ROLLOUT}/waves`, [...RANKED.slice(0, 10), 'not-a-target'])
    for (const phase of ['Progressing', 'Paused', 'Completed', 'Aborted'] as const) {
      expect(decide(input({ phase, devices: gone, control: { undo: true, paused: true } }))).toEqual({ kind: 'revert', peers: expected })
    }
    expect(decide(input({ phase: 'RolledBack', devices: gone, control: { undo: true } }))).toEqual({ kind: 'idle' })
    expect(decide(input({ devices: new Map(), control: { undo: true } }))).toEqual({ kind: 'rolledBack' })
  })

  it('a deleted rollout is idle whatever else holds', () => {
    expect(decide(input({ control: { deleted: true, undo: true } }))).toEqual({ kind: 'idle' })
    expect(decide(input({ phase: 'Aborted', control: { deleted: true } }))).toEqual({ kind: 'idle' })
  })

  it('a completed rollout converges late joiners and is otherwise idle', () => {
    const all = devices(P100, 'Active')
    expect(decide(input({ phase: 'Completed', devices: all }))).toEqual({ kind: 'idle' })
    expect(decide(input({ phase: 'Completed', devices: all, targets: [...P100, 'late'] }))).toEqual({ kind: 'dispatch', peers: ['late'] })
    expect(decide(input({ phase: 'Completed', devices: all, targets: [...P100, 'late'], control: { paused: true } }))).toEqual({ kind: 'idle' })
    const bad = healthy(P100).map(s => ({ ...s, stats: { ...s.stats!, e: 50 } }))
    expect(decide(input({ phase: 'Completed', devices: all, samples: bad, spec: spec([{ setPercent: 100 }], { abort: [ERROR_RATE] }) }))).toEqual({ kind: 'idle' })
  })
})

describe('nextPhase', () => {
  it.each<[RolloutPhase, Decision, RolloutPhase]>([
    ['Progressing', { kind: 'abort', trip: { criterion: 0, text: '', value: 1, threshold: 0, nodes: 1 } }, 'Aborted'],
    ['Progressing', { kind: 'complete' }, 'Completed'],
    ['Aborted', { kind: 'rolledBack' }, 'RolledBack'],
    ['Progressing', { kind: 'paused' }, 'Paused'],
    ['Paused', { kind: 'dispatch', peers: [] }, 'Progressing'],
    ['Paused', { kind: 'hold', reason: '' }, 'Progressing'],
    ['Progressing', { kind: 'advance', toStep: 1, reason: '' }, 'Progressing'],
    ['Completed', { kind: 'dispatch', peers: ['late'] }, 'Completed'],
    ['Aborted', { kind: 'revert', peers: ['a'] }, 'Aborted'],
    ['Completed', { kind: 'idle' }, 'Completed']
  ])('%s + %j -> %s', (current, decision, expected) => {
    expect(nextPhase(current, decision)).toBe(expected)
  })
})

describe('rolloutProgressSummary', () => {
  it('counts devices by state and the share of targets active', () => {
    const d = new Map<string, DeviceStateKind>([['a', 'Active'], ['b', 'Active'], ['c', 'Loading'], ['d', 'Failed'], ['gone', 'Active']])
    const summary = rolloutProgressSummary(['a', 'b', 'c', 'd', 'e', 'f'], d)
    expect(summary).toEqual({
      targets: 6,
      counts: { Pending: 0, Downloading: 0, Verifying: 0, Loading: 1, SmokeTest: 0, Active: 3, Failed: 1, TimedOut: 0, RollingBack: 0, RolledBack: 0 },
      updated: 3,
      active: 2,
      percentDone: 33
    })
    expect(rolloutProgressSummary([], d).percentDone).toBe(0)
    expect(rolloutProgressSummary(['a', 'b'], d).percentDone).toBe(100)
  })
})

/**
 * A whole rollout driven through decide(): 400 devices, a virtual minute per tick, devices that
 * activate within a tick (or fail, for a bad version). Checks the invariants every tick.
 */
function simulate (options: { badVersion: boolean, seed: number }): { log: string[], devices: Map<string, DeviceStateKind>, phase: RolloutPhase, dispatchTimes: number[] } {
  const random = seededRandom(options.seed)
  const all = peers(400)
  const steps: Step[] = [{ setPercent: 5 }, { pause: { durationMs: 10 * 60_000 } }, { setPercent: 50 }, { pause: {} }, { setPercent: 100 }]
  const s = spec(steps, { rate: { maxPerMinute: 40 }, abort: [ERROR_RATE, { failureType: 'ALL', thresholdPercentage: 20, minNodes: 5 }] })
  const control: RolloutControl = { ...CONTROL }
  const state = new Map<string, DeviceStateKind>()
  const dispatchTimes: number[] = []
  const log: string[] = []
  let progress = { phase: 'Progressing' as RolloutPhase, step: 0, stepStartedAt: T0 }
  let now = T0
  for (let tick = 0; tick < 500; tick++) {
    // devices move: in progress -> Active (bad version: serve errors), RollingBack -> RolledBack
    for (const [id, kind] of state) {
      if (kind === 'Pending') state.set(id, random() < 0.02 ? 'Failed' : 'Active')
      if (kind === 'RollingBack') state.set(id, 'RolledBack')
    }
    const targets = tick === 30 ? all.slice(0, 380) : all // 20 devices drop out for one tick
    const samples: GateSample[] = [...state].filter(([, k]) => k === 'Active').map(([peerId]) => ({
      peerId, state: 'Active', stats: { n: 50, e: options.badVersion ? 5 : 0, p50: 1, p95: 2, p99: 3, nf: 0, mb: 10 }
    }))
    const succeeded = [...state.values()].filter(k => k === 'Active').length
    const recent = dispatchTimes.filter(t => t > now - RATE_WINDOW_MS)
    const d = decide({ rollout: ROLLOUT, policy: { spec: s, control }, progress, targets, devices: state, recentDispatches: recent, succeeded, samples, now })
    log.push(d.kind === 'dispatch' || d.kind === 'revert' ? `${d.kind} ${d.peers.length}` : d.kind === 'advance' ? `advance ${d.toStep}` : d.kind)
    switch (d.kind) {
      case 'dispatch':
        expect(recent.length + d.peers.length).toBeLessThanOrEqual(40)
        for (const id of d.peers) {
          expect(state.has(id)).toBe(false)
          state.set(id, 'Pending')
          dispatchTimes.push(now)
        }
        break
      case 'revert':
        for (const id of d.peers) {
          state.set(id, 'RollingBack')
          dispatchTimes.push(now)
        }
        break
      case 'advance': {
        // the step just finished reached its share of the targets
        const prev = steps[progress.step]!
        if ('setPercent' in prev) {
          const updated = targets.filter(id => state.get(id) === 'Active').length
          const undispatched = targets.filter(id => !state.has(id)).length
          expect(updated >= wantedCount(prev.setPercent, targets.length) || undispatched === 0).toBe(true)
          expect(targets.some(id => state.get(id) === 'Pending')).toBe(false)
        }
        progress = { phase: 'Progressing', step: d.toStep, stepStartedAt: now }
        break
      }
      case 'hold':
      case 'idle':
      case 'paused':
        break
      case 'abort':
      case 'complete':
      case 'rolledBack':
        break
    }
    progress = { ...progress, phase: nextPhase(progress.phase, d) }
    if (d.kind === 'hold' && d.reason === 'paused at step 3 until resumed') control.resumedThrough = 3
    if (progress.phase === 'Completed' || progress.phase === 'RolledBack') break
    now += 60_000
  }
  return { log, devices: state, phase: progress.phase, dispatchTimes }
}

describe('decide: a whole rollout', () => {
  it('walks a good version through every step to Completed within the rate', () => {
    const { log, devices: state, phase } = simulate({ badVersion: false, seed: 7 })
    expect(phase).toBe('Completed')
    const active = [...state.values()].filter(k => k === 'Active').length
    const failedCount = [...state.values()].filter(k => k === 'Failed').length
    expect(active + failedCount).toBe(400)
    expect(log[0]).toBe('dispatch 20') // 5% of 400
    expect(log).toContain('advance 1')
    expect(log).toContain('advance 4')
    // 400 devices at 40 per minute take at least 10 dispatching ticks
    expect(log.filter(l => l.startsWith('dispatch')).length).toBeGreaterThanOrEqual(10)
  })

  it('stops a bad version in its canary wave and rolls it back automatically', () => {
    const { log, devices: state, phase } = simulate({ badVersion: true, seed: 7 })
    expect(phase).toBe('RolledBack')
    const failedCount = [...state.values()].filter(k => k === 'Failed').length
    expect(log.slice(0, 3)).toEqual(['dispatch 20', 'abort', `revert ${20 - failedCount}`]) // failed ones never switched
    expect(state.size).toBe(20) // nobody past the canaries was ever dispatched
    expect([...state.values()].every(k => k === 'RolledBack' || k === 'Failed')).toBe(true)
  })
})
