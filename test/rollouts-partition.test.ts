/**
 * A rollout across a partition, on real nodes (memory transport, a connection gater as the cut):
 * five nodes split 3 | 2 while a rollout waits at an indefinite pause. The operator resumes it on
 * the majority side, whose coordinator carries it out there; the minority side cannot make a
 * quorum and changes nothing. After healing, policy and progress converge and the rollout
 * completes everywhere. At every sample no node runs a version outside {old, new}.
 */
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fullyConverged, startLocalMesh, testLog, waitFor, createTestFleet } from '../sim/local-mesh.js'
import { TempDirs } from './models-helpers.js'
import { packClassifier, rolloutYaml, sampleVersions, servedVersion, signedRollout } from './rollout-helpers.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { PrivateKey } from '@libp2p/interface'


describe('a rollout across a partition', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  let nodes: TuttiNode[]
  let adminKey: PrivateKey
  const cids: Record<string, string> = {}
  /** Node index -> side (0 majority, 1 minority), set at the cut; consulted only while `partitioned`. */
  const side = new Map<string, number>()
  let partitioned = false
  let MAJORITY: number[] = []
  let MINORITY: number[] = []

  const progressOf = (node: TuttiNode, name: string) => node.rollouts?.latestProgress(name)?.progress

  beforeAll(async () => {
    const fleet = await createTestFleet('rollouts-partition')
    adminKey = fleet.adminKey
    const dir = await dirs.make('tutti-rollouts-partition-')
    mesh = await startLocalMesh({
      size: 5,
      fleet: fleet.fleet,
      heartbeatMs: 200,
      node: i => ({ dataDir: join(dir, `n${i}`) }),
      components: i => {
        const denied = (peer: { toString: () => string }): boolean => {
          const other = side.get(peer.toString())
          return partitioned && other !== undefined && other !== side.get(nodes[i]?.peerId ?? '')
        }
        return { connectionGater: { denyDialPeer: denied, denyInboundEncryptedConnection: denied, denyOutboundEncryptedConnection: denied } }
      }
    })
    nodes = mesh.nodes
    await waitFor('a full mesh view', () => fullyConverged(nodes), 60_000)
    for (const [v, seed] of [['1.0.0', 1], ['2.0.0', 2]] as const) {
      const pkg = await packClassifier(dir, adminKey, v, { seed })
      cids[v] = (await nodes[0]!.models!.store.importPackage(pkg)).cid
    }
    await nodes[0]!.models!.announceAll()
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('stalls the minority, advances the majority, and converges after healing', async () => {
    const first = await signedRollout(adminKey, rolloutYaml('part-v1', '1.0.0', '  selector: {}\n  strategy:\n    steps: [ {setPercent: 100} ]\n'), cids['1.0.0']!, 1)
    await nodes[0]!.policies.apply(first.envelope)
    await waitFor('v1 on every node', () => nodes.every(n => servedVersion(n) === '1.0.0'), 60_000)

    const watch = sampleVersions(nodes)
    const yaml = rolloutYaml('part-v2', '2.0.0', `  selector: {}
  strategy:
    steps: [ {setPercent: 40}, {pause: {}}, {setPercent: 100} ]
`)
    const v2 = await signedRollout(adminKey, yaml, cids['2.0.0']!, 1)
    await nodes[0]!.policies.apply(v2.envelope)
    const name = v2.name
    const on2 = (group: number[]): number[] => group.filter(i => servedVersion(nodes[i]!) === '2.0.0')
    await waitFor('the 40% wave at the pause', () => on2([0, 1, 2, 3, 4]).length === 2 &&
      nodes.every(n => progressOf(n, name)?.step === 1), 60_000)
    // The cut puts both canaries on the majority side: a minority that made a quorum of itself
    // would top its 40% up on its own two nodes.
    const canaries = on2([0, 1, 2, 3, 4])
    const others = [0, 1, 2, 3, 4].filter(i => !canaries.includes(i))
    MAJORITY = [...canaries, others[0]!]
    MINORITY = others.slice(1)
    nodes.forEach((n, i) => side.set(n.peerId, MAJORITY.includes(i) ? 0 : 1))
    const minorityBefore = MINORITY.map(i => servedVersion(nodes[i]!))
    expect(minorityBefore).toEqual(['1.0.0', '1.0.0'])

    // Cut: refuse new connections across the groups and hang up the existing ones.
    partitioned = true
    testLog('cut', { majority: MAJORITY, minority: MINORITY })
    for (const i of MAJORITY) for (const j of MINORITY) await nodes[i]!.libp2p.hangUp(nodes[j]!.libp2p.peerId)
    const seesDead = (i: number, group: number[]): boolean => group.every(j => nodes[i]!.nodes().find(m => m.peerId === nodes[j]!.peerId)?.status === 'dead')
    await waitFor('each side sees the other dead', () => MAJORITY.every(i => seesDead(i, MINORITY)) && MINORITY.every(i => seesDead(i, MAJORITY)), 60_000)

    // Resume on the majority side only: the policy cannot cross the cut.
    const resumed = await signedRollout(adminKey, yaml, cids['2.0.0']!, 2, { paused: false, resumedThrough: 1, undo: false, deleted: false })
    await nodes[0]!.policies.apply(resumed.envelope)
    await waitFor('the majority side on v2', () => on2(MAJORITY).length === MAJORITY.length, 60_000)
    await waitFor('the majority side completed', () => MAJORITY.every(i => progressOf(nodes[i]!, name)?.phase === 'Completed'), 60_000)
    const majorityProgress = progressOf(nodes[0]!, name)!
    expect(MAJORITY).toContain(nodes.findIndex(n => n.peerId === majorityProgress.coordinator))
    // The minority side: a few more heartbeats and coordinator ticks go by, and nothing moves.
    const seq = (i: number): number => nodes[i]!.nodes().find(m => m.self)!.seq
    const start = MINORITY.map(seq)
    await waitFor('ten more heartbeats on the minority side', () => MINORITY.every((i, k) => seq(i) >= start[k]! + 10), 60_000)
    expect(MINORITY.map(i => servedVersion(nodes[i]!))).toEqual(minorityBefore)
    for (const i of MINORITY) expect(nodes[i]!.policies.get(name)?.doc.version).toBe(1)
    for (const i of MINORITY) expect(progressOf(nodes[i]!, name)?.phase).not.toBe('Completed')

    // Heal: allow connections again and link the groups once; gossip and sync carry the rest.
    partitioned = false
    testLog('heal')
    // One link from a minority node to a majority node. (It used to be node 3 to node 0, which
    // links nothing when both are on the majority side: the heal then waited on background
    // redials and their backoff, and timed out twice in loaded full runs.)
    const [a, b] = [MINORITY[0]!, MAJORITY[0]!]
    await nodes[a]!.libp2p.dial(multiaddr(`${mesh.address(b)}/p2p/${nodes[b]!.peerId}`))
    await waitFor('a full mesh view again', () => fullyConverged(nodes), 60_000)
    await waitFor('the resumed policy everywhere', () => nodes.every(n => n.policies.get(name)?.doc.version === 2), 90_000)
    await waitFor('v2 on every node', () => nodes.every(n => servedVersion(n) === '2.0.0'), 60_000)
    await waitFor('one progress record, Completed, everywhere', () => {
      const ps = nodes.map(n => progressOf(n, name))
      return ps.every(p => p?.phase === 'Completed' && p.epoch === ps[0]!.epoch && p.coordinator === ps[0]!.coordinator)
    }, 60_000)
    watch.stop()
    for (const s of watch.samples) for (const v of s) expect(['1.0.0', '2.0.0']).toContain(v)
    // Its steps wait on events (a cut, death detection, healing, convergence) one after another:
    // ~20 s on an idle machine, several times that beside the rest of the suite.
  }, 300_000)
})
