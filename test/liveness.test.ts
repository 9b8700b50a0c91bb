import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshNode, createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { MemberStatus } from '../node/membership/view.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { LocalMesh, LocalMeshInit } from '../sim/local-mesh.js'

const HEARTBEAT_MS = 200

/** Status changes `observer` announces about `peerId`, in order. */
function recordStatus (observer: TuttiNode, peerId: string): string[] {
  const seen: string[] = []
  observer.membership.addEventListener('member:status', evt => {
    if (evt.detail.peerId === peerId) seen.push(`${evt.detail.from}->${evt.detail.to}`)
  })
  return seen
}

function statusIn (observer: TuttiNode, peerId: string): MemberStatus | undefined {
  return observer.membership.get(peerId)?.status
}

describe('liveness across a real mesh', () => {
  let mesh: LocalMesh | undefined
  const extra: TuttiNode[] = []
  const dirs: string[] = []

  afterEach(async () => {
    await Promise.all(extra.splice(0).map(async n => { await n.stop() }))
    await mesh?.stop()
    mesh = undefined
    await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  })

  it('marks a node that stops suspect, then dead, on every other node', async () => {
    const { fleet } = await createTestFleet()
    mesh = await startLocalMesh({ size: 3, fleet, heartbeatMs: HEARTBEAT_MS })
    await waitFor('3 nodes to converge', () => fullyConverged(mesh!.nodes), 30_000)
    const [a, b, gone] = mesh.nodes as [TuttiNode, TuttiNode, TuttiNode]
    const seenByA = recordStatus(a, gone.peerId)
    const seenByB = recordStatus(b, gone.peerId)

    mesh.nodes.splice(2, 1)
    await gone.stop()
    await waitFor('the stopped node to be suspect', () => statusIn(a, gone.peerId) === 'suspect' || statusIn(a, gone.peerId) === 'dead', 20_000)
    // The view judges on every read; the events come from the periodic sweep, a moment later.
    await waitFor('both to announce the stopped node dead', () => seenByA.length >= 2 && seenByB.length >= 2, 20_000)

    expect(seenByA).toEqual(['alive->suspect', 'suspect->dead'])
    expect(seenByB).toEqual(['alive->suspect', 'suspect->dead'])
    // The dead node no longer counts towards the fleet size; the survivors still see each other.
    expect(statusIn(a, gone.peerId)).toBe('dead')
    expect(statusIn(b, gone.peerId)).toBe('dead')
    await waitFor('the survivors to see each other alive', () =>
      statusIn(a, b.peerId) === 'alive' && statusIn(b, a.peerId) === 'alive' && a.membership.liveCount() === 2, 10_000)
  })

  it('sees a node restarted from the same data dir come back with the same peer id, counted as a restart', async () => {
    const { fleet } = await createTestFleet()
    const root = await mkdtemp(join(tmpdir(), 'tutti-liveness-'))
    dirs.push(root)
    const init: LocalMeshInit = { size: 3, fleet, heartbeatMs: HEARTBEAT_MS, node: i => ({ dataDir: join(root, `node-${i}`) }) }
    mesh = await startLocalMesh(init)
    await waitFor('3 nodes to converge', () => fullyConverged(mesh!.nodes), 30_000)
    const [a, b, first] = mesh.nodes as [TuttiNode, TuttiNode, TuttiNode]
    const peerId = first.peerId
    const oldBoot = a.membership.get(peerId)!.bootMs
    const seenByA = recordStatus(a, peerId)

    mesh.nodes.splice(2, 1)
    await first.stop()
    // Status events come from the periodic sweep; wait for the event, not just the view.
    await waitFor('A to announce the stopped node suspect', () => seenByA.includes('alive->suspect'), 20_000)

    const second = await createMeshNode(init, 2, mesh.address)
    extra.push(second)
    expect(second.peerId).toBe(peerId) // identity.key in the data dir
    await second.start()
    await waitFor('the restarted node to be alive again on both', () =>
      [a, b].every(n => statusIn(n, peerId) === 'alive' && (n.membership.get(peerId)?.restarts ?? 0) >= 1), 30_000)

    const seen = a.membership.get(peerId)!
    expect(seen.bootMs).toBeGreaterThan(oldBoot)
    // One truth: the node counts its own boots (DATA/boots.json) and its peers show that count.
    expect(second.membership.get(peerId)!.restarts).toBe(1)
    expect(a.membership.get(peerId)!.restarts).toBe(1)
    expect(b.membership.get(peerId)!.restarts).toBe(1)
    expect(seenByA[0]).toBe('alive->suspect')
    expect(seenByA.at(-1)).toMatch(/->alive$/)
    // And the restarted node sees the others again.
    await waitFor('the restarted node to see the others', () =>
      [a, b].every(n => second.membership.get(n.peerId)?.status === 'alive'), 30_000)
  })
})
