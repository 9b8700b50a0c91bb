import { describe, expect, it } from 'vitest'
import { checkInvariants } from './invariants.js'
import type { SimEvent } from './invariants.js'
import type { InvariantName } from '../scenario.js'

const APPLIED: SimEvent = { t: 0, type: 'rolloutApplied', rollout: 'r', policyVersion: 1, model: 'm', oldVersions: ['1.0.0'], newVersion: '2.0.0' }
const opts = { convergenceWithinMs: 1000, endMs: 10_000 }
const check = (events: SimEvent[], name: InvariantName) => checkInvariants(events, [name], opts)

describe('invariant checker', () => {
  it('flags a node running a version outside {old, new}, and only then', () => {
    const ok: SimEvent[] = [APPLIED, { t: 1, type: 'running', node: 1, model: 'm', version: '2.0.0' }]
    expect(check(ok, 'versions')).toEqual([])
    const bad: SimEvent = { t: 2, type: 'running', node: 2, model: 'm', version: '3.0.0' }
    expect(check([...ok, bad], 'versions')[0]?.event).toEqual(bad)
  })

  it('flags two coordinators accepted in one epoch and a stale-epoch command', () => {
    const a: SimEvent = { t: 1, type: 'commandAccepted', node: 1, rollout: 'r', epoch: 1, coordinator: 'A', action: 'activate' }
    const b: SimEvent = { t: 2, type: 'commandAccepted', node: 2, rollout: 'r', epoch: 1, coordinator: 'B', action: 'activate' }
    expect(check([a], 'singleCoordinator')).toEqual([])
    expect(check([a, b], 'singleCoordinator')[0]?.event).toEqual(b)
    const stale: SimEvent = { t: 4, type: 'commandAccepted', node: 1, rollout: 'r', epoch: 1, coordinator: 'A', action: 'activate' }
    expect(check([a, { t: 3, type: 'promised', node: 1, rollout: 'r', epoch: 2, coordinator: 'B' }, stale], 'singleCoordinator')[0]?.event).toEqual(stale)
  })

  it('judges convergence from the last heal, and skips nodes that are down', () => {
    const held = (node: number, t: number): SimEvent => ({ t, type: 'policyHeld', node, rollout: 'r', policyVersion: 1 })
    const late: SimEvent[] = [APPLIED, held(1, 10), { t: 5000, type: 'healed' }, held(2, 5500)]
    expect(check(late, 'policyConvergence')).toEqual([])
    expect(check([APPLIED, held(1, 10), { t: 20, type: 'running', node: 2, model: 'm', version: '1.0.0' }], 'policyConvergence')).toHaveLength(1)
    expect(check([APPLIED, held(1, 10), { t: 20, type: 'down', node: 2, how: 'crash' }], 'policyConvergence')).toEqual([])
  })

  it('flags a rollout stuck while a majority of its targets is reachable', () => {
    expect(check([{ t: 9, type: 'end', rollout: 'r', phase: 'Progressing', reachableTargets: 3, targets: 10 }], 'rolloutEnds')).toEqual([])
    expect(check([{ t: 9, type: 'end', rollout: 'r', phase: 'Progressing', reachableTargets: 6, targets: 10 }], 'rolloutEnds')).toHaveLength(1)
    expect(check([{ t: 9, type: 'end', rollout: 'r', phase: 'RolledBack', reachableTargets: 10, targets: 10 }], 'rolloutEnds')).toEqual([])
    // The coordinator's last word says why it is stuck.
    expect(check([{ t: 9, type: 'end', rollout: 'r', phase: 'Progressing', reachableTargets: 6, targets: 10, message: 'baking: 5s left' }], 'rolloutEnds')[0]?.message)
      .toBe('rollout r ended Progressing with 6 of 10 targets reachable (the coordinator: baking: 5s left)')
  })
})
