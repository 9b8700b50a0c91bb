/**
 * Connectivity mends gossip on real libp2p nodes (memory transport, the fleet's pnet, gossipsub):
 * a gossip stream lost with a duplicate connection is re-opened, and a node that hears nothing
 * hangs up only the members with no live stream to it, never an admin session.
 */
import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { createFleet, swarmKey } from '../fleet/fleet.js'
import { waitFor } from '../../sim/local-mesh.js'
import { Connectivity, deafHangUps, planGossipRepair } from './connectivity.js'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { createMeshLibp2p } from './libp2p.js'
import { tuttiPreSharedKey } from './pnet.js'
import { libp2pMesh } from './mesh.js'
import type { MeshLibp2p } from './libp2p.js'
import type { Connection, Libp2p } from '@libp2p/interface'

const TOPIC = 'tutti/test/1'

describe('planGossipRepair / deafHangUps', () => {
  it('re-opens a missing outbound stream only once it was missing at the previous check too', () => {
    const peers = [{ peer: 'a', outbound: false, inbound: true }, { peer: 'b', outbound: true, inbound: true }, { peer: 'c', outbound: false, inbound: false }]
    const first = planGossipRepair(peers, new Set())
    expect(first.reopen).toEqual([])
    expect([...first.missing].sort()).toEqual(['a', 'c'])
    expect(planGossipRepair(peers, first.missing).reopen.sort()).toEqual(['a', 'c'])
    expect(planGossipRepair([{ peer: 'a', outbound: true, inbound: true }], first.missing).reopen).toEqual([])
  })

  it('hangs up only the peers without a live stream to this node', () => {
    expect(deafHangUps([{ peer: 'a', outbound: true, inbound: false }, { peer: 'b', outbound: false, inbound: true }])).toEqual(['a'])
  })
})

describe('gossip repair on real nodes', () => {
  const started: Libp2p[] = []
  afterEach(async () => {
    await Promise.all(started.splice(0).map(async n => { await n.stop() }))
  })

  async function mesh (count: number): Promise<{ nodes: MeshLibp2p[], key: Uint8Array }> {
    const { fleet } = await createFleet({ name: 'gossip-repair' })
    const key = swarmKey(fleet)
    const nodes: MeshLibp2p[] = []
    for (let i = 0; i < count; i++) {
      const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: key, transport: 'memory', listen: [`/memory/gossip-${randomBytes(6).toString('hex')}`] })
      await node.start()
      node.services.pubsub.subscribe(TOPIC)
      started.push(node)
      nodes.push(node)
    }
    return { nodes, key }
  }

  function connectivity (node: MeshLibp2p, knownPeers: () => string[], lastHeardMs?: () => number | undefined): { c: Connectivity, clock: ManualClock } {
    const clock = new ManualClock(0)
    const c = new Connectivity({ libp2p: node, clock, logger: silentLogger, random: () => 0.5, knownPeers, lastHeardMs, ...libp2pMesh(node).gossipRepair }, { deafAfterMs: 10_000, targetPeers: 0 })
    return { c, clock }
  }

  const gossipStreams = (node: MeshLibp2p, peer: MeshLibp2p, direction: 'inbound' | 'outbound'): number =>
    node.getConnections(peer.peerId).filter(c => c.status === 'open')
      .flatMap(c => c.streams).filter(s => s.direction === direction && s.status === 'open' && node.services.pubsub.protocols.includes(s.protocol ?? '')).length

  /** Opens a second connection a -> b, then closes whichever one carries a's outbound gossip stream to b. */
  async function loseOutboundStream (a: MeshLibp2p, b: MeshLibp2p): Promise<void> {
    await a.dial(b.getMultiaddrs()[0]!)
    await waitFor('a gossip stream a -> b', () => gossipStreams(a, b, 'outbound') === 1)
    const identified = new Promise<void>(resolve => {
      const onIdentify = (evt: CustomEvent<{ connection: Connection }>): void => {
        if (!evt.detail.connection.remotePeer.equals(b.peerId)) return
        a.removeEventListener('peer:identify', onIdentify)
        resolve()
      }
      a.addEventListener('peer:identify', onIdentify)
    })
    await a.dial(b.getMultiaddrs()[0]!, { force: true })
    await identified
    expect(a.getConnections(b.peerId)).toHaveLength(2)
    const carrier = a.getConnections(b.peerId).find(c => c.streams.some(s => s.direction === 'outbound' && a.services.pubsub.protocols.includes(s.protocol ?? '')))!
    await carrier.close()
    await waitFor('the carrier connection to close', () => a.getConnections(b.peerId).length === 1)
    // The bug this mends: still connected, yet no outbound gossip stream and none coming.
    await waitFor('gossipsub to drop the lost stream', () => gossipStreams(a, b, 'outbound') === 0)
  }

  it('re-opens the gossip stream a peer lost with a duplicate connection, and gossip flows again', async () => {
    const { nodes: [a, b] } = await mesh(2)
    await loseOutboundStream(a!, b!)
    const { c } = connectivity(a!, () => [b!.peerId.toString()])
    await c.check()
    await c.check()
    await waitFor('a new gossip stream a -> b', () => gossipStreams(a!, b!, 'outbound') === 1, 20_000)
    expect(a!.getConnections(b!.peerId)).toHaveLength(1)
    let heard = false
    b!.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === TOPIC) heard = true })
    await waitFor('b to hear a', async () => {
      await a!.services.pubsub.publish(TOPIC, randomBytes(8)).catch(() => {})
      return heard
    }, 20_000, 200)
  })

  it('when deaf, hangs up only members with no live stream to it, never an admin session or a healthy peer', async () => {
    const { nodes: [a, b, m], key } = await mesh(3)
    await a!.dial(b!.getMultiaddrs()[0]!)
    await waitFor('gossip a <-> b', () => gossipStreams(a!, b!, 'inbound') === 1 && gossipStreams(a!, b!, 'outbound') === 1)
    // m lost its stream to a: a hears nothing from m.
    await loseOutboundStream(m!, a!)
    await waitFor('a to see no live stream from m', () => gossipStreams(a!, m!, 'inbound') === 0)
    // What the admin CLI's dialer (./dialer.ts) is, on the memory transport: no gossip at all.
    const admin = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      transports: [memory()],
      connectionProtector: tuttiPreSharedKey({ psk: key }),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionMonitor: { enabled: false }
    })
    await admin.start()
    started.push(admin)
    await admin.dial(a!.getMultiaddrs()[0]!)
    const { c, clock } = connectivity(a!, () => [b!.peerId.toString(), m!.peerId.toString()], () => 0)
    clock.advance(20_000)
    expect(c.isDeaf(clock.now(), a!.getConnections().length)).toBe(true)
    await c.check()
    await waitFor('a to hang up m', () => a!.getConnections(m!.peerId).length === 0)
    expect(a!.getConnections(admin.peerId).filter(x => x.status === 'open')).toHaveLength(1)
    expect(a!.getConnections(b!.peerId).filter(x => x.status === 'open')).toHaveLength(1)
  })
})
