import { generateKeyPair } from '@libp2p/crypto/keys'
import { afterEach, describe, expect, it } from 'vitest'
import { swarmKey } from '../node/fleet/fleet.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { gossipsubTransport } from '../node/mesh/pubsub.js'
import {
  FLEET_SCORE_THRESHOLDS, INVALID_MESSAGE_DECAY, INVALID_MESSAGE_WEIGHT, IP_COLOCATION_THRESHOLD
} from '../node/mesh/scoring.js'
import { HEARTBEAT_TOPIC, decodeHeartbeat } from '../protocols/heartbeat/index.js'
import { createTestFleet, waitFor } from '../sim/local-mesh.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'

const LOOPBACK = '/ip4/127.0.0.1/tcp/0'

/** gossipsub's score of `peer` at `node` (the class has it; the exported interface does not). */
function scoreAt (node: MeshLibp2p, peer: string): number {
  return (node.services.pubsub as unknown as { getScore: (id: string) => number }).getScore(peer)
}

/** The heartbeat validator a node installs, as membership.ts has it: reject what does not decode. */
function validateHeartbeats (node: MeshLibp2p): void {
  gossipsubTransport(node.services.pubsub).setValidator(HEARTBEAT_TOPIC, (_from, data) => {
    try {
      decodeHeartbeat(data)
      return 'accept'
    } catch {
      return 'reject'
    }
  })
  node.services.pubsub.subscribe(HEARTBEAT_TOPIC)
}

describe('gossipsub scoring configured for a fleet (real libp2p nodes on loopback TCP)', () => {
  const nodes: MeshLibp2p[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  async function node (psk: Uint8Array): Promise<MeshLibp2p> {
    const n = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: psk, transport: 'tcp', listen: [LOOPBACK], start: true })
    nodes.push(n)
    return n
  }

  it('15 short-lived identities from one host do not get honest peers of that host graylisted', async () => {
    const { fleet } = await createTestFleet()
    const psk = swarmKey(fleet)
    const a = await node(psk)
    const b = await node(psk)
    validateHeartbeats(a)
    validateHeartbeats(b)
    await b.dial(a.getMultiaddrs()[0]!)
    const sybils = await Promise.all(Array.from({ length: 15 }, async () => await node(psk)))
    // a dials them (libp2p rate-limits inbound connections per host, 5 a second): the address
    // gossipsub counts is the same 127.0.0.1 either way.
    for (const s of sybils) await a.dial(s.getMultiaddrs()[0]!)
    // 17 peer ids on 127.0.0.1 as a sees it: b and the 15, plus itself on b's side.
    await waitFor('a to know every peer', () => a.services.pubsub.getPeers().length === 16)
    expect(16).toBeLessThanOrEqual(IP_COLOCATION_THRESHOLD)
    const scoreOfB = scoreAt(a, b.peerId.toString())
    expect(scoreOfB).toBeGreaterThan(FLEET_SCORE_THRESHOLDS.gossipThreshold)
    for (const s of sybils) expect(scoreAt(a, s.peerId.toString())).toBeGreaterThan(FLEET_SCORE_THRESHOLDS.graylistThreshold)
    // And b's messages still reach a once the sybils are gone.
    await Promise.all(sybils.map(async s => { await s.stop() }))
    const received = new Promise<void>(resolve => {
      a.services.pubsub.addEventListener('message', evt => { if (evt.detail.topic === 'tutti/scoring-test/1') resolve() })
    })
    a.services.pubsub.subscribe('tutti/scoring-test/1')
    await waitFor('b to see a subscribed', () => b.services.pubsub.getSubscribers('tutti/scoring-test/1').some(p => p.equals(a.peerId)))
    await b.services.pubsub.publish('tutti/scoring-test/1', Uint8Array.of(1))
    await received
  }, 60_000)

  it('a member flooding 3000 invalid heartbeats ends up graylisted', async () => {
    const { fleet } = await createTestFleet()
    const psk = swarmKey(fleet)
    const a = await node(psk)
    const m = await node(psk)
    validateHeartbeats(a)
    m.services.pubsub.subscribe(HEARTBEAT_TOPIC)
    await m.dial(a.getMultiaddrs()[0]!)
    await waitFor('m to see a subscribed', () => m.services.pubsub.getSubscribers(HEARTBEAT_TOPIC).some(p => p.equals(a.peerId)))
    const mId = m.peerId.toString()
    expect(scoreAt(a, mId)).toBeGreaterThanOrEqual(0)
    for (let i = 0; i < 3000; i++) {
      await m.services.pubsub.publish(HEARTBEAT_TOPIC, Uint8Array.of(0xff, i & 0xff, i >> 8))
      if (scoreAt(a, mId) < FLEET_SCORE_THRESHOLDS.graylistThreshold) break
    }
    await waitFor('m to be graylisted at a', () => scoreAt(a, mId) < FLEET_SCORE_THRESHOLDS.graylistThreshold)
  }, 60_000)
})

describe('invalid-message penalty arithmetic (P4 = weight x count^2, count x decay per second)', () => {
  const score = (count: number): number => INVALID_MESSAGE_WEIGHT * count * count
  const secondsBelow = (count: number, threshold: number): number => {
    let t = 0
    for (let c = count; score(c) < threshold; c *= INVALID_MESSAGE_DECAY) t++
    return t
  }

  it('one or three slips of an honest peer cost it nothing that matters', () => {
    expect(score(1)).toBeGreaterThan(FLEET_SCORE_THRESHOLDS.gossipThreshold)
    expect(score(3)).toBeGreaterThan(FLEET_SCORE_THRESHOLDS.gossipThreshold)
  })

  it('nine invalid messages reach the graylist, and a peer that stops recovers within minutes', () => {
    expect(score(9)).toBeLessThan(FLEET_SCORE_THRESHOLDS.graylistThreshold)
    expect(secondsBelow(9, FLEET_SCORE_THRESHOLDS.graylistThreshold)).toBeLessThan(10)
    expect(secondsBelow(3000, FLEET_SCORE_THRESHOLDS.graylistThreshold)).toBeLessThan(5 * 60)
  })
})
