/**
 * Kill a node in the middle of a download (SIGKILL: no clean-up), restart it from the same data
 * directory, and pull again: it resumes from the chunks it had verified and ends with the model
 * complete and verified.
 */
import { writeFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { aliveCount, loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { waitFor } from '../sim/local-mesh.js'
import type { NodeProcess } from '../cli/process-nodes.js'

describe('a download killed mid-way', () => {
  let root: string
  let adminKey: string
  let fleetFile: string
  const nodes: NodeProcess[] = []

  const start = async (name: string, extra: string[]): Promise<NodeProcess> => {
    const dir = join(root, name)
    const node = await startNodeProcess(name, dir, loopbackNodeArgs(dir, fleetFile, { extra }))
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-resume-'))
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    adminKey = fleet.adminKeyFile
    fleetFile = fleet.fleetFile
  })

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    await rm(root, { recursive: true, force: true })
  })

  it('resumes from the chunks it had after SIGKILL and completes with the right digest', async () => {
    const tutti = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runTutti(args, { env: { TUTTI_KEY: adminKey } })
    const seed = await start('seed', [])
    const model = join(root, 'mm.onnx')
    await writeFile(model, buildMatMulModel({ inputSize: 64, weightsBytes: 3 * 1024 * 1024, seed: 5 }))
    const packed = await tutti('model', 'pack', model, '--name', 'mm', '--version', '1.0.0', '--key', adminKey, '--out', join(root, 'pkg'), '--chunk-size', '64Ki')
    expect(packed.code).toBe(0)
    const chunks = Number(/in (\d+) chunks/.exec(packed.stdout)?.[1])
    expect(chunks).toBeGreaterThan(40)
    expect((await tutti('model', 'push', join(root, 'pkg'), '--peer', seed.addr!)).code).toBe(0)

    // A slow downloader: 256 KiB/s, so the 3 MiB take ~12 s and there is time to kill it.
    let slow = await start('slow', ['--bootstrap', seed.addr!, '--download-limit', '256KiB'])
    await waitFor('the two nodes to see each other', async () => (await aliveCount(slow)) === 2, 30_000, 200)
    await waitFor('slow to hear that seed holds mm', async () => {
      const res = await fetch(`${slow.api!}/v1/nodes`)
      const body = await res.json() as { nodes: Array<{ models: Array<{ name: string }> }> }
      return body.nodes.some(n => n.models.some(m => m.name === 'mm'))
    }, 30_000, 200)
    const pulling = runTutti(['model', 'pull', 'mm@1.0.0', '--peer', slow.addr!], { env: { TUTTI_KEY: adminKey } })
    let held = 0
    await waitFor('a part of the chunks to arrive', async () => {
      const res = await tutti('model', 'ls', '-o', 'json', '--peer', slow.addr!)
      if (res.code !== 0) return false
      const list = JSON.parse(res.stdout) as { models: Array<{ chunksHeld: number }> }
      held = list.models[0]?.chunksHeld ?? 0
      return held >= 5
    }, 60_000, 100)
    expect(held).toBeLessThan(chunks)
    slow.child.kill('SIGKILL')
    await new Promise<void>(resolve => slow.child.once('exit', () => { resolve() }))
    const interrupted = await pulling
    expect(interrupted.code).toBe(1)

    // Restart from the same data dir, no cap this time, and pull again.
    nodes.splice(nodes.indexOf(slow), 1)
    slow = await start('slow', ['--bootstrap', seed.addr!])
    await waitFor('the restarted node to see the seed', async () => (await aliveCount(slow)) === 2, 30_000, 200)
    const resumed = await tutti('model', 'pull', 'mm@1.0.0', '--peer', slow.addr!)
    expect(resumed.stderr).toBe('')
    const m = /pulled mm@1\.0\.0 .*: (\d+) chunks .* (\d+) already held/.exec(resumed.stdout)
    expect(m).not.toBeNull()
    const fetched = Number(m![1])
    const already = Number(m![2])
    expect(already).toBeGreaterThanOrEqual(held)
    expect(fetched + already).toBe(chunks)

    const ls = JSON.parse((await tutti('model', 'ls', '-o', 'json', '--peer', slow.addr!)).stdout) as { models: Array<{ complete: boolean, chunksHeld: number }> }
    expect(ls.models[0]).toMatchObject({ complete: true, chunksHeld: chunks })
  })
})
