import { describe, expect, it } from 'vitest'
import { manifestCid } from '../../core/cid.js'
import { ManifestValidationError } from './errors.js'
import { MAX_MANIFEST_BYTES } from './constants.js'
import { parseRolloutManifest, rolloutSpecIssues, validateRolloutSpec } from './spec.js'
import type { ManifestIssue } from './errors.js'
import type { RolloutSpec } from './spec.js'

const CID = manifestCid(new TextEncoder().encode('{"name":"face"}'))

const MINIMAL = `apiVersion: tutti.dev/v1
kind: Rollout
metadata:
  name: face-v2
spec:
  model: { name: face, version: 2.0.0 }
  selector: {}
  strategy:
    steps:
      - setPercent: 100
`

const FULL = `apiVersion: tutti.dev/v1
kind: Rollout
metadata:
  name: face-v2
spec:
  model:
    name: face
    version: 2.0.0
    cid: ${CID}
  selector:
    matchLabels: { class: camera }
    matchExpressions:
      - { key: battery, operator: Gt, values: ["50"] }
  resources:
    limits: { cpu: 500m, memory: 256Mi }
  strategy:
    steps:
      - setPercent: 5
      - pause: 10m
      - setPercent: 50
      - pause: {}
      - pause:
      - pause: { duration: 1h30m }
      - setPercent: 100
    exponentialRate:
      baseRatePerMinute: 5
      incrementFactor: 2
      rateIncreaseCriteria: { numberOfSucceededNodes: 10 }
      maxPerMinute: 100
    activationTimeout: 5m
    abort:
      - { failureType: FAILED, thresholdPercentage: 10, minNodes: 5 }
      - { metric: errorRate, max: 0.02 }
      - { metric: p95LatencyMs, max: 250, minNodes: 3, minRequests: 50 }
      - { metric: shadowAgreement, min: 0.95 }
    rollback: manual
`

const FULL_SPEC: RolloutSpec = {
  model: { name: 'face', version: '2.0.0', cid: CID },
  selector: { matchLabels: { class: 'camera' }, matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] },
  resources: { limits: { cpu: '500m', memory: '256Mi' } },
  strategy: {
    steps: [
      { setPercent: 5 }, { pause: { durationMs: 600_000 } }, { setPercent: 50 }, { pause: {} }, { pause: {} },
      { pause: { durationMs: 5_400_000 } }, { setPercent: 100 }
    ],
    rate: { exponential: { baseRatePerMinute: 5, incrementFactor: 2, numberOfSucceededNodes: 10, maxPerMinute: 100 } },
    activationTimeoutMs: 300_000,
    abort: [
      { failureType: 'FAILED', thresholdPercentage: 10, minNodes: 5 },
      { metric: 'errorRate', max: 0.02, minNodes: 1, minRequests: 20 },
      { metric: 'p95LatencyMs', max: 250, minNodes: 3, minRequests: 50 },
      { metric: 'shadowAgreement', min: 0.95, minNodes: 1, minRequests: 20 }
    ],
    rollback: 'manual'
  }
}

function issuesOf (fn: () => unknown): ManifestIssue[] {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestValidationError)
    expect((err as ManifestValidationError).code).toBe('ERR_ROLLOUT_MANIFEST')
    return (err as ManifestValidationError).issues
  }
  throw new Error('expected a ManifestValidationError')
}

/** MINIMAL with one line of the strategy (or more) replaced. */
function withStrategy (lines: string): string {
  return MINIMAL.replace('    steps:\n      - setPercent: 100\n', lines)
}

describe('parseRolloutManifest', () => {
  it('normalizes a full manifest: ms durations, defaults, rate', () => {
    expect(parseRolloutManifest(FULL)).toEqual({ name: 'face-v2', spec: FULL_SPEC })
  })

  it('fills defaults: unlimited rate, 10m activation timeout, no criteria, automatic rollback, no limits', () => {
    expect(parseRolloutManifest(MINIMAL)).toEqual({
      name: 'face-v2',
      spec: {
        model: { name: 'face', version: '2.0.0' },
        selector: {},
        resources: { limits: {} },
        strategy: { steps: [{ setPercent: 100 }], rate: { unlimited: true }, activationTimeoutMs: 600_000, abort: [], rollback: 'automatic' }
      }
    })
  })

  it('accepts a kubectl selector string, a model by cid alone, numeric cpu and maxPerMinute', () => {
    const text = MINIMAL
      .replace('model: { name: face, version: 2.0.0 }', `model: { cid: ${CID} }`)
      .replace('selector: {}', 'selector: "class=camera,zone in (a,b)"\n  resources: { limits: { cpu: 2 } }')
      .replace('    steps:', '    maxPerMinute: 30\n    steps:')
    const { spec } = parseRolloutManifest(text)
    expect(spec.model).toEqual({ cid: CID })
    expect(spec.selector).toEqual({ matchLabels: { class: 'camera' }, matchExpressions: [{ key: 'zone', operator: 'In', values: ['a', 'b'] }] })
    expect(spec.resources.limits).toEqual({ cpu: '2' })
    expect(spec.strategy.rate).toEqual({ maxPerMinute: 30 })
  })

  it('carries prefetch only when true (a node of an older build refuses unknown fields), and checks its type', () => {
    const on = parseRolloutManifest(withStrategy('    prefetch: true\n    steps:\n      - setPercent: 100\n')).spec
    expect(on.strategy.prefetch).toBe(true)
    expect(rolloutSpecIssues({ ...on, model: { ...on.model, cid: CID } })).toEqual([])
    const off = parseRolloutManifest(withStrategy('    prefetch: false\n    steps:\n      - setPercent: 100\n')).spec
    expect('prefetch' in off.strategy).toBe(false)
    expect(issuesOf(() => parseRolloutManifest(withStrategy('    prefetch: yes please\n    steps:\n      - setPercent: 100\n')))).toEqual([
      { path: 'spec.strategy.prefetch', message: 'must be true or false' }
    ])
  })

  it('collects every issue, each with its field path', () => {
    const text = `apiVersion: tutti.dev/v2
kind: Rolout
metadata: { name: Face_v2, extra: 1 }
spec:
  model: { version: 2.0.0 }
  selector: { matchLabels: { a: 1 } }
  resources: { limits: { cpu: 500Mi, memory: 10m } }
  strategy:
    steps: [ { setPercent: 5 }, { pause: 10 }, { setPercent: 150 }, { pause: { duration: 5x, foo: 1 } }, {} ]
    maxPerMinute: 0
    exponentialRate: { baseRatePerMinute: 5, incrementFactor: 1, rateIncreaseCriteria: { numberOfSucceededNodes: 1 } }
    activationTimeout: 0s
    abort: [ { failureType: BAD, thresholdPercentage: 101 }, { metric: errorRate, max: 2, minRequests: 0 }, { metric: foo }, { x: 1 } ]
    rollback: sometimes
  other: 1
`
    expect(issuesOf(() => parseRolloutManifest(text))).toEqual([
      { path: 'apiVersion', message: 'must be "tutti.dev/v1"' },
      { path: 'kind', message: 'must be "Rollout"' },
      { path: 'metadata.name', message: expect.stringContaining('must be a DNS label') },
      { path: 'metadata.extra', message: 'unknown field' },
      { path: 'spec.model.name', message: 'is required with version' },
      { path: 'spec.selector.matchLabels.a', message: 'value must be a string' },
      { path: 'spec.resources.limits.cpu', message: expect.stringContaining("is not a CPU quantity") },
      { path: 'spec.resources.limits.memory', message: expect.stringContaining('millibytes') },
      { path: 'spec.strategy.steps[1].pause', message: expect.stringContaining('must be a duration like "30s"') },
      { path: 'spec.strategy.steps[2].setPercent', message: 'must be 1..100' },
      { path: 'spec.strategy.steps[3].pause.duration', message: expect.stringContaining('"5x" is not a duration') },
      { path: 'spec.strategy.steps[3].pause.foo', message: 'unknown field' },
      { path: 'spec.strategy.steps[4]', message: expect.stringContaining('must be {setPercent: 1..100}') },
      { path: 'spec.strategy.maxPerMinute', message: 'must be an integer >= 1' },
      { path: 'spec.strategy.exponentialRate.incrementFactor', message: 'must be more than 1' },
      { path: 'spec.strategy.activationTimeout', message: 'must be more than 0' },
      { path: 'spec.strategy.abort[0].failureType', message: 'must be one of FAILED, TIMED_OUT, ALL' },
      { path: 'spec.strategy.abort[0].thresholdPercentage', message: 'must be 0..100' },
      { path: 'spec.strategy.abort[1].max', message: 'max must be 0..1' },
      { path: 'spec.strategy.abort[1].minRequests', message: 'must be an integer >= 1' },
      { path: 'spec.strategy.abort[2].metric', message: expect.stringContaining('must be one of errorRate') },
      { path: 'spec.strategy.abort[3]', message: expect.stringContaining('must be {failureType') },
      { path: 'spec.strategy.rollback', message: 'must be one of automatic, manual' },
      { path: 'spec.other', message: 'unknown field' }
    ])
  })

  it('lists issues one per line in the message', () => {
    try {
      parseRolloutManifest(withStrategy('    steps: [ { setPercent: 5 }, { setPercent: 5 }, { setPercent: 0 } ]\n'))
    } catch (err) {
      expect((err as Error).message).toBe('invalid rollout manifest:\nspec.strategy.steps[2].setPercent: must be 1..100')
      return
    }
    throw new Error('expected an error')
  })

  it.each<[string, string, ManifestIssue[]]>([
    ['a missing spec', 'apiVersion: tutti.dev/v1\nkind: Rollout\nmetadata: { name: a }\n', [{ path: 'spec', message: 'is required' }]],
    ['a missing model and selector', MINIMAL.replace('  model: { name: face, version: 2.0.0 }\n  selector: {}\n', ''), [
      { path: 'spec.model', message: 'is required' }, { path: 'spec.selector', message: 'is required ({} selects every node)' }
    ]],
    ['a model with neither name nor cid', MINIMAL.replace('{ name: face, version: 2.0.0 }', '{}'), [{ path: 'spec.model', message: 'needs name and version, or cid' }]],
    ['a model name without version', MINIMAL.replace('{ name: face, version: 2.0.0 }', '{ name: face }'), [{ path: 'spec.model.version', message: 'is required with name (or give cid)' }]],
    ['a bad cid', MINIMAL.replace('{ name: face, version: 2.0.0 }', '{ cid: bafkreiabc }'), [{ path: 'spec.model.cid', message: expect.stringContaining('manifest CID') }]],
    ['a bad selector string', MINIMAL.replace('selector: {}', 'selector: "battery>high"'), [{ path: 'spec.selector', message: expect.stringContaining('"high" is not a number') }]],
    ['a name too long', MINIMAL.replace('name: face-v2', `name: ${'a'.repeat(64)}`), [{ path: 'metadata.name', message: 'must be at most 63 characters' }]],
    ['no steps', withStrategy('    steps: []\n'), [{ path: 'spec.strategy.steps', message: 'must have at least one step' }]],
    ['too many steps', withStrategy(`    steps: [${Array(65).fill('{ setPercent: 1 }').join(', ')}]\n`), [{ path: 'spec.strategy.steps', message: 'must have at most 64 steps' }]],
    ['a bare-number pause', withStrategy('    steps: [ { pause: { duration: 30 } } ]\n'), [{ path: 'spec.strategy.steps[0].pause.duration', message: expect.stringContaining('a bare number has no unit') }]],
    ['a step with two kinds', withStrategy('    steps: [ { setPercent: 5, pause: 1m } ]\n'), [{ path: 'spec.strategy.steps[0].pause', message: 'unknown field' }]],
    ['both rates', withStrategy('    steps: [ { setPercent: 5 } ]\n    maxPerMinute: 5\n    exponentialRate: { baseRatePerMinute: 1, incrementFactor: 2, rateIncreaseCriteria: { numberOfSucceededNodes: 1 } }\n'), [
      { path: 'spec.strategy.exponentialRate', message: 'cannot be combined with maxPerMinute (give one rate)' }
    ]],
    ['an exponential cap below its base', withStrategy('    steps: [ { setPercent: 5 } ]\n    exponentialRate: { baseRatePerMinute: 10, incrementFactor: 2, rateIncreaseCriteria: { numberOfSucceededNodes: 1 }, maxPerMinute: 5 }\n'), [
      { path: 'spec.strategy.exponentialRate.maxPerMinute', message: 'must be at least baseRatePerMinute' }
    ]],
    ['a fractional maxPerMinute', withStrategy('    steps: [ { setPercent: 5 } ]\n    maxPerMinute: 2.5\n'), [{ path: 'spec.strategy.maxPerMinute', message: expect.stringMatching(/integer/) }]],
    ['a negative latency max', withStrategy('    steps: [ { setPercent: 5 } ]\n    abort: [ { metric: p95LatencyMs, max: 0 } ]\n'), [{ path: 'spec.strategy.abort[0].max', message: 'must be more than 0 (ms)' }]],
    ['an unknown criterion field', withStrategy('    steps: [ { setPercent: 5 } ]\n    abort: [ { metric: errorRate, max: 0.1, window: 5m } ]\n'), [{ path: 'spec.strategy.abort[0].window', message: 'unknown field' }]],
    ['a document that is not a map', '- a\n- b\n', [{ path: '(document)', message: 'must be a map' }]],
    ['two documents', `${MINIMAL}---\n${MINIMAL}`, [{ path: '(document)', message: 'has 2 YAML documents, expected one' }]],
    ['an empty text', '', [{ path: '(document)', message: 'is empty' }]],
    ['duplicate keys', MINIMAL.replace('kind: Rollout', 'kind: Rollout\nkind: Rollout'), [{ path: '(document)', message: expect.stringContaining('Map keys must be unique') }]],
    ['broken YAML', 'spec: [1', [{ path: '(document)', message: expect.stringContaining('YAML:') }]],
    ['a missing apiVersion and kind', MINIMAL.replace('apiVersion: tutti.dev/v1\nkind: Rollout\n', ''), [
      { path: 'apiVersion', message: 'is required' }, { path: 'kind', message: 'is required' }
    ]],
    ['a version YAML reads as a number', MINIMAL.replace('version: 2.0.0', 'version: 2.0'), [{ path: 'spec.model.version', message: 'must be a string (put it in quotes)' }]],
    ['a null metadata', MINIMAL.replace('metadata:\n  name: face-v2\n', 'metadata:\n'), [{ path: 'metadata', message: 'must be a map' }]],
    ['a status section', `${MINIMAL}status: {}\n`, [{ path: 'status', message: 'unknown field' }]]
  ])('rejects %s', (_name, text, expected) => {
    expect(issuesOf(() => parseRolloutManifest(text))).toEqual(expected)
  })

  it('refuses text over 64 KiB before parsing it', () => {
    const text = `${MINIMAL}# ${'x'.repeat(MAX_MANIFEST_BYTES)}\n`
    expect(issuesOf(() => parseRolloutManifest(text))).toEqual([{ path: '(document)', message: `is ${Buffer.byteLength(text)} bytes, at most ${MAX_MANIFEST_BYTES}` }])
    // counted in UTF-8 bytes, not characters
    const wide = `${MINIMAL}# ${'é'.repeat(MAX_MANIFEST_BYTES / 2)}\n`
    expect(wide.length).toBeLessThan(MAX_MANIFEST_BYTES + MINIMAL.length)
    expect(issuesOf(() => parseRolloutManifest(wide))[0]!.message).toContain('at most 65536')
  })

  it('refuses an alias bomb', () => {
    const bomb = `${MINIMAL}x0: &a0 [1, 2, 3, 4, 5, 6, 7, 8, 9]
x1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
x2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
x3: [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
`
    expect(issuesOf(() => parseRolloutManifest(bomb))).toEqual([{ path: '(document)', message: expect.stringContaining('alias') }])
  })

  it('still resolves a few aliases', () => {
    const text = MINIMAL.replace('selector: {}', 'selector: &sel { matchLabels: { class: camera } }')
    expect(parseRolloutManifest(text).spec.selector).toEqual({ matchLabels: { class: 'camera' } })
  })
})

describe('validateRolloutSpec', () => {
  it('accepts what the manifest parser produces once the cid is pinned', () => {
    expect(validateRolloutSpec(parseRolloutManifest(FULL).spec)).toEqual(FULL_SPEC)
    const minimal = parseRolloutManifest(MINIMAL).spec
    expect(rolloutSpecIssues({ ...minimal, model: { ...minimal.model, cid: CID } })).toEqual([])
  })

  it('requires the cid', () => {
    expect(rolloutSpecIssues(parseRolloutManifest(MINIMAL).spec)).toEqual([{ path: 'model.cid', message: 'is required' }])
  })

  it('is as strict as the manifest: unknown fields, ranges, shapes, all collected', () => {
    const bad = structuredClone(FULL_SPEC) as unknown as Record<string, any>
    bad.extra = true
    bad.selector = { matchLabels: { class: 'camera' }, matchExpressions: [{ key: 'x', operator: 'Near' }] }
    bad.resources.limits.cpu = 2
    bad.strategy.steps[0] = { setPercent: 101 }
    bad.strategy.steps[1] = { pause: { durationMs: 0 } }
    bad.strategy.steps[3] = { pause: { duration: '1m' } }
    bad.strategy.rate = { exponential: { baseRatePerMinute: 5, incrementFactor: 2 } }
    bad.strategy.activationTimeoutMs = 1.5
    bad.strategy.abort[1] = { metric: 'errorRate', max: 0.1 }
    bad.strategy.rollback = 'auto'
    expect(() => validateRolloutSpec(bad)).toThrow(ManifestValidationError)
    expect(rolloutSpecIssues(bad)).toEqual([
      { path: 'selector.matchExpressions[0].operator', message: expect.stringContaining('must be one of In') },
      { path: 'resources.limits.cpu', message: 'must be a string (put it in quotes)' },
      { path: 'strategy.steps[0].setPercent', message: 'must be 1..100' },
      { path: 'strategy.steps[1].pause.durationMs', message: 'must be 1 ms or more' },
      { path: 'strategy.steps[3].pause.duration', message: 'unknown field' },
      { path: 'strategy.rate.exponential.numberOfSucceededNodes', message: 'is required' },
      { path: 'strategy.activationTimeoutMs', message: 'must be an integer' },
      { path: 'strategy.abort[1].minNodes', message: 'is required' },
      { path: 'strategy.abort[1].minRequests', message: 'is required' },
      { path: 'strategy.rollback', message: 'must be one of automatic, manual' },
      { path: 'extra', message: 'unknown field' }
    ])
  })

  it.each<[string, unknown, ManifestIssue[]]>([
    ['not an object', 'spec', [{ path: '(document)', message: 'must be a map' }]],
    ['an empty rate', { ...FULL_SPEC, strategy: { ...FULL_SPEC.strategy, rate: {} } }, [{ path: 'strategy.rate', message: expect.stringContaining('{maxPerMinute}') }]],
    ['unlimited: false', { ...FULL_SPEC, strategy: { ...FULL_SPEC.strategy, rate: { unlimited: false } } }, [{ path: 'strategy.rate.unlimited', message: 'must be true' }]],
    ['a manifest-style pause', { ...FULL_SPEC, strategy: { ...FULL_SPEC.strategy, steps: [{ pause: '10m' }] } }, [{ path: 'strategy.steps[0].pause', message: 'must be a map' }]]
  ])('rejects %s', (_name, value, expected) => {
    expect(rolloutSpecIssues(value)).toEqual(expected)
  })
})
