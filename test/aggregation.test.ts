/**
 * Heartbeat aggregation on real nodes (memory transport), sharding forced in a small mesh: every
 * node hears only its own shard first-hand and the rest through the aggregators' digests, yet its
 * view holds every peer with the right status; a stopped node goes dead everywhere; a stopped
 * aggregator is replaced by its standby; a rollout across shards completes. Conditions are waited
 * on, never timed.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import { peerHash, rankAggregators, shardOf } from '../node/membership/shards.js'
import { TempDirs } from './models-helpers.js'
import { packClassifier, rolloutYaml, servedVersion, signedRollout } from './rollout-helpers.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { PrivateKey } from '@libp2p/interface'

const SIZE = 12
/** Generous for a busy 2-core machine: every wait is on a condition, and ends as soon as it holds. */
const LONG = 180_000

describe('heartbeat aggregation on a mesh of real nodes', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  let nodes: TuttiNode[]
  let adminKey: PrivateKey
  let cid: string
  /** The shard bits the mesh agreed on (12 nodes, shards of 3 or more: 1 or 2 bits, both reasonable). */
  let BITS = 0
  const shardOfNode = (n: TuttiNode): number => shardOf(peerHash(n.peerId), BITS)
  const live = (): TuttiNode[] => nodes.filter(n => !stopped.has(n))
  const stopped = new Set<TuttiNode>()

  /** Every live node sees every live node alive, through heartbeats in its shard and digests outside it. */
  const everyoneSeesEveryoneRight = (): boolean => live().every(n => live().every(m => {
    const info = n.membership.get(m.peerId)
    if (info == null || info.status !== 'alive') return false
    // A rollout coordinator hears every shard first-hand while it leads.
    if (m === n || n.membership.sharding().watchingAll) return true
    return shardOfNode(m) === shardOfNode(n) ? info.via === 'heartbeat' : info.via === 'digest'
  }))

  beforeAll(async () => {
    const fleet = await createTestFleet('aggregation')
    adminKey = fleet.adminKey
    const dir = await dirs.make('tutti-aggregation-')
    mesh = await startLocalMesh({
      size: SIZE,
      fleet: fleet.fleet,
      heartbeatMs: 200,
      node: i => ({
        dataDir: join(dir, `n${i}`),
        // None charged at first: the rollout test charges some in every shard.
        props: { battery: '30' },
        // Sharded from 8 nodes on, shards of 3 or more: 2 or 4 shards for 12 nodes. A generous digest
        // budget keeps the digest interval at the 200 ms base, so the test runs in seconds.
        aggregation: { shardAboveNodes: 8, minShardSize: 3, digestBudgetBytesPerSec: 1 << 20 }
      })
    })
    nodes = mesh.nodes
    const pkg = await packClassifier(dir, adminKey, '1.0.0', { seed: 1 })
    cid = (await nodes[0]!.models!.store.importPackage(pkg)).cid
    await nodes[0]!.models!.announceAll()
  })

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('every node holds every peer alive: first-hand in its shard, through digests outside it', async () => {
    await waitFor('every node sharded, on the same bits', () => {
      const bits = new Set(nodes.map(n => n.membership.sharding().bits))
      return bits.size === 1 && !bits.has(0)
    }, LONG)
    BITS = nodes[0]!.membership.sharding().bits
    // The 12 nodes fall in more than one shard (sha256 of their ids); otherwise nothing is tested.
    expect(new Set(nodes.map(shardOfNode)).size).toBeGreaterThan(1)
    await waitFor('every view complete and right', everyoneSeesEveryoneRight, LONG)
    expect(fullyConverged(nodes)).toBe(true)
    for (const n of nodes) {
      const s = n.membership.sharding()
      expect(s.shard).toBe(shardOfNode(n))
      expect(s.topic).toBe(`tutti/heartbeat/1/s${BITS}/${shardOfNode(n)}`)
    }
    // Each shard has its serving aggregators: the two XOR-closest of its members.
    for (const shard of new Set(nodes.map(shardOfNode))) {
      const members = nodes.filter(n => shardOfNode(n) === shard)
      const ranked = rankAggregators(BITS, shard, members.map(n => ({ id: n.peerId, hash: peerHash(n.peerId) })))
      await waitFor(`shard ${shard}'s aggregators serving`, () => members.every(n =>
        n.membership.sharding().role === (ranked.indexOf(n.peerId) < 2 ? 'serving' : ranked.indexOf(n.peerId) < 4 ? 'standby' : 'none')), LONG)
    }
    // From now on, a node hears heartbeats from its own shard only (no rollout: no node watches them all).
    const observer = nodes[5]!
    const heardFrom = new Set<string>()
    const onBeat = (evt: CustomEvent<{ peerId: string }>): void => { heardFrom.add(evt.detail.peerId) }
    observer.membership.addEventListener('heartbeat', onBeat)
    const before = observer.membership.getStats().digestsAccepted
    await waitFor('20 more digests at the observer', () => observer.membership.getStats().digestsAccepted >= before + 20, LONG)
    observer.membership.removeEventListener('heartbeat', onBeat)
    for (const id of heardFrom) expect(shardOf(peerHash(id), BITS)).toBe(shardOfNode(observer))
    expect(observer.membership.getStats().digestsRejected).toBe(0)
  }, 4 * LONG)

  it('a rollout across shards completes; its coordinator hears every shard while it leads', async () => {
    // Charged (the selector's battery > 50): every other member of each shard, so targets span them all.
    const charged = [...new Set(nodes.map(shardOfNode))].flatMap(shard => nodes.filter(n => shardOfNode(n) === shard).filter((_, k) => k % 2 === 0))
    for (const n of charged) n.setProperty('battery', '80')
    await waitFor('every view seeing the charged nodes charged', () => nodes.every(n => charged.every(t => n.membership.get(t.peerId)?.props.battery === '80')), LONG)
    const { name, envelope } = await signedRollout(adminKey, rolloutYaml('agg-v1', '1.0.0', `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 50}, {setPercent: 100} ]
`), cid, 1)
    await nodes[3]!.policies.apply(envelope)
    await waitFor('rollout agg-v1 completed', () => nodes.some(n => n.rollouts?.latestProgress(name)?.progress.phase === 'Completed'), LONG)
    expect(new Set(charged.map(shardOfNode)).size).toBeGreaterThan(1)
    for (const n of charged) expect(servedVersion(n)).toBe('1.0.0')
    for (const n of nodes.filter(n => !charged.includes(n))) expect(servedVersion(n)).toBeUndefined()
    const coordinator = nodes.find(n => n.rollouts?.leading() === true)
    expect(coordinator).toBeDefined()
    expect(coordinator!.membership.sharding().watchingAll).toBe(true)
    // Every view, via digests outside the shard, shows each charged node Active in the rollout.
    await waitFor('every node sees every target Active', () => nodes.every(n => charged.every(t =>
      n.membership.get(t.peerId)?.rollouts.some(r => r.name === name && r.state === 'Active') === true)), LONG)
  }, 4 * LONG)

  it('a node that stops goes dead in every other view, through the digests of its shard', async () => {
    // One that is no aggregator, in a shard of its own that others hear only through digests.
    const target = nodes.find(n => n.membership.sharding().role === 'none' && n.rollouts?.leading() !== true) ?? nodes.find(n => n.rollouts?.leading() !== true && n !== nodes[0])!
    stopped.add(target)
    await target.stop()
    await waitFor('the stopped node dead everywhere', () => live().every(n => n.membership.get(target.peerId)?.status === 'dead'), LONG)
    await waitFor('every other view still complete and right', everyoneSeesEveryoneRight, LONG)
  }, 4 * LONG)

  it('a serving aggregator that stops is replaced by its standby, and its shard stays visible', async () => {
    // A shard with a standby: three or more live members.
    const shard = [...new Set(live().map(shardOfNode))].find(s => live().filter(n => shardOfNode(n) === s).length >= 3)
    expect(shard).toBeDefined()
    const members = live().filter(n => shardOfNode(n) === shard)
    const ranked = rankAggregators(BITS, shard!, members.map(n => ({ id: n.peerId, hash: peerHash(n.peerId) })))
    const serving = members.find(n => n.peerId === ranked[0])!
    const standby = members.find(n => n.peerId === ranked[2])!
    expect(standby.membership.sharding().role).toBe('standby')
    const remote = live().find(n => shardOfNode(n) !== shard)!
    const fromStandby: number[] = []
    remote.membership.addEventListener('digest', evt => { if (evt.detail.aggregator === standby.peerId) fromStandby.push(evt.detail.entries + evt.detail.tagged) })
    stopped.add(serving)
    await serving.stop()
    await waitFor('the standby serving', () => standby.membership.sharding().role === 'serving', LONG)
    await waitFor('a remote node taking its digests', () => fromStandby.length >= 3, LONG)
    await waitFor('the stopped aggregator dead everywhere', () => live().every(n => n.membership.get(serving.peerId)?.status === 'dead'), LONG)
    await waitFor('every other view still complete and right', everyoneSeesEveryoneRight, LONG)
  }, 4 * LONG)
})
