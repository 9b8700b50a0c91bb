import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshNode, createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { LocalMesh } from '../sim/local-mesh.js'

describe('an in-process mesh', () => {
  let mesh: LocalMesh | undefined
  const dirs: string[] = []

  afterEach(async () => {
    await mesh?.stop()
    mesh = undefined
    await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  })

  it('converges to a full mesh view with 10 nodes', async () => {
    const { fleet } = await createTestFleet()
    mesh = await startLocalMesh({
      size: 10,
      fleet,
      node: i => ({ labels: { zone: i % 2 === 0 ? 'east' : 'west' }, props: { battery: String(50 + i) } })
    })
    // A failsafe, not a timing: on a busy machine 10 nodes in one process converge slowly.
    await waitFor('10 nodes to see each other alive', () => fullyConverged(mesh!.nodes), 150_000)
    const view = mesh.nodes[3]!.nodes()
    expect(view).toHaveLength(10)
    const seven = view.find(m => m.peerId === mesh!.nodes[7]!.peerId)
    expect(seven?.labels).toEqual({ zone: 'west' })
    expect(seven?.props.battery).toBe('57')
    expect(seven?.props.cpus).toMatch(/^\d+$/)
  }, 180_000)
})
