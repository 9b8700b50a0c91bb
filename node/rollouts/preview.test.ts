import { describe, expect, it } from 'vitest'
import { manifestCid } from '../../core/cid.js'
import { hrwRank } from './hrw.js'
import { planPreview } from './preview.js'
import type { AbortCriterion, RolloutSpec, Step } from './spec.js'

const CID = manifestCid(new TextEncoder().encode('{"name":"face"}'))

function spec (steps: Step[], abort: AbortCriterion[] = [], selector: RolloutSpec['selector'] = {}): RolloutSpec {
  return {
    model: { name: 'face', version: '2.0.0', cid: CID },
    selector,
    resources: { limits: {} },
    strategy: { steps, rate: { unlimited: true }, activationTimeoutMs: 600_000, abort, rollback: 'automatic' }
  }
}

const nodes = (n: number): Array<{ peerId: string, attributes: Record<string, string> }> =>
  Array.from({ length: n }, (_, i) => ({ peerId: `p${i}`, attributes: { battery: String(i * 10) } }))
const ALL_FAILED: AbortCriterion = { failureType: 'ALL', thresholdPercentage: 5, minNodes: 5 }
const NON_FINITE: AbortCriterion = { metric: 'nonFiniteRate', max: 0.01, minNodes: 1, minRequests: 20 }
const BAKE = { pause: { durationMs: 120_000 } }

describe('planPreview', () => {
  it('lists the matching nodes and the waves in the stable HRW order', () => {
    const p = planPreview('r', spec([{ setPercent: 30 }, { pause: {} }, { setPercent: 100 }], [], { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] }), nodes(10))
    expect(p.matching.map(m => m.peerId)).toEqual(['p6', 'p7', 'p8', 'p9'])
    const order = hrwRank('r/waves', ['p6', 'p7', 'p8', 'p9'])
    expect(p.waves).toEqual([
      { step: 0, description: 'setPercent 30%: 2 of 4 updated', nodes: 2, peers: order.slice(0, 2) },
      { step: 1, description: 'pause until `tutti rollout resume`', nodes: 0, peers: [] },
      { step: 2, description: 'setPercent 100%: 4 of 4 updated', nodes: 2, peers: order.slice(2) }
    ])
    expect(p.warnings).toEqual([])
  })

  it.each([
    // [fleet, steps, criteria, warnings expected]
    ['a 1% canary of 10 under minNodes 5 holds', 10, [{ setPercent: 1 }, BAKE, { setPercent: 100 }], [NON_FINITE, ALL_FAILED],
      ['step 2 (pause 2m) bakes 1 of the 10 node(s) matching now, but criterion 2 needs 5: it stays inconclusive and the rollout holds there until `tutti rollout resume`']],
    ['the same canary of 1,000 nodes is 10: nothing to say', 1000, [{ setPercent: 1 }, BAKE, { setPercent: 100 }], [NON_FINITE, ALL_FAILED], []],
    ['a bake before any wave bakes no node', 10, [BAKE, { setPercent: 100 }], [NON_FINITE],
      ['step 1 (pause 2m) bakes 0 of the 10 node(s) matching now, but criterion 1 needs 1: it stays inconclusive and the rollout holds there until `tutti rollout resume`']],
    ['an indefinite pause is not a bake', 10, [{ setPercent: 1 }, { pause: {} }, { setPercent: 100 }], [ALL_FAILED], []],
    ['no criteria: nothing to wait for', 3, [{ setPercent: 1 }, BAKE, { setPercent: 100 }], [], []],
    ['each short criterion of each bake', 10, [{ setPercent: 10 }, BAKE, { setPercent: 40 }, BAKE, { setPercent: 100 }], [ALL_FAILED, { ...NON_FINITE, minNodes: 3 }],
      [
        'step 2 (pause 2m) bakes 1 of the 10 node(s) matching now, but criterion 1 needs 5: it stays inconclusive and the rollout holds there until `tutti rollout resume`',
        'step 2 (pause 2m) bakes 1 of the 10 node(s) matching now, but criterion 2 needs 3: it stays inconclusive and the rollout holds there until `tutti rollout resume`',
        'step 4 (pause 2m) bakes 4 of the 10 node(s) matching now, but criterion 1 needs 5: it stays inconclusive and the rollout holds there until `tutti rollout resume`'
      ]]
  ] as Array<[string, number, Step[], AbortCriterion[], string[]]>)('warns when a bake cannot conclude: %s', (_, n, steps, abort, warnings) => {
    expect(planPreview('r', spec(steps, abort), nodes(n)).warnings).toEqual(warnings)
  })
})
