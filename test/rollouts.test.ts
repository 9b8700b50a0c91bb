/**
 * Rollouts on real nodes (memory transport, real stores, real onnxruntime): a signed policy is
 * carried out by an elected coordinator in waves, only on the devices its selector picks, a bad
 * version trips its gate and every updated device goes back to its previous version from its own
 * store, a bake that cannot conclude holds until the operator resumes it, and a coordinator that
 * dies is replaced and the rollout completes. At every sample no
 * node runs a version outside {old, new} of the rollout in progress.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fullyConverged, startLocalMesh, waitFor, createTestFleet } from '../sim/local-mesh.js'
import { TempDirs } from './models-helpers.js'
import { packClassifier, rolloutYaml, sampleVersions, servedVersion, signedRollout } from './rollout-helpers.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { PrivateKey } from '@libp2p/interface'

const BATTERY = [80, 90, 30, 70, 20]
const CHARGED = [0, 1, 3]

describe('rollouts on a mesh of real nodes', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  let nodes: TuttiNode[]
  let adminKey: PrivateKey
  const cids: Record<string, string> = {}
  let policyVersion = 1

  const phase = (node: TuttiNode, name: string): string | undefined => node.rollouts?.latestProgress(name)?.progress.phase
  const apply = async (at: TuttiNode, yaml: string, version: string): Promise<string> => {
    const { name, envelope } = await signedRollout(adminKey, yaml, cids[version]!, policyVersion++)
    const result = await at.policies.apply(envelope)
    expect(result.durable).toBe(true)
    return name
  }

  beforeAll(async () => {
    const fleet = await createTestFleet('rollouts')
    adminKey = fleet.adminKey
    const dir = await dirs.make('tutti-rollouts-')
    mesh = await startLocalMesh({
      size: BATTERY.length,
      fleet: fleet.fleet,
      heartbeatMs: 200,
      node: i => ({ dataDir: join(dir, `n${i}`), props: { battery: String(BATTERY[i]) }, labels: { class: 'camera' } })
    })
    nodes = mesh.nodes
    await waitFor('a full mesh view', () => fullyConverged(nodes), 60_000)
    const pkgs = {
      '1.0.0': await packClassifier(dir, adminKey, '1.0.0', { seed: 1 }),
      '2.0.0': await packClassifier(dir, adminKey, '2.0.0', { seed: 2 }),
      '3.0.0': await packClassifier(dir, adminKey, '3.0.0', { seed: 3, sqrtInput: true })
    }
    for (const [v, pkg] of Object.entries(pkgs)) cids[v] = (await nodes[0]!.models!.store.importPackage(pkg)).cid
    await nodes[0]!.models!.announceAll()
  })

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('rolls v1 out to every node, then v2 in waves only to the charged ones, never outside {old, new}', async () => {
    const watch = sampleVersions(nodes)
    const v1 = await apply(nodes[2]!, rolloutYaml('clf-v1', '1.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 40}, {setPercent: 100} ]
`), '1.0.0')
    await waitFor('v1 on every node', () => nodes.every(n => servedVersion(n) === '1.0.0'), 60_000)
    await waitFor('rollout clf-v1 completed everywhere', () => nodes.every(n => phase(n, v1) === 'Completed'), 30_000)
    watch.stop()
    for (const s of watch.samples) for (const v of s) expect([undefined, '1.0.0']).toContain(v)
    // Every device counts what coordinators asked of it (`describe node` on itself shows it).
    const asked = await Promise.all(nodes.map(async n => (await n.describe(n.peerId))?.rolloutRequests))
    expect(asked.every(a => a != null)).toBe(true)
    expect(asked.reduce((sum, a) => sum + a!.command, 0)).toBeGreaterThanOrEqual(nodes.length - 1)
    expect(asked.reduce((sum, a) => sum + a!.prepare, 0)).toBeGreaterThanOrEqual(nodes.length - 1)

    const watch2 = sampleVersions(nodes)
    const v2 = await apply(nodes[4]!, rolloutYaml('clf-v2', '2.0.0', `  selector:
    matchLabels: { class: camera }
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  resources: { limits: { cpu: 500m, memory: 256Mi } }
  strategy:
    steps: [ {setPercent: 33}, {pause: 1s}, {setPercent: 100} ]
`), '2.0.0')
    await waitFor('rollout clf-v2 completed', () => phase(nodes[4]!, v2) === 'Completed', 60_000)
    watch2.stop()
    for (const i of CHARGED) expect(servedVersion(nodes[i]!)).toBe('2.0.0')
    for (const i of [2, 4]) expect(servedVersion(nodes[i]!)).toBe('1.0.0')
    for (const s of watch2.samples) for (const v of s) expect(['1.0.0', '2.0.0']).toContain(v)
    // The canary wave: one of the three charged nodes ran v2 alone for the bake window.
    const counts = watch2.samples.map(s => s.filter(v => v === '2.0.0').length)
    expect(counts.indexOf(1)).toBeLessThan(counts.indexOf(3))
    // ...for the 1 s pause: many samples (20 ms apart, fewer on a busy machine) saw exactly one.
    expect(counts.filter(c => c === 1).length).toBeGreaterThanOrEqual(10)
    expect(nodes[0]!.serving.activeOf('clf')?.limits).toEqual({ cpu: '500m', memory: '256Mi' })
  })

  it('aborts a version that answers NaN on real traffic and rolls every updated node back from its own store', async () => {
    const watch = sampleVersions(nodes)
    let traffic = true
    const negative = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(-0.5) } }
    const load = Promise.all(nodes.map(async n => {
      while (traffic) {
        await n.inference.infer('clf', undefined, negative).catch(() => undefined)
        await new Promise(resolve => setTimeout(resolve, 5))
      }
    }))
    const v3 = await apply(nodes[1]!, rolloutYaml('clf-v3', '3.0.0', `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 33}, {pause: 30s}, {setPercent: 100} ]
    abort:
      - { metric: nonFiniteRate, max: 0, minRequests: 5 }
    rollback: automatic
`), '3.0.0')
    try {
      await waitFor('rollout clf-v3 rolled back', () => phase(nodes[1]!, v3) === 'RolledBack', 60_000)
      await waitFor('every charged node back on v2', () => CHARGED.every(i => servedVersion(nodes[i]!) === '2.0.0'), 30_000)
    } finally {
      traffic = false
      watch.stop()
      await load
    }
    const progress = nodes[1]!.rollouts!.latestProgress(v3)!.progress
    expect(progress.trip).toMatch(/nonFiniteRate/)
    for (const s of watch.samples) for (const v of s) expect(['1.0.0', '2.0.0', '3.0.0']).toContain(v)
    // Never past the canary: at most one node ever ran v3, and the uncharged ones never changed.
    expect(Math.max(...watch.samples.map(s => s.filter(v => v === '3.0.0').length))).toBeLessThanOrEqual(1)
    for (const i of [2, 4]) expect(servedVersion(nodes[i]!)).toBe('1.0.0')
    const reverted = CHARGED.map(i => nodes[i]!.rollouts!.agent.get(v3)?.device?.kind)
    expect(reverted.filter(k => k === 'RolledBack')).toHaveLength(1)
  })

  it('holds a bake whose criteria cannot conclude, says so, and goes on when the operator resumes', async () => {
    const yaml = rolloutYaml('clf-v2-low', '2.0.0', `  selector:
    matchExpressions: [ { key: battery, operator: Lt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 50}, {pause: 2s}, {setPercent: 100} ]
    abort: [ { failureType: ALL, thresholdPercentage: 50, minNodes: 2 } ]
`)
    // Two targets (nodes 2 and 4): the canary is one device, the criterion needs two outcomes.
    const name = await apply(nodes[0]!, yaml, '2.0.0')
    await waitFor('the bake held on inconclusive criteria', () => {
      const p = nodes[2]!.rollouts!.latestProgress(name)?.progress
      return p != null && p.step === 1 && p.message.includes('criteria inconclusive')
    }, 60_000)
    const held = nodes[2]!.rollouts!.latestProgress(name)!.progress
    expect(held.phase).toBe('Progressing')
    expect(held.message).toContain('ALL: 1 of 2 nodes needed have an outcome')
    expect(held.message).toContain('`tutti rollout resume`')
    expect([2, 4].filter(i => servedVersion(nodes[i]!) === '2.0.0')).toHaveLength(1)
    // The operator's resume (a signed update with resumedThrough at the held step) passes it.
    const { envelope } = await signedRollout(adminKey, yaml, cids['2.0.0']!, policyVersion++, { paused: false, resumedThrough: 1, undo: false, deleted: false })
    await nodes[4]!.policies.apply(envelope)
    await waitFor('the rollout completed past the bake', () => nodes[4]!.rollouts!.latestProgress(name)?.progress.phase === 'Completed', 60_000)
    for (const i of [2, 4]) expect(servedVersion(nodes[i]!)).toBe('2.0.0')
  })

  it('replaces a coordinator that dies mid-rollout and completes the rollout', async () => {
    const name = await apply(nodes[0]!, rolloutYaml('clf-v1-again', '1.0.0', `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 33}, {pause: {}}, {setPercent: 100} ]
`), '1.0.0')
    // The rollout waits at its indefinite pause; its coordinator is known.
    await waitFor('a coordinator at the pause', () => {
      const p = nodes[0]!.rollouts!.latestProgress(name)?.progress
      return p != null && p.step === 1
    }, 60_000)
    const first = nodes[0]!.rollouts!.latestProgress(name)!.progress
    const victim = nodes.findIndex(n => n.peerId === first.coordinator)
    expect(victim).toBeGreaterThanOrEqual(0)
    await nodes[victim]!.stop()
    const alive = nodes.filter((_, i) => i !== victim)
    const observer = alive[0]!
    await waitFor('another coordinator with a higher epoch', () => {
      const p = observer.rollouts!.latestProgress(name)?.progress
      return p != null && p.coordinator !== first.coordinator && p.epoch > first.epoch
    }, 60_000)
    // Resume past the pause (a signed operator update), and the new coordinator finishes it.
    const held = observer.policies.get(name)!
    const { envelope } = await signedRollout(adminKey, rolloutYaml(name, '1.0.0', `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 33}, {pause: {}}, {setPercent: 100} ]
`), cids['1.0.0']!, held.doc.version + 1, { paused: false, resumedThrough: 1, undo: false, deleted: false })
    await observer.policies.apply(envelope)
    await waitFor('the rollout completed under the new coordinator', () => observer.rollouts!.latestProgress(name)?.progress.phase === 'Completed', 60_000)
    for (const i of CHARGED.filter(i => i !== victim)) expect(servedVersion(nodes[i]!)).toBe('1.0.0')
  })
})
