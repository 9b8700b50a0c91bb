/**
 * The activation path rollouts will drive, on a real node with a real store and onnxruntime:
 * versions swap under load with no failed request, the previous version is kept for a rollback
 * without download, older ones are garbage-collected, and a restarted node serves what it served.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { pack } from '../node/models/pack.js'
import { linearClassifier } from '../node/inference/testing/models.js'
import { silentLogger } from '../core/logger.js'
import { TuttiNode } from '../node/tutti-node.js'
import { createTestFleet, waitFor } from '../sim/local-mesh.js'
import { TempDirs } from './models-helpers.js'
import { multiaddr } from '@multiformats/multiaddr'
import { callAdmin } from '../protocols/admin/index.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { swarmKey } from '../node/fleet/fleet.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PrivateKey } from '@libp2p/interface'

describe('serving: activation, hot swap, rollback and restart on a node', () => {
  const dirs = new TempDirs()
  const running: TuttiNode[] = []

  afterEach(async () => {
    await Promise.all(running.splice(0).map(async n => { await n.stop() }))
    await dirs.cleanup()
  })

  const startNode = async (fleet: FleetConfig, dataDir: string): Promise<TuttiNode> => {
    const node = await TuttiNode.create({ fleet, dataDir, transport: 'memory', listen: [`/memory/serving-${Math.random().toString(36).slice(2)}`], api: false }, { logger: silentLogger })
    await node.start()
    running.push(node)
    return node
  }

  const packVersion = async (dir: string, adminKey: PrivateKey, version: string, seed: number): Promise<string> => {
    const file = join(dir, `linear-${version}.onnx`)
    await writeFile(file, linearClassifier({ seed }).bytes)
    const result = await pack(file, { name: 'clf', version, adminKey, outDir: join(dir, `pkg-${version}`), chunkBytes: 1024 })
    return result.dir
  }

  it('swaps versions under concurrent load with zero failures, keeps the previous for rollback and collects older ones', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const node = await startNode(fleet, join(dir, 'data'))
    for (const [version, seed] of [['1.0.0', 1], ['2.0.0', 2], ['3.0.0', 3]] as const) {
      await node.models!.store.importPackage(await packVersion(dir, adminKey, version, seed))
    }
    await node.serving.activate('clf@1.0.0')

    const x = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(0.5) } }
    let stop = false
    let ok = 0
    const failures: unknown[] = []
    const versionsSeen = new Set<string>()
    const clients = Array.from({ length: 8 }, async () => {
      while (!stop) {
        try {
          const r = await node.inference.infer('clf', undefined, x)
          versionsSeen.add(r.modelVersion)
          ok++
        } catch (err) {
          failures.push(err)
        }
      }
    })
    const swap2 = await node.serving.activate('clf@2.0.0')
    const swap3 = await node.serving.activate('clf@3.0.0')
    stop = true
    await Promise.all(clients)
    expect(failures).toEqual([])
    expect(ok).toBeGreaterThan(0)
    expect(versionsSeen.has('3.0.0')).toBe(true)
    expect(swap2.previous).toBe('1.0.0')
    expect(swap3.previous).toBe('2.0.0')

    const held = node.models!.store.list().map(e => `${e.version}:${e.active ? 'active' : e.previous ? 'previous' : 'other'}`).sort()
    expect(held).toEqual(['2.0.0:previous', '3.0.0:active'])

    // Rollback to the previous version needs no download: it is held complete.
    const rolledBack = await node.serving.activate('clf@2.0.0')
    expect(rolledBack.previous).toBe('3.0.0')
    expect((await node.inference.infer('clf', undefined, x)).modelVersion).toBe('2.0.0')
  })

  it('serves the same active version after a restart', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const data = join(dir, 'data')
    let node = await startNode(fleet, data)
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.0.0', 7))
    await node.serving.activate('clf@1.0.0', { cpu: '250m' })
    await node.stop()
    running.splice(running.indexOf(node), 1)

    node = await startNode(fleet, data)
    const x = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(1) } }
    let version: string | undefined
    for (let i = 0; i < 200 && version == null; i++) {
      try {
        version = (await node.inference.infer('clf', undefined, x)).modelVersion
      } catch {
        await new Promise(resolve => setTimeout(resolve, 50)) // restore runs in the background after start
      }
    }
    expect(version).toBe('1.0.0')
    const status = node.inference.status().models.find(m => m.name === 'clf')
    expect(status?.versions[0]?.limits.cpuCores).toBe(0.25)
  })

  it('runs a shadow beside the active version, never returns its answers, and reports agreement in the heartbeat', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const node = await startNode(fleet, join(dir, 'data'))
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.0.0', 1))
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.1.0', 1)) // same weights: must agree
    await node.serving.activate('clf@1.0.0')
    await node.serving.shadow('clf@1.1.0', 1)
    const x = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(0.25) } }
    for (let i = 0; i < 20; i++) {
      expect((await node.inference.infer('clf', undefined, x)).modelVersion).toBe('1.0.0')
    }
    let shadow: { ag?: number, n: number } | undefined
    for (let i = 0; i < 100 && shadow?.ag == null; i++) {
      shadow = node.serving.heartbeatModels().find(m => m.version === '1.1.0')?.stats
      if (shadow?.ag == null) await new Promise(resolve => setTimeout(resolve, 20)) // comparisons finish after the answers
    }
    expect(shadow?.ag).toBe(1)
    expect(node.serving.heartbeatModels().find(m => m.version === '1.0.0')).toMatchObject({ state: 'active', stats: { n: 20, e: 0 } })
  })

  it('deactivate shows what is served: the store, listings and the heartbeat no longer say active, and a restart does not bring it back', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const data = join(dir, 'data')
    let node = await startNode(fleet, data)
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.0.0', 1))
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '2.0.0', 2))
    await node.serving.activate('clf@1.0.0')

    // A version that is not the served one is refused with a typed error naming what is served.
    await expect(node.serving.deactivate('clf@2.0.0')).rejects.toMatchObject({ code: 'ERR_NOT_SERVED', message: expect.stringContaining('the active version is clf@1.0.0') })
    expect(await node.serving.deactivate('clf@1.0.0')).toEqual({ name: 'clf', version: '1.0.0', stopped: 'active' })

    const entry = node.models!.list().find(e => e.version === '1.0.0')!
    expect(entry.active).toBe(false)
    expect(entry.previous).toBe(true)
    expect(node.models!.describe('clf@1.0.0').entry?.active).toBe(false)
    expect(node.serving.heartbeatModels().filter(m => m.state === 'active')).toEqual([])
    await expect(node.serving.deactivate('clf')).rejects.toMatchObject({ code: 'ERR_NOT_SERVED' })

    // infer through the admin protocol, as `tutti infer` does: it says how to serve what is held.
    const client = await createMeshLibp2p({ privateKey: adminKey, swarmKey: swarmKey(fleet), transport: 'memory', start: true })
    try {
      const inputs = [{ name: 'x', shape: [1, 8], datatype: 'FP32', data: new Array(8).fill(0.5) }]
      const refused = await callAdmin(client, multiaddr(node.addresses()[0]!), 'infer', { model: 'clf', inputs }).catch((err: unknown) => err)
      expect(refused).toMatchObject({ code: 'ERR_NOT_FOUND', message: expect.stringMatching(/not loaded.*holds clf@2\.0\.0 \(staged\).*tutti model activate clf@2\.0\.0/) })
    } finally {
      await client.stop()
    }

    await node.stop()
    running.splice(running.indexOf(node), 1)
    node = await startNode(fleet, data)
    await node.restoring
    expect(node.inference.status().models).toEqual([])
    expect(node.models!.list().some(e => e.active)).toBe(false)
  })

  const admin = async (node: TuttiNode, method: string, params: Record<string, unknown>): Promise<any> => await node.serving.adminHandlers()[method]!(params, { caller: 'test' })

  it('keeps a model\'s limits across version changes unless given again, and undo goes back to the previous version under them', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const data = join(dir, 'data')
    let node = await startNode(fleet, data)
    for (const [version, seed] of [['1.0.0', 1], ['2.0.0', 2]] as const) {
      await node.models!.store.importPackage(await packVersion(dir, adminKey, version, seed))
    }
    const limitsOf = (n: TuttiNode): unknown => n.inference.status().models.find(m => m.name === 'clf')?.versions.find(v => v.role === 'active')?.limits

    await admin(node, 'model.activate', { ref: 'clf@1.0.0', cpu: '250m', memory: '256Mi' })
    // A version change without limits keeps both; one given changes only itself.
    const second = await admin(node, 'model.activate', { ref: 'clf@2.0.0' })
    expect(second.status.limits).toEqual({ cpuCores: 0.25, memoryBytes: 256 * 1024 * 1024 })
    await admin(node, 'model.activate', { ref: 'clf@2.0.0', cpu: '500m' })
    expect(limitsOf(node)).toEqual({ cpuCores: 0.5, memoryBytes: 256 * 1024 * 1024 })

    // Undo: the previous version, the same limits; a second undo goes forward again.
    const undone = await admin(node, 'model.undo', { name: 'clf' })
    expect(undone).toMatchObject({ name: 'clf', version: '1.0.0', previous: '2.0.0' })
    expect(limitsOf(node)).toEqual({ cpuCores: 0.5, memoryBytes: 256 * 1024 * 1024 })

    // null removes a limit; the limits survive a restart and a deactivation.
    await admin(node, 'model.activate', { ref: 'clf@1.0.0', memory: null })
    expect(limitsOf(node)).toEqual({ cpuCores: 0.5 })
    await node.serving.deactivate('clf')
    await node.stop()
    running.splice(running.indexOf(node), 1)
    node = await startNode(fleet, data)
    await node.restoring
    const back = await admin(node, 'model.undo', { name: 'clf' })
    expect(back).toMatchObject({ version: '1.0.0' })
    expect(limitsOf(node)).toEqual({ cpuCores: 0.5 })

    const fresh = await startNode(fleet, join(dir, 'other'))
    await expect(admin(fresh, 'model.undo', { name: 'clf' })).rejects.toMatchObject({ code: 'ERR_NOTHING_TO_UNDO' })
  })

  it('shadows report their true request count, fraction and samples; a shadow needs an active version, a fraction above 0, and can be stopped', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const node = await startNode(fleet, join(dir, 'data'))
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.0.0', 1))
    await node.models!.store.importPackage(await packVersion(dir, adminKey, '1.1.0', 1))

    await expect(admin(node, 'model.shadow', { ref: 'clf@1.1.0', fraction: 0.5 })).rejects.toMatchObject({ code: 'ERR_NO_ACTIVE_VERSION' })
    expect(node.inference.status().models).toEqual([])
    await node.serving.activate('clf@1.0.0')
    await expect(admin(node, 'model.shadow', { ref: 'clf@1.1.0', fraction: 0 })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    await expect(admin(node, 'model.shadow', { ref: 'clf@1.1.0', fraction: 1.5 })).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    await admin(node, 'model.shadow', { ref: 'clf@1.1.0', fraction: 1 })

    const x = { x: { type: 'float32' as const, dims: [1, 8], data: new Float32Array(8).fill(0.25) } }
    for (let i = 0; i < 12; i++) await node.inference.infer('clf', undefined, x)
    // Every request is drawn (fraction 1); one is skipped, not sampled, while 4 wait (a busy machine).
    const ran = (): number => node.inference.metrics().find(m => m.version === '1.1.0')!.shadow!.sampled
    const settled = (): boolean => { const s = node.inference.metrics().find(m => m.version === '1.1.0')!.shadow!; return s.compared + s.failed + s.incomparable === ran() }
    await waitFor('every shadow run to be compared', settled, 30_000, 20) // comparisons finish after the answers
    const shadow = node.serving.heartbeatModels().find(m => m.version === '1.1.0')?.stats
    expect(ran()).toBeGreaterThan(0)
    expect(shadow).toMatchObject({ n: ran(), e: 0, sc: ran(), fr: 1, ag: 1 })

    await expect(admin(node, 'model.unshadow', { name: 'clf@1.0.0' })).rejects.toMatchObject({ code: 'ERR_NOT_SERVED' })
    expect(await admin(node, 'model.unshadow', { name: 'clf' })).toEqual({ name: 'clf', version: '1.1.0', stopped: 'shadow' })
    expect(node.inference.status().models[0]).toMatchObject({ active: '1.0.0', shadow: undefined })
    await expect(admin(node, 'model.unshadow', { name: 'clf' })).rejects.toMatchObject({ code: 'ERR_NOT_SERVED' })
    // deactivate NAME@VERSION of a shadow stops only the shadow
    await admin(node, 'model.shadow', { ref: 'clf@1.1.0', fraction: 0.25 })
    expect(await admin(node, 'model.deactivate', { name: 'clf@1.1.0' })).toMatchObject({ stopped: 'shadow' })
    expect((await node.inference.infer('clf', undefined, x)).modelVersion).toBe('1.0.0')
  })

  it('tells what retention removed, keeps --keep-versions per node across restarts, and never removes a version a rollout here references', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dir = await dirs.make()
    const data = join(dir, 'data')
    const startWith = async (models?: { retainVersions: number }): Promise<TuttiNode> => {
      const node = await TuttiNode.create({ fleet, dataDir: data, transport: 'memory', listen: [`/memory/serving-${Math.random().toString(36).slice(2)}`], api: false, models }, { logger: silentLogger })
      await node.start()
      running.push(node)
      return node
    }
    const stopOne = async (node: TuttiNode): Promise<void> => {
      await node.stop()
      running.splice(running.indexOf(node), 1)
    }
    let node = await startWith({ retainVersions: 3 })
    const cids: Record<string, string> = {}
    for (const [version, seed] of [['1.0.0', 1], ['2.0.0', 2], ['3.0.0', 3], ['4.0.0', 4], ['5.0.0', 5]] as const) {
      cids[version] = (await node.models!.store.importPackage(await packVersion(dir, adminKey, version, seed))).cid
    }
    for (const v of ['1.0.0', '2.0.0', '3.0.0']) expect((await node.serving.activate(`clf@${v}`)).removed).toEqual([])
    const fourth = await node.serving.activate('clf@4.0.0')
    expect(fourth).toMatchObject({ keepVersions: 3, removed: [{ name: 'clf', version: '1.0.0', cid: cids['1.0.0'] }] })
    await stopOne(node)

    // Started again without the flag: the setting was kept with the node.
    expect(JSON.parse(await readFile(join(data, 'config.json'), 'utf8'))).toEqual({ version: 1, keepVersions: 3 })
    node = await startWith()
    expect(node.info().keepVersions).toBe(3)
    await stopOne(node)

    // A rollout on this node put 3.0.0 here over 2.0.0: both stay, whatever retention plans.
    await writeFile(join(data, 'rollouts.json'), JSON.stringify({
      version: 1,
      records: {
        'clf-canary': {
          rollout: 'clf-canary', policyVersion: 1, acceptor: { promised: 1 }, device: { kind: 'Active' }, cid: cids['3.0.0'], model: 'clf',
          previous: { version: '2.0.0', cid: cids['2.0.0'], limits: {} }, updatedMs: 0
        }
      }
    }))
    node = await startWith({ retainVersions: 1 })
    await node.restoring
    const fifth = await node.serving.activate('clf@5.0.0')
    expect(fifth.removed.map(r => r.version)).toEqual(['4.0.0'])
    expect(node.models!.list().map(e => e.version).sort()).toEqual(['2.0.0', '3.0.0', '5.0.0'])
  })
})
