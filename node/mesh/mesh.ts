/**
 * The mesh a node runs on, as the node sees it: what `TuttiNode` and its services use of libp2p,
 * and gossip as the narrow {@link PubsubTransport}. The production mesh is libp2p
 * ({@link libp2pMesh} over `createMeshLibp2p`); a simulator hands in its own.
 */
import { gossipsubTransport } from './pubsub.js'
import type { MeshLibp2p } from './libp2p.js'
import type { PubsubTransport } from './pubsub.js'
import type { ConnectivityComponents } from './connectivity.js'
import type { Libp2p } from '@libp2p/interface'

/**
 * The libp2p surface a node uses: its peer id and addresses, start/stop, stream protocols
 * (handle, dial), connections (dial, hang up, list), peer store lookups, content routing (model
 * holders), and the peer connect/disconnect/discovery events.
 */
export type NodeLibp2p = Pick<Libp2p,
  'peerId' | 'start' | 'stop' | 'getMultiaddrs' | 'getConnections' | 'dial' | 'hangUp' | 'dialProtocol' | 'handle' |
  'unhandle' | 'peerStore' | 'contentRouting' | 'addEventListener' | 'removeEventListener' | 'getPeers'>

/** A node's mesh: streams and connections through `libp2p`, gossip through `pubsub`. */
export interface TuttiMesh<L extends NodeLibp2p = NodeLibp2p> {
  libp2p: L
  /** Gossip: subscribe/publish with validators that run before a message is forwarded. */
  pubsub: PubsubTransport
  /**
   * The gossip router and identify, for connectivity to re-open a gossip stream a peer lost
   * (node/mesh/connectivity.ts). A mesh without them is not mended.
   */
  gossipRepair?: Required<Pick<ConnectivityComponents, 'pubsub' | 'identify'>>
}

/** The production mesh: the libp2p stack of `createMeshLibp2p`, its gossipsub as the transport. */
export function libp2pMesh (libp2p: MeshLibp2p): TuttiMesh<MeshLibp2p> {
  const gossipsub = libp2p.services.pubsub
  // The class has the map public; its exported interface does not list it.
  const streams = (gossipsub as unknown as { streamsOutbound?: unknown }).streamsOutbound
  return {
    libp2p,
    pubsub: gossipsubTransport(gossipsub),
    gossipRepair: {
      pubsub: {
        getPeers: () => gossipsub.getPeers(),
        protocols: gossipsub.protocols,
        streamsOutbound: streams instanceof Map ? streams as Map<string, unknown> : undefined
      },
      identify: libp2p.services.identify
    }
  }
}
