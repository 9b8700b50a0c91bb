import { generateKeyPair } from '@libp2p/crypto/keys'
import { publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { swarmKey } from '../node/fleet/fleet.js'
import { DEFAULT_ADMISSION } from '../node/membership/admission.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { HEARTBEAT_TOPIC, encodeHeartbeat } from '../protocols/heartbeat/index.js'
import { callAdmin } from '../protocols/admin/index.js'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { MemberInfo } from '../node/membership/membership.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { LocalMesh } from '../sim/local-mesh.js'

const FAKES = 7000

/**
 * gossipsub signs what it publishes with `publishConfig`; a member that swaps it publishes
 * messages signed by identities it minted, all over its own connection, as the attack did.
 */
async function publishAs (member: MeshLibp2p, data: Uint8Array): Promise<void> {
  const privateKey = await generateKeyPair('Ed25519')
  const pubsub = member.services.pubsub as unknown as { publishConfig: unknown }
  const own = pubsub.publishConfig
  pubsub.publishConfig = { type: 0, author: peerIdFromPrivateKey(privateKey), key: publicKeyToProtobuf(privateKey.publicKey), privateKey }
  try {
    await member.services.pubsub.publish(HEARTBEAT_TOPIC, data)
  } finally {
    pubsub.publishConfig = own
  }
}

describe('a member minting identities (real libp2p nodes, memory transport)', () => {
  let mesh: LocalMesh | undefined
  let member: MeshLibp2p | undefined

  afterEach(async () => {
    await member?.stop()
    await mesh?.stop()
  })

  it(`${FAKES} fake identities from one member: the view stays bounded, the interval unstretched, get nodes answers`, async () => {
    const { fleet, adminKey } = await createTestFleet()
    mesh = await startLocalMesh({ size: 2, fleet, heartbeatMs: 1000 })
    await waitFor('2 nodes to converge', () => fullyConverged(mesh!.nodes), 30_000)
    const [a, b] = mesh.nodes as [typeof mesh.nodes[0], typeof mesh.nodes[0]]
    member = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', start: true })
    member.services.pubsub.subscribe(HEARTBEAT_TOPIC)
    await member.dial(multiaddr(a.addresses()[0]!))
    await waitFor('the member to see a subscribed', () => member!.services.pubsub.getSubscribers(HEARTBEAT_TOPIC).some(p => p.toString() === a.peerId))

    const seenBefore = a.membership.getStats()
    const startedMs = Date.now()
    for (let i = 0; i < FAKES; i++) {
      const now = Date.now()
      await publishAs(member, encodeHeartbeat({
        bootMs: now - 1000, seq: 1, sentMs: now, intervalMs: 60_000, nodeVersion: '0.1.0', uptimeMs: 1000,
        labels: { zone: `fake-${i}` }, props: {}, fleetSize: FAKES
      }))
    }
    // Every fake reached a's validator: accepted (admitted) or limited.
    await waitFor('a to judge every fake', () => {
      const s = a.membership.getStats()
      return s.limited - seenBefore.limited + (a.membership.view().length - 2) >= FAKES
    }, 60_000)

    // The member's bucket: a burst, then one more every newPerSourceEveryMs while the attack lasted.
    const allowed = DEFAULT_ADMISSION.newPerSourceBurst + Math.ceil((Date.now() - startedMs) / DEFAULT_ADMISSION.newPerSourceEveryMs)
    const fakesAtA = a.membership.view().filter(m => m.peerId !== a.peerId && m.peerId !== b.peerId)
    expect(fakesAtA.length).toBeLessThanOrEqual(allowed)
    expect(a.membership.getStats().limited - seenBefore.limited).toBeGreaterThanOrEqual(FAKES - allowed)
    // Relayed by one peer only: they do not count for the interval (the fakes are still alive).
    expect(fakesAtA.every(m => a.membership.get(m.peerId)?.status === 'alive')).toBe(true)
    expect(a.membership.corroboratedCount()).toBeLessThanOrEqual(2)
    // b heard only what a let through.
    expect(b.membership.view().length).toBeLessThanOrEqual(2 + allowed)
    await waitFor('a next heartbeat tick', () => a.membership.getStats().published > seenBefore.published + 2)
    expect(a.membership.currentIntervalMs()).toBe(1000)

    const admin = await createMeshLibp2p({ privateKey: adminKey, swarmKey: swarmKey(fleet), transport: 'memory', start: true })
    try {
      const res = await callAdmin<{ nodes: MemberInfo[] }>(admin, multiaddr(a.addresses()[0]!), 'nodes.list')
      expect(res.nodes.length).toBe(a.membership.view().length)
    } finally {
      await admin.stop()
    }
  }, 180_000)
})
