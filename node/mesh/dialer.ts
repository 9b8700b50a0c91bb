/**
 * The admin CLI's libp2p node: a dialer with the mesh's transport (TCP), private network, noise
 * and yamux, and nothing else (no listeners, gossip, DHT or identify). It never joins the fleet;
 * it only asks. Kept apart from ./libp2p.ts so a CLI command loads only these modules
 * (docs/CLI.md, "Start-up").
 */
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { createLibp2p } from 'libp2p'
import { tuttiPreSharedKey } from './pnet.js'
import { tuneLibp2pStack } from './stack-tuning.js'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

export interface DialerLibp2pInit {
  privateKey: PrivateKey
  /** The fleet's swarm key (see fleet.swarmKey). */
  swarmKey: Uint8Array
}

export async function createDialerLibp2p (init: DialerLibp2pInit): Promise<Libp2p> {
  tuneLibp2pStack()
  return await createLibp2p({
    privateKey: init.privateKey,
    addresses: { listen: [] },
    transports: [tcp()],
    connectionProtector: tuttiPreSharedKey({ psk: init.swarmKey }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false }
  })
}
