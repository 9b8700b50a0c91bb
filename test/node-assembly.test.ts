/**
 * A node assembled from parts: the mesh is built here and handed in (a real libp2p on the memory
 * transport, its gossip observed through the narrow transport the node takes), and a node stopped
 * while its restore waits on a download that cannot complete aborts that restore.
 */
import { readFile, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.js'
import { ConfigError } from '../core/errors.js'
import { createLogger, silentLogger } from '../core/logger.js'
import { ADMIN_PROTOCOL, callAdmin } from '../protocols/admin/index.js'
import { HEARTBEAT_TOPIC } from '../protocols/heartbeat/index.js'
import { swarmKey } from '../node/fleet/fleet.js'
import { makeTestModel, seededBytes } from '../node/fetcher/testing.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { libp2pMesh } from '../node/mesh/mesh.js'
import { openModelParts } from '../node/models/service.js'
import { ModelStore } from '../node/models/store.js'
import { TuttiNode, createTuttiNode } from '../node/tutti-node.js'
import { createTestFleet } from '../sim/local-mesh.js'
import { TempDirs } from './models-helpers.js'
import type { AddressInfo } from 'node:net'
import type { LogRecord } from '../core/logger.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { TuttiMesh } from '../node/mesh/mesh.js'
import type { MemberInfo } from '../node/membership/membership.js'

let counter = 0

describe('a TuttiNode assembled from parts', () => {
  const running: TuttiNode[] = []
  const dirs = new TempDirs()

  afterEach(async () => {
    await Promise.all(running.splice(0).map(async n => { await n.stop() }))
    await dirs.cleanup()
  })

  /** A memory-transport libp2p mesh built by the test, its gossip publishes recorded. */
  async function buildMesh (fleet: FleetConfig, address: string, bootstrap: string[]): Promise<{ mesh: TuttiMesh<MeshLibp2p>, published: string[] }> {
    const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', listen: [address], bootstrap })
    const mesh = libp2pMesh(libp2p)
    const published: string[] = []
    const pubsub = mesh.pubsub
    return {
      published,
      mesh: {
        libp2p,
        pubsub: {
          ...pubsub,
          publish: async (topic, data) => {
            published.push(topic)
            await pubsub.publish(topic, data)
          }
        }
      }
    }
  }

  it('runs over a mesh handed to it: heartbeats flow both ways through the given transport', async () => {
    const { fleet } = await createTestFleet()
    const tag = `assembly-${process.pid}-${counter++}`
    const a = await buildMesh(fleet, `/memory/${tag}-a`, [])
    const b = await buildMesh(fleet, `/memory/${tag}-b`, [`/memory/${tag}-a`])
    const init = { fleet, api: false as const, heartbeat: { baseIntervalMs: 100 }, connectivityCheckMs: 100 }
    const nodeA = new TuttiNode(init, { mesh: a.mesh, logger: silentLogger })
    const nodeB = new TuttiNode({ ...init, bootstrap: [`/memory/${tag}-a`] }, { mesh: b.mesh, logger: silentLogger })
    expect(nodeA.libp2p).toBe(a.mesh.libp2p)
    const joined = (node: TuttiNode, peer: string): Promise<MemberInfo> => new Promise(resolve => {
      const onJoin = (evt: CustomEvent<MemberInfo>): void => {
        if (evt.detail.peerId !== peer) return
        node.membership.removeEventListener('member:joined', onJoin)
        resolve(evt.detail)
      }
      node.membership.addEventListener('member:joined', onJoin)
    })
    const aHearsB = joined(nodeA, nodeB.peerId)
    const bHearsA = joined(nodeB, nodeA.peerId)
    for (const node of [nodeA, nodeB]) {
      await node.start()
      running.push(node)
    }
    const [seenByA, seenByB] = await Promise.all([aHearsB, bHearsA])
    expect(seenByA.status).toBe('alive')
    expect(seenByB.status).toBe('alive')
    expect(nodeA.nodes().map(m => m.peerId).sort()).toEqual([nodeA.peerId, nodeB.peerId].sort())
    expect(a.published.length).toBeGreaterThan(0)
    expect(new Set([...a.published, ...b.published])).toEqual(new Set([HEARTBEAT_TOPIC]))
    // Without model parts the node keeps no models, and says so.
    expect(nodeA.models).toBeUndefined()
    await nodeA.stop()
    running.splice(running.indexOf(nodeA), 1)
    expect(a.mesh.libp2p.status).toBe('stopped')
  })

  it('answers every admin method from the moment the admin protocol is up', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const address = `/memory/${`assembly-${process.pid}-${counter++}`}`
    const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', listen: [address] })
    const admin = await createMeshLibp2p({ privateKey: adminKey, swarmKey: swarmKey(fleet), transport: 'memory', start: true })
    const target = multiaddr(`${address}/p2p/${libp2p.peerId.toString()}`)
    // The node's start() waits on handle(ADMIN_PROTOCOL): ask right there, before start goes on.
    let firstAnswer: unknown
    const handle: typeof libp2p.handle = async (protocol, handler, options) => {
      await libp2p.handle(protocol, handler, options)
      if (protocol !== ADMIN_PROTOCOL) return
      firstAnswer = await callAdmin(admin, target, 'models.list').catch((err: unknown) => err)
    }
    const watched = new Proxy(libp2p, {
      get: (t, key) => {
        if (key === 'handle') return handle
        const value = Reflect.get(t, key, t) as unknown
        return typeof value === 'function' ? value.bind(t) : value
      }
    })
    const dataDir = await dirs.make()
    const models = await openModelParts({ libp2p, fleet, clock: systemClock, logger: silentLogger }, { root: join(dataDir, 'models') })
    const node = new TuttiNode({ fleet, api: false }, { mesh: { libp2p: watched, pubsub: libp2pMesh(libp2p).pubsub }, models, logger: silentLogger })
    running.push(node)
    try {
      await node.start()
      expect(firstAnswer).toEqual({ models: [], conflicts: [] })
    } finally {
      await admin.stop()
    }
  })

  it('refuses to start on a TCP port another socket holds, saying the address is in use', async () => {
    const { fleet } = await createTestFleet()
    const holder = createServer()
    const port = await new Promise<number>(resolve => {
      holder.listen({ host: '127.0.0.1', port: 0 }, () => { resolve((holder.address() as AddressInfo).port) })
    })
    try {
      const node = await createTuttiNode({ fleet, transport: 'tcp', listen: [`/ip4/127.0.0.1/tcp/${port}`], api: false }, { logger: silentLogger })
      const err = await node.start().then(() => undefined, (e: unknown) => e)
      expect(err).toBeInstanceOf(ConfigError)
      expect((err as Error).message).toBe(`cannot listen on /ip4/127.0.0.1/tcp/${port}: the address is in use (another node? pick a port with --listen)`)
      expect(node.libp2p.status).toBe('stopped')
    } finally {
      await new Promise(resolve => { holder.close(resolve) })
    }
  })

  it('stop() aborts a restore that waits on a download no peer can serve', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const dataDir = await dirs.make()
    // The store holds the manifest of a model activated before the restart, none of its chunks.
    const model = await makeTestModel(seededBytes(4096, 1), adminKey, { chunkBytes: 1024 })
    const store = await ModelStore.open({ root: join(dataDir, 'models'), fleet })
    await store.putManifest(model.sealed.envelope)
    await store.close()
    const { name, version } = model.sealed.manifest
    await writeFile(join(dataDir, 'serving.json'), JSON.stringify({ version: 1, active: { [name]: { version, cid: model.sealed.cid, limits: {} } } }))

    let fetching!: () => void
    const fetchStarted = new Promise<void>(resolve => { fetching = resolve })
    const sink = (record: LogRecord): void => { if (record.msg === 'fetching a model to activate it') fetching() }
    const node = await createTuttiNode({ fleet, dataDir, transport: 'memory', listen: [`/memory/restore-${process.pid}-${counter++}`], api: false }, { logger: createLogger({ level: 'debug', sink }) })
    running.push(node)
    await node.start()
    const restoring = node.restoring
    expect(restoring).toBeDefined()
    let settled = false
    const outcome = restoring!.then(() => ({ ok: true as const }), (err: unknown) => ({ ok: false as const, err }))
    void outcome.then(() => { settled = true })
    await fetchStarted
    expect(settled).toBe(false)

    await node.stop()
    running.splice(running.indexOf(node), 1)
    const result = await outcome
    expect(result.ok).toBe(false)
    const err = (result as { err: { code?: string, cause?: { code?: string } } }).err
    expect(err.code).toBe('ERR_RESTORE_ABORTED')
    expect(err.cause?.code).toBe('ERR_FETCH_ABORTED')
    // What was active stays recorded, for the next start to restore.
    const state = JSON.parse(await readFile(join(dataDir, 'serving.json'), 'utf8')) as { active: Record<string, { cid: string }> }
    expect(state.active[name]?.cid).toBe(model.sealed.cid)
  })
})
