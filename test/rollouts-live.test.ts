/**
 * Rollouts against a fleet that changes under them, on real nodes (memory transport, real stores,
 * real onnxruntime): a selector over a live property picks up a node whose battery rises in the
 * wave it then falls into, and leaves a node whose battery drops on what it runs; and each kind
 * of bad version (one that fails its smoke test, one that is too slow under traffic) trips its
 * criterion, with the numbers, and leaves no node on it.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fullyConverged, startLocalMesh, waitFor, createTestFleet } from '../sim/local-mesh.js'
import { linearClassifier, matMulChain } from '../node/inference/testing/models.js'
import { hrwTop } from '../node/rollouts/hrw.js'
import { TempDirs } from './models-helpers.js'
import { packClassifier, packModel, rolloutYaml, sampleVersions, servedVersion, signedRollout } from './rollout-helpers.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { PolicyControl } from '../node/policy/document.js'
import type { PrivateKey } from '@libp2p/interface'

const BATTERY = [80, 90, 70, 30, 60]
/** The slow version: every request is CHAIN_BATCH × CHAIN_SIZE² × CHAIN_DEPTH multiply-adds (~0.5 G). */
const CHAIN_SIZE = 256
const CHAIN_DEPTH = 32
const CHAIN_BATCH = 256
/**
 * Below what one request of the slow version takes on an idle machine: 9-10 ms here when idle
 * (onnxruntime's GEMM at ~100 GFLOP/s), seconds when loaded. It was 40 ms, which only a loaded
 * machine exceeded: on an idle one the version never tripped the gate and the test waited forever.
 */
const SLOW_P95_MAX_MS = 2

describe('rollouts on a changing fleet of real nodes', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  let nodes: TuttiNode[]
  let adminKey: PrivateKey
  const cids: Record<string, string> = {}
  let policyVersion = 1

  const progressOf = (node: TuttiNode, name: string) => node.rollouts?.latestProgress(name)?.progress
  const apply = async (at: TuttiNode, yaml: string, version: string, control?: PolicyControl, docVersion = policyVersion++): Promise<string> => {
    const { name, envelope } = await signedRollout(adminKey, yaml, cids[version]!, docVersion, control)
    const result = await at.policies.apply(envelope)
    expect(result.durable).toBe(true)
    return name
  }
  const propsSeen = (peerId: string, key: string, value: string): boolean =>
    nodes.every(n => n.nodes().find(m => m.peerId === peerId)?.props[key] === value)

  beforeAll(async () => {
    const fleet = await createTestFleet('rollouts-live')
    adminKey = fleet.adminKey
    const dir = await dirs.make('tutti-rollouts-live-')
    mesh = await startLocalMesh({
      size: BATTERY.length,
      fleet: fleet.fleet,
      heartbeatMs: 200,
      node: i => ({ dataDir: join(dir, `n${i}`), props: { battery: String(BATTERY[i]) } })
    })
    nodes = mesh.nodes
    await waitFor('a full mesh view', () => fullyConverged(nodes), 60_000)
    const pkgs = {
      '1.0.0': await packClassifier(dir, adminKey, '1.0.0', { seed: 1 }),
      '2.0.0': await packClassifier(dir, adminKey, '2.0.0', { seed: 2 }),
      // Every weight NaN: it loads, and its smoke test (the packed sample input) answers NaN.
      '4.0.0': await packModel(dir, adminKey, '4.0.0', linearClassifier({ seed: 4, offset: Number.NaN }).bytes),
      '5.0.0': await packModel(dir, adminKey, '5.0.0', matMulChain({ size: CHAIN_SIZE, depth: CHAIN_DEPTH }).bytes, 64 * 1024),
      '6.0.0': await packClassifier(dir, adminKey, '6.0.0', { seed: 6 })
    }
    for (const [v, pkg] of Object.entries(pkgs)) cids[v] = (await nodes[0]!.models!.store.importPackage(pkg)).cid
    await nodes[0]!.models!.announceAll()
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('gives the version to a node whose battery rises mid-rollout in the wave it falls into, and leaves one whose battery drops on what it runs', async () => {
    // A device whose state changes heartbeats at once (off schedule, through publishNow, which
    // the schedule does not use): record what each such heartbeat carried.
    const offSchedule = nodes.map(() => [] as Array<string | undefined>)
    const restore = nodes.map((n, i) => {
      const publishNow = n.membership.publishNow.bind(n.membership)
      n.membership.publishNow = async () => {
        offSchedule[i]!.push(n.rollouts!.agent.get('live-v1')?.device?.kind)
        await publishNow()
      }
      return () => { n.membership.publishNow = publishNow }
    })
    const v1 = await apply(nodes[0]!, rolloutYaml('live-v1', '1.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 100} ]
`), '1.0.0')
    await waitFor('v1 on every node', () => nodes.every(n => servedVersion(n) === '1.0.0'), 60_000)
    await waitFor('live-v1 completed', () => nodes.every(n => progressOf(n, v1)?.phase === 'Completed'), 30_000)
    try {
      await waitFor('every node heartbeating its Active state off schedule', () => offSchedule.every(calls => calls.includes('Active')), 30_000)
    } finally {
      for (const r of restore) r()
    }

    const watch = sampleVersions(nodes)
    const body = `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 25}, {pause: {}}, {setPercent: 100} ]
`
    const yaml = rolloutYaml('live-v2', '2.0.0', body)
    const docVersion = policyVersion++
    const v2 = await apply(nodes[1]!, yaml, '2.0.0', undefined, docVersion)
    const on2 = (): number[] => nodes.flatMap((n, i) => servedVersion(n) === '2.0.0' ? [i] : [])
    await waitFor('the canary at the indefinite pause', () => progressOf(nodes[1]!, v2)?.step === 1 && on2().length === 1 &&
      nodes[on2()[0]!]!.rollouts!.agent.get(v2)?.device?.kind === 'Active', 60_000)
    const canary = on2()[0]!
    const charged = [0, 1, 2, 4]
    expect(charged).toContain(canary)
    const rest = charged.filter(i => i !== canary)
    // One charged node not yet updated drops out (it would otherwise get v2 at 100%), and the
    // uncharged node 3 charges.
    const dropped = rest[0]!
    // One after the other: with five targets at once, 25% would be two nodes.
    nodes[dropped]!.setProperty('battery', '10')
    await waitFor('every view sees the dropped battery', () => propsSeen(nodes[dropped]!.peerId, 'battery', '10'), 30_000)
    nodes[3]!.setProperty('battery', '80')
    await waitFor('every view sees the risen battery', () => propsSeen(nodes[3]!.peerId, 'battery', '80'), 30_000)
    // Still one of four targets updated (25%): nothing moved.
    expect(on2()).toEqual([canary])

    // The canary's battery drops: it keeps v2, and no longer counts, so the pause's 25% of the
    // three targets left (one node) is topped up in wave order.
    nodes[canary]!.setProperty('battery', '20')
    await waitFor('the canary seen uncharged', () => propsSeen(nodes[canary]!.peerId, 'battery', '20'), 30_000)
    const targets = [...rest.filter(i => i !== dropped), 3]
    const [next] = hrwTop(`${v2}/waves`, targets.map(i => nodes[i]!.peerId), 1)
    const nextIndex = nodes.findIndex(n => n.peerId === next)
    await waitFor('the next target in wave order on v2', () => servedVersion(nodes[nextIndex]!) === '2.0.0', 60_000)
    expect(progressOf(nodes[1]!, v2)?.step).toBe(1)

    // Resume past the pause: every target at the time gets v2.
    await apply(nodes[1]!, yaml, '2.0.0', { paused: false, resumedThrough: 1, undo: false, deleted: false }, docVersion + 1)
    await waitFor('live-v2 completed', () => progressOf(nodes[1]!, v2)?.phase === 'Completed', 60_000)
    watch.stop()
    for (const i of targets) expect(servedVersion(nodes[i]!)).toBe('2.0.0')
    expect(servedVersion(nodes[canary]!)).toBe('2.0.0')
    expect(servedVersion(nodes[dropped]!)).toBe('1.0.0')
    expect(nodes[dropped]!.rollouts!.agent.get(v2)?.device).toBeUndefined()
    // The node that charged ran v1 until its wave.
    const risen = watch.samples.map(s => s[3])
    expect(risen[0]).toBe('1.0.0')
    for (const s of watch.samples) for (const v of s) expect(['1.0.0', '2.0.0']).toContain(v)
  })

  it('aborts a version whose smoke test fails (failureType FAILED) and leaves no node on it', async () => {
    const before = nodes.map(servedVersion)
    const watch = sampleVersions(nodes)
    const name = await apply(nodes[2]!, rolloutYaml('live-nan', '4.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 40}, {pause: 30s}, {setPercent: 100} ]
    abort:
      - { failureType: FAILED, thresholdPercentage: 50, minNodes: 1 }
    rollback: automatic
`), '4.0.0')
    try {
      await waitFor('live-nan rolled back', () => progressOf(nodes[2]!, name)?.phase === 'RolledBack', 60_000)
    } finally {
      watch.stop()
    }
    const progress = progressOf(nodes[2]!, name)!
    // "FAILED 1 of 2 dispatched nodes (50%) >= threshold 50%": the numbers are there.
    const trip = /^FAILED (\d+) of (\d+) dispatched nodes? \((\d+)%\) >= threshold 50%$/.exec(progress.trip ?? '')
    expect(trip, progress.trip).not.toBeNull()
    const [, failing, dispatched, percent] = trip!.map(Number)
    expect(failing).toBeGreaterThanOrEqual(1)
    expect(dispatched).toBeLessThanOrEqual(2) // the 40% wave, never past it
    expect(percent).toBe(Math.floor(failing! * 100 / dispatched!))
    const failed = nodes.filter(n => n.rollouts!.agent.get(name)?.device?.kind === 'Failed')
    expect(failed.length).toBeGreaterThanOrEqual(1)
    for (const n of failed) expect(n.rollouts!.agent.get(name)?.device).toMatchObject({ reason: expect.stringMatching(/NaN|smoke|sample/i) })
    expect(nodes.map(servedVersion)).toEqual(before)
    for (const s of watch.samples) expect(s).toEqual(before)
  })

  // Skipped: passed twice, then timed out (60 s) waiting for RolledBack in three runs in a row on a
  // loaded 2-core machine, also with the coordinator's latest change reverted; the cause is not
  // found yet. The p95LatencyMs gate itself is table-tested in node/rollouts/gates.test.ts.
  // Restore once the stall (activation of the slow version, or its revert) is understood.
  it('aborts a version too slow under traffic (p95LatencyMs) and rolls every updated node back from its own store', async () => {
    const before = nodes.map(servedVersion)
    const watch = sampleVersions(nodes)
    let traffic = true
    const small = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(0.5) } }
    const big = { x: { type: 'float32' as const, dims: [CHAIN_BATCH, CHAIN_SIZE], data: new Float32Array(CHAIN_BATCH * CHAIN_SIZE).fill(0.01) } }
    const load = Promise.all(nodes.map(async n => {
      while (traffic) {
        const slow = servedVersion(n) === '5.0.0'
        await n.inference.infer('clf', undefined, slow ? big : small).catch(() => undefined)
        // Room between slow requests: a saturated machine would delay the heartbeats carrying the stats.
        await new Promise(resolve => setTimeout(resolve, slow ? 200 : 20))
      }
    }))
    const name = await apply(nodes[3]!, rolloutYaml('live-slow', '5.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 40}, {pause: 5m}, {setPercent: 100} ]
    abort:
      - { metric: p95LatencyMs, max: ${SLOW_P95_MAX_MS}, minNodes: 1, minRequests: 3 }
    rollback: automatic
`), '5.0.0')
    try {
      await waitFor('live-slow rolled back', () => progressOf(nodes[3]!, name)?.phase === 'RolledBack', 120_000)
      await waitFor('every node back on what it ran', () => nodes.every((n, i) => servedVersion(n) === before[i]), 30_000)
    } finally {
      traffic = false
      watch.stop()
      await load
    }
    const progress = progressOf(nodes[3]!, name)!
    const trip = /^p95LatencyMs (\d+(?:\.\d+)?) > max (\d+)/.exec(progress.trip ?? '')
    expect(trip, progress.trip).not.toBeNull()
    expect(Number(trip![1])).toBeGreaterThan(SLOW_P95_MAX_MS)
    expect(Number(trip![2])).toBe(SLOW_P95_MAX_MS)
    // The 40% wave (two of five) ran it, and each went back to its own previous version.
    const reverted = nodes.filter(n => n.rollouts!.agent.get(name)?.device?.kind === 'RolledBack')
    expect(reverted.length).toBeGreaterThanOrEqual(1)
    expect(reverted.length).toBeLessThanOrEqual(2)
    for (const s of watch.samples) s.forEach((v, i) => { expect([before[i], '5.0.0']).toContain(v) })
    expect(Math.max(...watch.samples.map(s => s.filter(v => v === '5.0.0').length))).toBeGreaterThanOrEqual(1)
  }, 180_000)

  it('with prefetch, every target downloads the version once the canary wave is done, and only its wave runs it', async () => {
    const heldBefore = nodes.map(n => n.serving.isLocal(cids['6.0.0']!))
    const name = await apply(nodes[2]!, rolloutYaml('live-prefetch', '6.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 20}, {pause: {}}, {setPercent: 100} ]
    prefetch: true
`), '6.0.0')
    const cid = cids['6.0.0']!
    // Until the canary wave is done, only the nodes it commands download: a node that holds the
    // version while the rollout it knows of is still at step 0 and was not commanded prefetched early.
    const early = new Set<number>()
    const sampler = setInterval(() => {
      nodes.forEach((n, i) => {
        const p = progressOf(n, name)
        if (!heldBefore[i]! && (p == null || p.step === 0) && n.serving.isLocal(cid) && n.rollouts!.agent.get(name)?.device == null) early.add(i)
      })
    }, 5)
    try {
      await waitFor('every node holding 6.0.0', () => nodes.every(n => n.serving.isLocal(cid)), 60_000)
    } finally {
      clearInterval(sampler)
    }
    expect([...early]).toEqual([])
    await waitFor('the 20% wave at the pause', () => progressOf(nodes[2]!, name)?.step === 1, 60_000)
    expect(nodes.filter(n => servedVersion(n) === '6.0.0')).toHaveLength(1)
  })
})
