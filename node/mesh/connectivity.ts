/**
 * Keeps a node connected: redials bootstrap peers while no connection reaches a fleet member or a
 * bootstrap peer (they may start after it, or come back after a crash; an admin CLI attached does
 * not count), and, while it has fewer than `targetPeers` connections,
 * dials members it has heard of, so the mesh does not hang on the bootstrap peer alone.
 *
 * It also mends gossip. gossipsub keeps one outbound stream per peer and opens it when a
 * connection is identified, skipping peers that already have one. With two connections to a
 * peer (common: both sides dial), the stream can live on the one that then closes; gossipsub
 * drops it, the peer stays connected on the other, and no new stream is ever opened: the peer no
 * longer hears this node ("connected but deaf" on its side). A peer found so two checks in a row
 * gets its connection identified again, which makes libp2p hand it to gossipsub again, which
 * opens the stream. When this node itself hears nothing, it hangs up only the members that have
 * no live stream to it (they reconnect with fresh streams), never other sessions (admin CLIs)
 * nor peers whose streams are fine.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { timeoutSignal } from '../../core/abort.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions, Connection, Libp2p, PeerInfo } from '@libp2p/interface'

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
  /**
   * Connections to keep to peers of this node's heartbeat shard (`shardPeers`), dialled beyond
   * `targetPeers` if need be: gossip on a shard topic travels only between connected subscribers.
   * @default 3
   */
  minShardPeers?: number
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
  /** The pubsub router (gossipsub): its peers, protocol ids and outbound streams. Without it gossip is not mended. */
  pubsub?: PubsubRouter
  /** Identify (re-run on a connection, it hands the connection to gossipsub again). */
  identify?: { identify: (connection: Connection, options?: AbortOptions) => Promise<unknown> }
  /**
   * How many connected peers speak gossip. Only they can be heard: an admin CLI connected for a
   * long push must not make a lone node think it is deaf and cut that connection.
   * @default every connection counts
   */
  gossipPeerCount?: () => number
  /** Live peers of this node's heartbeat shard; empty while heartbeats are not sharded. @default none */
  shardPeers?: () => string[]
}

/** What connectivity reads of gossipsub. */
export interface PubsubRouter {
  getPeers: () => Array<{ toString: () => string }>
  protocols: string[]
  /**
   * gossipsub's outbound stream per peer id (public on its class, not on its exported interface):
   * an entry left for a stream that is gone would block a new one, so a repair removes it.
   */
  streamsOutbound?: Map<string, unknown>
}

/** The gossip streams of one connected pubsub peer, as seen on this node's open connections. */
export interface PeerGossip {
  peer: string
  /** An open outbound pubsub stream on an open connection (this node can talk to the peer). */
  outbound: boolean
  /** An open inbound pubsub stream (the peer can talk to this node). */
  inbound: boolean
}

/**
 * Which peers need their outbound gossip stream re-opened: those without one now that had none
 * at the previous check too (a stream being opened for a fresh connection is not yet missing).
 */
export function planGossipRepair (peers: PeerGossip[], missingBefore: ReadonlySet<string>): { reopen: string[], missing: Set<string> } {
  const missing = new Set(peers.filter(p => !p.outbound).map(p => p.peer))
  return { reopen: [...missing].filter(p => missingBefore.has(p)), missing }
}

/** When this node hears nothing: the peers to hang up, those that have no live stream to it. */
export function deafHangUps (peers: PeerGossip[]): string[] {
  return peers.filter(p => !p.inbound).map(p => p.peer)
}

/**
 * Whether to dial the bootstrap peers: no connection reaches a fleet member (one heard of) or a
 * bootstrap peer. Other connections do not count: an admin CLI attached to a node that never
 * joined (to find out why) used to be the one connection that stopped its redials (seen on real
 * links: 3 of 20 nodes alone for the whole 60 s settle, the benchmark's admin dialer attached).
 */
export function needsBootstrap (connected: ReadonlySet<string>, members: readonly string[], bootstrapPeers: readonly string[]): boolean {
  for (const p of members) if (connected.has(p)) return false
  for (const p of bootstrapPeers) if (connected.has(p)) return false
  return true
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
  /** The peer ids the bootstrap addresses name (`/p2p/...`). */
  private readonly bootstrapPeers: string[]
  private readonly targetPeers: number
  private readonly checkIntervalMs: number
  private readonly log: Logger
  private readonly deafAfterMs: number
  private readonly minShardPeers: number
  private timer?: TimerHandle
  private controller?: AbortController
  private startedMs = 0
  private lastRejoinMs = 0
  private missingOutbound = new Set<string>()

  constructor (components: ConnectivityComponents, init: ConnectivityInit = {}) {
    this.components = components
    this.bootstrap = init.bootstrap ?? []
    this.bootstrapPeers = this.bootstrap.flatMap(addr => {
      try {
        const id = multiaddr(addr).getComponents().findLast(c => c.name === 'p2p')?.value
        return id != null ? [id] : []
      } catch {
        return []
      }
    })
    this.targetPeers = init.targetPeers ?? 6
    this.checkIntervalMs = init.checkIntervalMs ?? 2000
    this.deafAfterMs = init.deafAfterMs ?? 60_000
    this.minShardPeers = init.minShardPeers ?? 3
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

  /** One round: mend gossip streams, handle deafness, dial. The timer runs it every checkIntervalMs. */
  async check (): Promise<void> {
    const { libp2p } = this.components
    const signal = this.controller?.signal
    const connected = new Set(libp2p.getConnections().map(c => c.remotePeer.toString()))
    const dials: Array<Promise<unknown>> = []
    const now = this.components.clock.now()
    const gossip = this.gossipState()
    await this.repairGossip(gossip)
    const hearable = this.components.gossipPeerCount?.() ?? (this.components.pubsub != null ? gossip.length : connected.size)
    if (this.isDeaf(now, hearable)) {
      this.lastRejoinMs = now
      const hangUps = deafHangUps(gossip)
      this.log.warn('connected but hearing no heartbeats; hanging up the peers with no live gossip stream to this node and dialling more', {
        peers: connected.size, pubsubPeers: gossip.length, hangUps: hangUps.length, deafAfterMs: this.deafAfterMs
      })
      await Promise.all(hangUps.map(async p => {
        connected.delete(p)
        await libp2p.hangUp(peerIdFromString(p), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => { this.log.debug('hang-up failed', { peer: p, err }) })
      }))
      // Peers from the peer store too: the view may be empty, precisely because we were deaf.
      for (const peer of await this.storedPeers()) {
        if (dials.length >= this.targetPeers) break
        if (connected.has(peer)) continue
        dials.push(libp2p.dial(peerIdFromString(peer), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
          this.log.debug('dial to stored peer failed', { peer, err })
        }))
      }
    }
    if (needsBootstrap(connected, this.components.knownPeers(), this.bootstrapPeers)) {
      for (const addr of this.bootstrap) {
        dials.push(libp2p.dial(multiaddr(addr), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
          this.log.debug('bootstrap dial failed', { addr, err })
        }))
      }
    }
    const self = libp2p.peerId.toString()
    const shard = this.components.shardPeers?.() ?? []
    if (shard.length > 0) {
      const connectedInShard = new Set(shard.filter(p => connected.has(p)))
      for (const peer of chooseDials(shard, connectedInShard, self, this.minShardPeers, this.components.random)) {
        connected.add(peer)
        dials.push(libp2p.dial(peerIdFromString(peer), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
          this.log.debug('dial to a peer of this shard failed', { peer, err })
        }))
      }
    }
    for (const peer of chooseDials(this.components.knownPeers(), connected, self, this.targetPeers, this.components.random)) {
      dials.push(libp2p.dial(peerIdFromString(peer), { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
        this.log.debug('dial to known peer failed', { peer, err })
      }))
    }
    await Promise.all(dials)
  }

  /** The gossip streams of every connected peer gossipsub knows, from the open connections' streams. */
  private gossipState (): PeerGossip[] {
    const { pubsub, libp2p } = this.components
    if (pubsub == null) return []
    const protocols = new Set(pubsub.protocols)
    const state: PeerGossip[] = []
    for (const id of pubsub.getPeers()) {
      const peer = id.toString()
      const conns = libp2p.getConnections(peerIdFromString(peer)).filter(c => c.status === 'open')
      if (conns.length === 0) continue
      const live = (direction: 'inbound' | 'outbound'): boolean => conns.some(c => c.streams.some(s =>
        s.direction === direction && s.status === 'open' && s.protocol != null && protocols.has(s.protocol)))
      state.push({ peer, outbound: live('outbound'), inbound: live('inbound') })
    }
    return state
  }

  /** Re-opens the outbound gossip stream of peers that lost theirs (see the file comment). */
  private async repairGossip (gossip: PeerGossip[]): Promise<void> {
    const { pubsub, identify, libp2p } = this.components
    if (pubsub == null || identify == null) return
    const { reopen, missing } = planGossipRepair(gossip, this.missingOutbound)
    this.missingOutbound = missing
    const signal = this.controller?.signal
    await Promise.all(reopen.map(async peer => {
      const conn = libp2p.getConnections(peerIdFromString(peer)).filter(c => c.status === 'open').at(-1)
      if (conn == null) return
      // gossipsub opens no stream for a peer it still lists one for, even a dead one.
      pubsub.streamsOutbound?.delete(peer)
      this.log.info('re-opening the gossip stream a peer lost', { peer, connections: libp2p.getConnections(peerIdFromString(peer)).length })
      await identify.identify(conn, { signal: timeoutSignal(this.components.clock, DIAL_TIMEOUT_MS, { signal }) }).catch(err => {
        this.log.debug('identify to re-open a gossip stream failed', { peer, err })
      })
    }))
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
