/**
 * Keeps a node connected: redials bootstrap peers while it has no connection (they may start
 * after it, or come back after a crash), and, while it has fewer than `targetPeers` connections,
 * dials members it has heard of, so the mesh does not hang on the bootstrap peer alone.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { timeoutSignal } from '../../core/abort.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

/** How long one dial or hang-up may take before it is given up (ms). */
const DIAL_TIMEOUT_MS = 5000

export interface ConnectivityInit {
  bootstrap?: string[]
  /** @default 6 */
  targetPeers?: number
  /** @default 2000 */
  checkIntervalMs?: number
  /**
   * Connected yet hearing no heartbeat for this long means the connections are not carrying
   * gossip (seen: a gossipsub stream lost with a duplicate connection): drop them and rejoin.
   * @default 60000
   */
  deafAfterMs?: number
}

export interface ConnectivityComponents {
  libp2p: Pick<Libp2p, 'dial' | 'getConnections' | 'peerId' | 'addEventListener' | 'removeEventListener' | 'hangUp' | 'peerStore'>
  clock: Clock
  logger: Logger
  random: () => number
  /** Peers this node knows to be in the fleet (from heartbeats). */
  knownPeers: () => string[]
  /** When a heartbeat from another peer was last heard (undefined: never). */
  lastHeardMs?: () => number | undefined
  /**
   * How many connected peers speak gossip. Only they can be heard: an admin CLI connected for a
   * long push must not make a lone node think it is deaf and cut that connection.
   * @default every connection counts
   */
  gossipPeerCount?: () => number
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
  private readonly deafAfterMs: number
  private timer?: TimerHandle
  private controller?: AbortController
  private startedMs = 0
  private lastRejoinMs = 0

  constructor (components: ConnectivityComponents, init: ConnectivityInit = {}) {
    this.components = components
    this.bootstrap = init.bootstrap ?? []
    this.targetPeers = init.targetPeers ?? 6
    this.checkIntervalMs = init.checkIntervalMs ?? 2000
    this.deafAfterMs = init.deafAfterMs ?? 60_000
    this.log = components.logger.child('connectivity')
  }

  start (): void {
    this.controller = new AbortController()
    this.startedMs = this.components.clock.now()
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
    libp2p.dial(target, { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal: this.controller?.signal }) }).catch(err => {
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

  /** Connected, yet no heartbeat heard for deafAfterMs (and no rejoin attempted that recently). */
  isDeaf (now: number, connectedPeers: number): boolean {
    if (connectedPeers === 0) return false
    const heard = this.components.lastHeardMs?.() ?? this.startedMs
    const since = Math.max(heard, this.startedMs, this.lastRejoinMs)
    return now - since > this.deafAfterMs
  }

  private async check (): Promise<void> {
    const { libp2p } = this.components
    const signal = this.controller?.signal
    let connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const dials: Array<Promise<unknown>> = []
    const now = this.components.clock.now()
    if (this.isDeaf(now, this.components.gossipPeerCount?.() ?? connected.size)) {
      this.lastRejoinMs = now
      this.log.warn('connected but hearing no heartbeats; dropping connections and rejoining', { peers: connected.size, deafAfterMs: this.deafAfterMs })
      await Promise.all([...connected].map(async p => {
        await libp2p.hangUp(peerIdFromString(p), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => { this.log.debug('hang-up failed', { peer: p, err }) })
      }))
      connected = new Set()
      // Peers from the peer store too: the view may be empty, precisely because we were deaf.
      for (const peer of await this.storedPeers()) {
        if (dials.length >= this.targetPeers) break
        dials.push(libp2p.dial(peerIdFromString(peer), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
          this.log.debug('dial to stored peer failed', { peer, err })
        }))
      }
    }
    if (connected.size === 0) {
      for (const addr of this.bootstrap) {
        dials.push(libp2p.dial(multiaddr(addr), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
          this.log.debug('bootstrap dial failed', { addr, err })
        }))
      }
    }
    const self = libp2p.peerId.toString()
    for (const peer of chooseDials(this.components.knownPeers(), connected, self, this.targetPeers, this.components.random)) {
      dials.push(libp2p.dial(peerIdFromString(peer), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
        this.log.debug('dial to known peer failed', { peer, err })
      }))
    }
    await Promise.all(dials)
  }

  private async storedPeers (): Promise<string[]> {
    const self = this.components.libp2p.peerId.toString()
    try {
      const peers = await this.components.libp2p.peerStore.all()
      return peers.filter(p => p.addresses.length > 0).map(p => p.id.toString()).filter(id => id !== self)
    } catch (err) {
      this.log.debug('reading the peer store failed', { err })
      return []
    }
  }
}
