import { afterEach, describe, it } from 'vitest'
// A frame over the limit from b: before the fix, a dropped b from gossip and kept the connection,
// so the two never gossiped directly again until something else reconnected them.
import { MAX_PUBSUB_FRAME_BYTES } from '../node/mesh/libp2p.js'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { LocalMesh } from '../sim/local-mesh.js'

const TOPIC = 'tutti/test-big/1'

describe('a gossip frame over the limit (real libp2p nodes, memory transport)', () => {
  let mesh: LocalMesh | undefined
  afterEach(async () => { await mesh?.stop() })

  it('does not mute its sender: the receiver hangs up, both rejoin and gossip directly again', async () => {
    // Three nodes: a keeps hearing c, so it never thinks itself deaf and rejoins on its own.
    const { fleet } = await createTestFleet()
    mesh = await startLocalMesh({ size: 3, fleet, heartbeatMs: 200 })
    await waitFor('3 nodes to converge', () => fullyConverged(mesh!.nodes), 30_000)
    const [a, b] = mesh.nodes as [typeof mesh.nodes[0], typeof mesh.nodes[0]]
    a.libp2p.services.pubsub.subscribe(TOPIC) // only a: the frame goes to a alone
    await waitFor('b to see a on the topic', () => b.libp2p.services.pubsub.getSubscribers(TOPIC).some(p => p.toString() === a.peerId))

    const connectionBefore = a.libp2p.getConnections(b.libp2p.peerId)[0]!.id
    await b.libp2p.services.pubsub.publish(TOPIC, new Uint8Array(MAX_PUBSUB_FRAME_BYTES + 1024))
    // a refused the frame: b is no longer one of its gossip peers, until a new connection.
    await waitFor('a to drop b\'s gossip stream', () => !a.libp2p.services.pubsub.getPeers().some(p => p.equals(b.libp2p.peerId)))
    await waitFor('a and b to reconnect and speak gossip again', () =>
      a.libp2p.getConnections(b.libp2p.peerId).some(c => c.id !== connectionBefore && c.status === 'open') &&
      a.libp2p.services.pubsub.getPeers().some(p => p.equals(b.libp2p.peerId)), 30_000)
    const seq = a.membership.get(b.peerId)?.seq ?? 0
    await waitFor('a to hear new heartbeats of b', () => (a.membership.get(b.peerId)?.seq ?? 0) > seq, 30_000)
  }, 90_000)
})
