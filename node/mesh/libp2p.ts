/**
 * The libp2p stack every node runs: TCP or in-memory transport,
 * the fleet's private network (pnet), noise, yamux, identify, ping, gossipsub and kad-dht in
 * server mode on Tutti's own protocol id. The admin CLI's dialer is ./dialer.ts.
 */
import { bootstrap } from '@libp2p/bootstrap'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { mdns } from '@libp2p/mdns'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { silentLogger } from '../../core/logger.js'
import { tuttiPreSharedKey } from './pnet.js'
import { tuneLibp2pStack } from './stack-tuning.js'
import { FLEET_SCORE_THRESHOLDS, fleetScoreParams } from './scoring.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Identify } from '@libp2p/identify'
import type { KadDHT } from '@libp2p/kad-dht'
import type { Ping } from '@libp2p/ping'
import type { Logger } from '../../core/logger.js'
import type { ConnectionGater, Libp2p, PeerId, PrivateKey, PeerDiscovery, Transport } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

/** Kademlia protocol id private to Tutti, so our DHT never mixes with the public IPFS one. */
export const DHT_PROTOCOL = '/tutti/kad/1.0.0'

export type TransportKind = 'tcp' | 'memory'

export type MeshServices = {
  identify: Identify
  ping: Ping
  pubsub: GossipSub
  dht: KadDHT
}

export type MeshLibp2p = Libp2p<MeshServices>

export interface MeshLibp2pInit {
  privateKey: PrivateKey
  /** The fleet's swarm key (see fleet.swarmKey). */
  swarmKey: Uint8Array
  /** @default 'tcp' */
  transport?: TransportKind
  listen?: string[]
  bootstrap?: string[]
  /** @default false */
  mdns?: boolean
  datastore?: Datastore
  /** Largest gossipsub RPC frame accepted, in bytes. @default MAX_PUBSUB_FRAME_BYTES */
  maxPubsubFrameBytes?: number
  /** Where a gossip stream failure is reported. @default silent */
  logger?: Logger
  /** Start once created. @default false */
  start?: boolean
  /** Dial bootstrap peers this often until connected, in ms. @default 5000 */
  bootstrapIntervalMs?: number
  /** Which peers and connections to refuse (tests partition a mesh with it). @default allow all */
  connectionGater?: ConnectionGater
  /** Transports to use instead of `transport`'s (the simulator's shaped in-memory one). */
  transports?: Array<(components: any) => Transport>
}

function transports (kind: TransportKind): Array<(components: any) => Transport> {
  switch (kind) {
    case 'tcp': return [tcp()]
    case 'memory': return [memory()]
    default: {
      const unreachable: never = kind
      throw new Error(`unknown transport ${String(unreachable)}`)
    }
  }
}

/**
 * Largest gossipsub RPC frame a node reads, in bytes. Our messages are far smaller (heartbeats
 * 4 KiB, policies 64 KiB); a frame past it ends the gossip stream it came on (see
 * {@link hangUpOnGossipReadError}). @default 1 MiB
 */
export const MAX_PUBSUB_FRAME_BYTES = 1024 * 1024

/** What it-length-prefixed throws on a frame our limits refuse: the peer's framing, not a reset. */
const FRAMING_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError'])

/**
 * gossipsub, when a peer's stream sends a frame over `maxInboundDataLength` (or a bad length),
 * drops that peer from its router but keeps the connection: neither side hears the other again
 * until some reconnect, and nothing says why. Hang up instead, with a warning: both sides add each
 * other back on the next connection (the connectivity loop redials). Other stream failures (a
 * reset as a duplicate connection closes) keep gossipsub's own handling: hanging up on those would
 * also cut the connection that replaced it.
 */
export function hangUpOnGossipReadError (libp2p: MeshLibp2p, logger: Logger, maxFrameBytes: number): void {
  const pubsub = libp2p.services.pubsub as unknown as { handlePeerReadStreamError?: (err: unknown, peerId: PeerId) => void }
  const original = pubsub.handlePeerReadStreamError?.bind(pubsub)
  if (original == null) throw new Error('gossipsub no longer has handlePeerReadStreamError: review hangUpOnGossipReadError')
  const log = logger.child('gossip')
  pubsub.handlePeerReadStreamError = (err, peerId) => {
    original(err, peerId)
    if (!FRAMING_ERRORS.has((err as { name?: string } | undefined)?.name ?? '')) return
    if (libp2p.getConnections(peerId).every(c => c.status !== 'open')) return
    log.warn('a peer sent a gossip frame over the limit; hanging up so both sides rejoin', { peer: peerId.toString(), maxFrameBytes, err })
    libp2p.hangUp(peerId).catch((hangUpErr: unknown) => { log.debug('hang-up failed', { peer: peerId.toString(), err: hangUpErr }) })
  }
}

/**
 * The connection monitor of every mesh node. Heartbeats judge liveness; the monitor only has to
 * catch dead sockets. Its adaptive ping timeout starts low, so give it room before a slow link
 * gets its connection torn down (a ping waits behind whatever the link has queued).
 */
export const MESH_CONNECTION_MONITOR = {
  pingInterval: 15_000,
  pingTimeout: { minTimeout: 10_000, maxTimeout: 60_000 }
} as const

export async function createMeshLibp2p (init: MeshLibp2pInit): Promise<MeshLibp2p> {
  tuneLibp2pStack()
  const peerDiscovery: Array<(components: any) => PeerDiscovery> = []
  if ((init.bootstrap ?? []).length > 0) {
    peerDiscovery.push(bootstrap({ list: init.bootstrap ?? [], timeout: 0, tagTTL: Infinity }))
  }
  if (init.mdns === true) peerDiscovery.push(mdns({ serviceTag: 'tutti.local' }))
  const maxFrameBytes = init.maxPubsubFrameBytes ?? MAX_PUBSUB_FRAME_BYTES
  const node = await createLibp2p<MeshServices>({
    start: init.start ?? false,
    privateKey: init.privateKey,
    datastore: init.datastore,
    addresses: { listen: init.listen ?? [] },
    transports: init.transports ?? transports(init.transport ?? 'tcp'),
    connectionProtector: tuttiPreSharedKey({ psk: init.swarmKey }),
    connectionGater: init.connectionGater,
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    connectionManager: {
      maxConnections: 200,
      dialTimeout: 10_000
    },
    connectionMonitor: MESH_CONNECTION_MONITOR,
    services: {
      identify: identify(),
      ping: ping(),
      pubsub: gossipsub({
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        maxInboundDataLength: maxFrameBytes,
        // Tutti nodes of one fleet are all behind the same pnet key; peer exchange on prune
        // helps a node that only knows its bootstrap peer find the rest.
        doPX: true,
        // Scoring for a fleet, not the public internet: see node/mesh/scoring.ts, docs/SCORING.md.
        scoreParams: fleetScoreParams(),
        scoreThresholds: FLEET_SCORE_THRESHOLDS,
        // Spot duplicate copies before verifying their signature again. With StrictSign the
        // message id already is author + seqno, and gossipsub caches this key only after a copy
        // has passed signature validation, so a forged copy cannot shadow the real one.
        // Measured: CPU at 10 nodes fell from 0.45 to 0.25 cores (bench mesh).
        fastMsgIdFn: msg => msg.from != null && msg.seqno != null
          ? `${uint8ArrayToString(msg.from, 'base64')}:${uint8ArrayToString(msg.seqno, 'base16')}`
          : 'unsigned'
      }),
      dht: kadDHT({
        protocol: DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper
      })
    }
  })
  hangUpOnGossipReadError(node, init.logger ?? silentLogger, maxFrameBytes)
  return node
}
