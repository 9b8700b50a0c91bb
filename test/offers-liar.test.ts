import { generateKeyPair } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.js'
import { rawCid } from '../core/cid.js'
import { silentLogger } from '../core/logger.js'
import { Fetcher } from '../node/fetcher/index.js'
import { fleetMemoryStore, makeTestModel, seedStore, seededBytes } from '../node/fetcher/testing.js'
import { swarmKey } from '../node/fleet/fleet.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { CHUNKS_PROTOCOL, ChunkServer, requestHave } from '../protocols/chunks/index.js'
import { createTestFleet, waitFor } from '../sim/local-mesh.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'

type MemoryStore = ReturnType<typeof fleetMemoryStore>
interface TestNode { libp2p: MeshLibp2p, store: MemoryStore, server: ChunkServer, address: string }

let counter = 0

describe('a seed with a member that claims whatever it is offered', () => {
  const nodes: TestNode[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => {
      await n.server.stop()
      await n.libp2p.stop()
    }))
  })

  async function startNode (fleet: FleetConfig, store: MemoryStore): Promise<TestNode> {
    const address = `/memory/offers-liar-${process.pid}-${counter++}`
    const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', listen: [address], start: true })
    const server = new ChunkServer({ libp2p, store, clock: systemClock, logger: silentLogger })
    await server.start()
    const node = { libp2p, store, server, address }
    nodes.push(node)
    return node
  }

  async function connect (from: TestNode, to: TestNode): Promise<void> {
    await from.libp2p.dial(multiaddr(`${to.address}/p2p/${to.libp2p.peerId.toString()}`))
    await waitFor('identify to complete', async () => {
      try {
        return (await from.libp2p.peerStore.get(to.libp2p.peerId)).protocols.includes(CHUNKS_PROTOCOL)
      } catch {
        return false
      }
    }, 10_000, 10)
  }

  it('honest downloaders still complete from the seed', async () => {
    const { fleet, adminKey } = await createTestFleet()
    const model = await makeTestModel(seededBytes(32 * 16 * 1024 - 100, 7), adminKey, { chunkBytes: 16 * 1024 })
    const count = model.sealed.manifest.chunks.length
    const seedStoreOf = fleetMemoryStore(fleet)
    await seedStore(seedStoreOf, model)
    const seed = await startNode(fleet, seedStoreOf)
    const liar = await startNode(fleet, fleetMemoryStore(fleet))
    const honest = await Promise.all([0, 1].map(async () => await startNode(fleet, fleetMemoryStore(fleet))))
    await connect(liar, seed)
    for (const h of honest) await connect(h, seed)

    // The liar asks for everything it does not claim yet and claims every chunk it is offered,
    // fetching none, until every chunk has been offered once, and then keeps its word fresh.
    const claimed = new Array<boolean>(count).fill(false)
    const stop = new AbortController()
    let asks = 0
    const lying = (async () => {
      while (!stop.signal.aborted) {
        const answer = await requestHave({ libp2p: liar.libp2p, clock: systemClock }, seed.libp2p.peerId, model.sealed.cid, {
          chunkCount: count, have: claimed, want: claimed.map(c => !c), signal: stop.signal
        }).catch(err => { if (stop.signal.aborted) return undefined; throw err })
        answer?.offers.forEach((o, i) => { if (o) claimed[i] = true })
        asks++
        await new Promise(resolve => setImmediate(resolve))
      }
    })()
    await waitFor('the liar to claim every chunk', () => claimed.every(Boolean), 30_000, 10)

    const results = await Promise.all(honest.map(async h => await new Fetcher({
      libp2p: h.libp2p, store: h.store, clock: systemClock, logger: silentLogger, onChunkStored: cid => { h.server.chunkStored(cid) }
    }, { progressIntervalMs: 1 }).fetch(model.sealed.cid)))
    stop.abort()
    await lying

    expect(asks).toBeGreaterThan(1)
    for (const [i, h] of honest.entries()) {
      expect(results[i]!.chunksFetched).toBeGreaterThan(0)
      expect(rawCid(await h.store.assemble(model.sealed.cid))).toBe(model.sealed.manifest.digest)
    }
  }, 60_000)
})
