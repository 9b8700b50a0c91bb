/**
 * NAME@VERSION across a fleet of real nodes: a name and version packed twice and pushed to two
 * peers is detected everywhere and never chosen silently; a member announcing NAME@VERSION for a
 * CID it is not signed as (issue 10, item 4) neither hijacks an activation nor breaks a pull.
 */
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import { packMatMul, TempDirs } from './models-helpers.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { HeartbeatModel } from '../protocols/heartbeat/index.js'

describe('model versions across the fleet', () => {
  const dirs = new TempDirs()
  let mesh: LocalMesh
  let holderA: TuttiNode
  let holderB: TuttiNode
  let liar: TuttiNode
  let asker: TuttiNode
  const cid: Record<string, string> = {}

  beforeAll(async () => {
    const { fleet, adminKey } = await createTestFleet('versions')
    const root = await dirs.make()
    mesh = await startLocalMesh({ size: 4, fleet, node: i => ({ dataDir: join(root, `n${i}`) }) })
    ;[holderA, holderB, liar, asker] = mesh.nodes as [TuttiNode, TuttiNode, TuttiNode, TuttiNode]
    await waitFor('4 nodes to converge', () => fullyConverged(mesh.nodes), 30_000)

    // mm@1.0.0 packed twice (other weights): one copy on A, the other on B.
    const mm1 = await packMatMul(root, adminKey, { name: 'mm', version: '1.0.0', seed: 1 })
    const mm2 = await packMatMul(root, adminKey, { name: 'mm', version: '1.0.0', seed: 2 })
    const pz3 = await packMatMul(root, adminKey, { name: 'pz3', version: '1.0.0', seed: 3 })
    const never = await packMatMul(root, adminKey, { name: 'pz3', version: '99.0.0', seed: 4 }) // signed, held by nobody
    cid.mm1 = mm1.cid
    cid.mm2 = mm2.cid
    cid.pz3 = pz3.cid
    cid.never = never.cid
    await holderA.models!.store.importPackage(mm1.dir)
    await holderA.models!.store.importPackage(pz3.dir)
    await holderB.models!.store.importPackage(mm2.dir)

    // The liar is a member like any other, whose heartbeats claim what it likes.
    const lies: HeartbeatModel[] = [
      { name: 'pz3', version: '99.0.0', cid: cid.never, state: 'active' },
      { name: 'pz3', version: '98.0.0', cid: cid.pz3, state: 'active' },
      { name: 'mm', version: '1.0.0', cid: cid.pz3, state: 'staged' }
    ]
    liar.serving.heartbeatModels = () => lies
    await Promise.all(mesh.nodes.map(async n => { await n.membership.publishNow() }))
    const announced = (n: TuttiNode, c: string, by: TuttiNode): boolean => n.nodes().some(m => m.peerId === by.peerId && (m.models ?? []).some(x => x.cid === c))
    await waitFor('every node to hear every announcement', () => mesh.nodes.every(n =>
      announced(n, cid.mm1!, holderA) && announced(n, cid.mm2!, holderB) && announced(n, cid.never!, liar)), 30_000)
  }, 120_000)

  afterAll(async () => {
    await mesh?.stop()
    await dirs.cleanup()
  })

  it('refuses NAME@VERSION that names two signed manifests, naming both CIDs, on a peer that holds one and on one that holds neither', async () => {
    const both = [cid.mm1!, cid.mm2!].sort()
    for (const node of [asker, holderA]) {
      const err = await node.models!.resolve('mm@1.0.0').catch((e: unknown) => e)
      expect(err).toMatchObject({ code: 'ERR_MODEL_VERSION_AMBIGUOUS', cids: both })
      expect((err as Error).message).toContain(both[0])
      expect((err as Error).message).toContain(both[1])
    }
    await expect(holderA.serving.activate('mm@1.0.0')).rejects.toMatchObject({ code: 'ERR_MODEL_VERSION_AMBIGUOUS' })
    await expect(asker.models!.startJob('pull', 'mm@1.0.0')).rejects.toMatchObject({ code: 'ERR_MODEL_VERSION_AMBIGUOUS' })
    // By CID the operator says which one: that works.
    expect((await holderA.serving.activate(cid.mm1!)).version).toBe('1.0.0')
  })

  it('flags the conflict in listings and descriptions everywhere; a liar\'s announcement adds no CID to it', async () => {
    const list = await holderA.models!.adminHandlers()['models.list']!({}, { caller: 'test' }) as { conflicts: Array<{ name: string, version: string, cids: Array<{ cid: string, here: boolean, peers: string[] }> }> }
    expect(list.conflicts).toHaveLength(1)
    expect(list.conflicts[0]).toMatchObject({ name: 'mm', version: '1.0.0' })
    expect(list.conflicts[0]!.cids.map(c => [c.cid, c.here])).toEqual([[cid.mm1, true], [cid.mm2, false]].sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1))
    expect(list.conflicts[0]!.cids.find(c => c.cid === cid.mm2)!.peers).toEqual([holderB.peerId])
    const described = await holderB.models!.adminHandlers()['models.get']!({ ref: 'mm@1.0.0' }, { caller: 'test' }) as { conflict?: { cids: unknown[] } }
    expect(described.conflict?.cids).toHaveLength(2)
    expect((await asker.models!.conflicts()).map(c => `${c.name}@${c.version}`)).toEqual(['mm@1.0.0'])
  })

  it('pulls the genuine highest version of a bare name past announcements whose manifests do not verify or do not match', async () => {
    expect(await asker.models!.resolve('pz3')).toEqual({ cid: cid.pz3, name: 'pz3', version: '1.0.0', verified: true })
    const job = await asker.models!.startJob('pull', 'pz3')
    const done = await asker.models!.waitJob(job.id)
    expect(done).toMatchObject({ state: 'done', name: 'pz3', version: '1.0.0', cid: cid.pz3 })
  })

  it('never activates a CID announced under a version it is not signed as', async () => {
    await expect(asker.serving.activate('pz3@98.0.0')).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
    await expect(asker.serving.activate('pz3@99.0.0')).rejects.toMatchObject({ code: 'ERR_MODEL_NOT_FOUND' })
    expect(asker.inference.status().models).toEqual([])
    expect((await asker.serving.activate('pz3@1.0.0')).cid).toBe(cid.pz3)
  })
})
