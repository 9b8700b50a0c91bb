/**
 * Keeps a node connected: redials bootstrap peers while it has no connection (they may start
 * after it, or come back after a crash), and, while it has fewer than `targetPeers` connections,
 * dials members it has heard of, so the mesh does not hang on the bootstrap peer alone.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import type { Clock, TimerHandle } from '../clock.js'
import type { Logger } from '../logger.js'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

export interface ConnectivityInit {
  bootstrap?: string[]
  /** @default 6 */
  targetPeers?: number
  /** @default 2000 */
  checkIntervalMs?: number
}

export interface ConnectivityComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerId' | 'addEventListener' | 'removeEventListener'>
  clock: Clock
  logger: Logger
  random: () => number
  /** Peers this node knows to be in the fleet (from heartbeats). */
  knownPeers: () => string[]
}

/** Picks which known peers to dial: not connected, not self, shuffled, enough to reach the target. */
export function chooseDials (known: string[], connected: Set<string>, self: string, target: number, random: () => number): string[] {
  const missing = Math.max(0, target - connected.size)
  if (missing === 0) return []
  const candidates = known.filter(p => p !== self && !connected.has(p))
  for (let i = candidates.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!]
  }
  return candidates.slice(0, missing)
}

export class Connectivity {
  private readonly components: ConnectivityComponents
  private readonly bootstrap: string[]
  private readonly targetPeers: number
  private readonly checkIntervalMs: number
  private readonly log: Logger
  private timer?: TimerHandle
  private controller?: AbortController

  constructor (components: ConnectivityComponents, init: ConnectivityInit = {}) {
    this.components = components
    this.bootstrap = init.bootstrap ?? []
    this.targetPeers = init.targetPeers ?? 6
    this.checkIntervalMs = init.checkIntervalMs ?? 2000
    this.log = components.logger.child('connectivity')
  }

  start (): void {
    this.controller = new AbortController()
    this.components.libp2p.addEventListener('peer:discovery', this.onDiscovery)
    this.schedule(0)
  }

  stop (): void {
    this.components.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    this.timer?.cancel()
    this.controller?.abort()
  }

  /**
   * libp2p adds peers found by discovery (mDNS, bootstrap) to its peer store but does not dial
   * them; a node under its target dials what it discovers.
   */
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => {
    const { libp2p } = this.components
    const peer = evt.detail.id
    if (peer.equals(libp2p.peerId) || libp2p.getConnections(peer).length > 0) return
    if (libp2p.getConnections().length >= this.targetPeers) return
    const target = evt.detail.multiaddrs.length > 0 ? evt.detail.multiaddrs : peer
    libp2p.dial(target, { signal: anySignal(this.controller?.signal, 5000) }).catch(err => {
      this.log.debug('dial to discovered peer failed', { peer: peer.toString(), err })
    })
  }

  private schedule (ms: number): void {
    this.timer = this.components.clock.setTimeout(() => {
      void this.check().finally(() => {
        if (this.controller?.signal.aborted === false) this.schedule(this.checkIntervalMs)
      })
    }, ms)
  }

  private async check (): Promise<void> {
    const { libp2p } = this.components
    const signal = this.controller?.signal
    const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const dials: Array<Promise<unknown>> = []
    if (connected.size === 0) {
      for (const addr of this.bootstrap) {
        dials.push(libp2p.dial(multiaddr(addr), { signal: anySignal(signal, 5000) }).catch(err => {
          this.log.debug('bootstrap dial failed', { addr, err })
        }))
      }
    }
    const self = libp2p.peerId.toString()
    for (const peer of chooseDials(this.components.knownPeers(), connected, self, this.targetPeers, this.components.random)) {
      dials.push(libp2p.dial(peerIdFromString(peer), { signal: anySignal(signal, 5000) }).catch(err => {
        this.log.debug('dial to known peer failed', { peer, err })
      }))
    }
    await Promise.all(dials)
  }
}

function anySignal (signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs)
  return signal == null ? timeout : AbortSignal.any([signal, timeout])
}
