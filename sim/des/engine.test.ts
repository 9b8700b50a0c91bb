import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseScenario } from '../scenario.js'
import { runDes } from './engine.js'
import { checkInvariants } from './invariants.js'

describe('des engine', () => {
  it('rolls the NaN version back at 200 nodes with every invariant holding', async () => {
    const s = parseScenario(await readFile(new URL('../scenarios/bad-model-rollback.yaml', import.meta.url), 'utf8'))
    const r = runDes(s, { nodes: 200 })
    const violations = checkInvariants(r.events, s.invariants, { convergenceWithinMs: s.convergenceWithinMs, endMs: s.durationMs })
    expect(violations, `seed ${s.seed}`).toEqual([])
    expect(r.phase).toBe('RolledBack')
    const last = new Map<number, string>()
    for (const e of r.events) if (e.type === 'running') last.set(e.node, e.version)
    expect([...last.values()].includes('3.0.0')).toBe(false)
    expect(r.events.some(e => e.type === 'running' && e.version === '3.0.0')).toBe(true)
  })
})
