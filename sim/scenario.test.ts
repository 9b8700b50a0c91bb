import { readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { parseScenario, ScenarioError } from './scenario.js'

const BASE = `
name: t
mode: des
duration: 10m
fleet: { nodes: 10 }
models:
  - name: detector
    versions: [ { version: 1.0.0, size: 1MiB }, { version: 2.0.0, size: 1MiB, behaviour: nan } ]
initial: [ { model: detector, version: 1.0.0 } ]
`

function issuesOf (text: string): string[] {
  try {
    parseScenario(text)
  } catch (err) {
    expect(err).toBeInstanceOf(ScenarioError)
    return (err as ScenarioError).issues.map(i => `${i.path}: ${i.message}`)
  }
  throw new Error('parsed without error')
}

describe('scenario format', () => {
  it('parses the bad-model-rollback scenario with the rollout manifest checked by the node parser', async () => {
    const s = parseScenario(await readFile(new URL('./scenarios/bad-model-rollback.yaml', import.meta.url), 'utf8'))
    expect(s.fleet.nodes).toBe(200)
    expect(s.fleet.links).toEqual({ latencyMs: 20, jitterMs: 5, bytesPerSec: 2_500_000, loss: 0.001 })
    expect(s.fleet.originBytesPerSec).toBe(12_500_000)
    expect(s.fleet.props.battery).toEqual({ uniform: [10, 100] })
    const apply = s.timeline[0]!
    expect(apply.atMs).toBe(10_000)
    expect(apply.action.kind).toBe('apply')
    if (apply.action.kind !== 'apply') throw new Error('not apply')
    expect(apply.action.name).toBe('detector-v3')
    expect(apply.action.spec.strategy.steps).toEqual([{ setPercent: 1 }, { pause: { durationMs: 120_000 } }, { setPercent: 100 }])
    expect(s.expect).toEqual([{ rollout: 'detector-v3', phase: 'RolledBack', noNodeOn: '3.0.0' }])
  })

  it('names the field path of a bad rollout step inside the timeline', () => {
    const text = `${BASE}
timeline:
  - at: 1s
    apply:
      apiVersion: tutti.dev/v1
      kind: Rollout
      metadata: { name: r }
      spec:
        model: { name: detector, version: 2.0.0 }
        selector: {}
        strategy: { steps: [ { setPercent: 0 } ] }
`
    expect(issuesOf(text).some(i => i.startsWith('timeline[0].apply.spec.strategy.steps[0].setPercent:'))).toBe(true)
  })

  it('names the field path of unknown fields, bad durations and bad rates', () => {
    const issues = issuesOf(`
name: t
mode: des
duration: soon
fleet: { nodes: 10, colour: red, links: { bandwidth: fast } }
`)
    expect(issues).toContain('fleet.colour: unknown field')
    expect(issues.some(i => i.startsWith('duration:'))).toBe(true)
    expect(issues.some(i => i.startsWith('fleet.links.bandwidth:'))).toBe(true)
  })

  it('refuses a version that no model has, an entry with two actions and one after the end', () => {
    const issues = issuesOf(`${BASE}
timeline:
  - { at: 1s, heal: true, crash: { count: 1 } }
  - { at: 20m, heal: true }
  - at: 2s
    apply:
      apiVersion: tutti.dev/v1
      kind: Rollout
      metadata: { name: r }
      spec: { model: { name: detector, version: 9.9.9 }, selector: {}, strategy: { steps: [ { setPercent: 100 } ] } }
`)
    expect(issues).toContain('timeline[0]: has heal and crash; one action per entry')
    expect(issues).toContain('timeline[1].at: is after the end of the run (duration)')
    expect(issues).toContain('timeline[2].apply.spec.model: detector@9.9.9 is not among models')
  })

  it('reads node sets as ranges, selectors, counts and the coordinator', () => {
    const s = parseScenario(`${BASE}
timeline:
  - { at: 1s, partition: [ { nodes: ["0-3", 7] }, { selector: "battery>50" } ] }
  - { at: 2s, pause: { coordinator: r } }
  - { at: 3s, crash: { count: 2 } }
  - { at: 4s, drainBattery: { target: { nodes: "1-2" }, to: 5 } }
`)
    expect(s.timeline.map(e => e.action)).toEqual([
      { kind: 'partition', groups: [{ nodes: [[0, 3], [7, 7]] }, { selector: { matchExpressions: [{ key: 'battery', operator: 'Gt', values: ['50'] }] } }] },
      { kind: 'pause', target: { coordinator: 'r' } },
      { kind: 'crash', target: { count: 2 } },
      { kind: 'drainBattery', target: { nodes: [[1, 2]] }, to: 5 }
    ])
  })

  it('recognises the inprocess and multihost modes and refuses an unknown one with its path', () => {
    expect(parseScenario(BASE.replace('mode: des', 'mode: multihost')).mode).toBe('multihost')
    expect(issuesOf(BASE.replace('mode: des', 'mode: cloud'))[0]).toMatch(/^mode: /)
  })
})
