/**
 * A shaped in-memory libp2p transport: real libp2p connections between nodes of one process, with
 * per-link latency, jitter, bandwidth, loss and partitions that a controller ({@link ShapedNetwork})
 * changes at run time. Modelled on @libp2p/memory, with two differences: the address book belongs
 * to a network object (no module-level state: many networks can live in one process), and time
 * comes from an injected {@link Clock} (a scaled or manual clock in the simulator).
 *
 * Semantics (docs/SIMULATOR.md, "The shaped transport"):
 *
 * - A *link* is a directed pair of hosts (a host is one node's transport). Its shape is the worse of
 *   the network's default, each end's host shape and, when set, the link's own (larger latency,
 *   jitter and loss, smaller bandwidth).
 * - *Bandwidth*: each direction of each link is a token bucket (`bytesPerSec`, a burst of
 *   `burstBytes`), behind the sending host's egress bucket when it has one (`setEgress`, the
 *   origin's upload). A message leaves when both buckets hold its bytes. A receiving host with an
 *   ingress bucket (`setIngress`, a device's downlink) then takes it in arrival order, as a
 *   downlink's queue does (its links share that one rate), and cut through: its bytes enter the
 *   downlink as they leave the sender, one latency later, so a message is not stored and forwarded.
 * - *Latency and jitter*: a message arrives `latency + U(-jitter, +jitter)` after it left, never
 *   before the message sent ahead of it on the same connection (a stream is ordered).
 * - *Loss*: a stream transport is reliable, so a loss is felt as TCP feels it: each segment
 *   (`segmentBytes`) of a message is lost with probability `loss`, and each lost one delays the
 *   message (and, in order, everything behind it) by one retransmission timeout,
 *   `max(minRtoMs, 3 x RTT)`.
 * - *Backpressure*: a connection holds at most `sendBufferBytes` undelivered per direction; past it
 *   the sender is told to wait for `drain` (a full socket buffer).
 * - *Bottleneck queues* (`queueMs`, off unless set): what is in the network (past the sender's
 *   buckets, not yet delivered) through a host's capped uplink or downlink is at most its rate x
 *   `queueMs` (and at least two of the largest messages); the rest waits at its sender, in the
 *   connection's socket buffer, and the connections waiting for room take it in turn. So a link's
 *   queue stays short and its connections share it, as TCP's congestion control keeps a flow's share
 *   of a bottleneck's short queue. Without it, a host's buckets are one queue in the order data was
 *   written, across its connections: a ping on one connection waits behind every megabyte queued on
 *   the others, which a real link does not do. Data held on a cut or stalled link gives its room
 *   back (it is dropped and retransmitted, as far as the queue is concerned).
 * - *Partitions*: a blocked link carries nothing. A dial across it hangs until its signal aborts
 *   (SYNs are dropped); data on an open connection waits (TCP retransmits), and a connection whose
 *   data has waited `userTimeoutMs` is reset at both ends (TCP's user timeout). After a heal,
 *   waiting data arrives one latency later.
 * - *Stalls* (`stall(host)`, the in-process approximation of a paused process): every link from and
 *   to the host holds its data, without a user timeout (a stopped process's kernel still
 *   acknowledges); `unstall` delivers it. Dials to a stalled host hang.
 */
import { ConnectionFailedError, StreamResetError, serviceCapabilities, transportSymbol } from '@libp2p/interface'
import { AbstractMultiaddrConnection } from '@libp2p/utils'
import { CODE_P2P, multiaddr } from '@multiformats/multiaddr'
import { Memory } from '@multiformats/multiaddr-matcher'
import { TypedEventEmitter } from 'main-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { systemClock } from '../../core/clock.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { LinkShape } from '../scenario.js'
import type { AbortOptions, ComponentLogger, Connection, CreateListenerOptions, DialTransportOptions, Listener, ListenerEvents, MultiaddrConnection, PeerId, Transport, UpgraderOptions } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/** A link that adds nothing: no latency, no loss, unlimited bandwidth. */
export const IDEAL_LINK: LinkShape = { latencyMs: 0, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 }

export interface ShapedNetworkInit {
  /** Where delays and timeouts are measured. @default systemClock */
  clock?: Clock
  /** Jitter and loss draws. @default Math.random */
  random?: () => number
  /** Every link's shape unless a host or link says otherwise. @default IDEAL_LINK */
  links?: LinkShape
  /** Undelivered bytes per connection direction before the sender must wait. @default 1 MiB */
  sendBufferBytes?: number
  /** Token bucket depth, bytes. @default 16 KiB */
  burstBytes?: number
  /** TCP segment size for loss draws, bytes. @default 1460 */
  segmentBytes?: number
  /** Smallest retransmission timeout, ms. @default 200 (Linux) */
  minRtoMs?: number
  /** A connection whose data waited this long on a blocked link is reset, ms. @default 30_000 */
  userTimeoutMs?: number
  /** Largest message handed to the connection at once, bytes. @default 65_536 */
  maxMessageSize?: number
  /**
   * The queue of each capped uplink and downlink (`setEgress`, `setIngress`), in ms of its rate (see
   * the module doc). @default Infinity (no bound: one queue in write order)
   */
  queueMs?: number
}

export interface ShapedTransportComponents {
  peerId: PeerId
  logger: ComponentLogger
}

export interface ShapedTransportInit {
  upgraderOptions?: UpgraderOptions
}

/** Bytes counted per host (what it sent and received over every link). */
export interface HostStats {
  sentBytes: number
  receivedBytes: number
}

const worse = (a: LinkShape, b: Partial<LinkShape> | undefined): LinkShape => b === undefined
  ? a
  : {
      latencyMs: Math.max(a.latencyMs, b.latencyMs ?? 0),
      jitterMs: Math.max(a.jitterMs, b.jitterMs ?? 0),
      bytesPerSec: Math.min(a.bytesPerSec, b.bytesPerSec ?? Number.POSITIVE_INFINITY),
      loss: Math.max(a.loss, b.loss ?? 0)
    }

/** A token bucket in virtual time: `take(n, t)` is when n bytes may leave if asked at t. */
export class TokenBucket {
  private at = Number.NEGATIVE_INFINITY
  private tokens: number

  constructor (private rate: number, private readonly burst: number) {
    this.tokens = burst
  }

  get bytesPerSec (): number {
    return this.rate
  }

  setRate (bytesPerSec: number): void {
    this.rate = bytesPerSec
  }

  take (bytes: number, t: number): number {
    if (!Number.isFinite(this.rate)) return t
    const start = Math.max(t, this.at)
    const tokens = Math.min(this.burst, this.tokens + (start - this.at) * this.rate / 1000)
    if (tokens >= bytes) {
      this.tokens = tokens - bytes
      this.at = start
      return start
    }
    this.at = start + (bytes - tokens) / this.rate * 1000
    this.tokens = 0
    return this.at
  }
}

/**
 * A capped uplink's or downlink's queue: bytes in the network through it, and the connections with
 * data waiting for room, served in turn (one message each, then to the back).
 */
class HostQueue {
  inUse = 0
  readonly waiting = new Set<Pipe>()

  constructor (readonly capacity: number) {}

  fits (bytes: number): boolean {
    return this.inUse === 0 || this.inUse + bytes <= this.capacity
  }

  release (bytes: number): void {
    this.inUse -= bytes
    this.serve()
  }

  /** Admits waiting connections' next messages in turn while they fit. */
  serve (): void {
    let progress = true
    while (progress && this.waiting.size > 0) {
      progress = false
      for (const p of [...this.waiting]) {
        const bytes = p.nextBytes()
        if (bytes === undefined) {
          this.waiting.delete(p)
          continue
        }
        if (!this.fits(bytes)) return
        // Its other queue may be full: then it waits there too, and goes when that one serves it.
        if (!p.admitOne()) continue
        progress = true
      }
    }
  }
}

interface Segment {
  data?: Uint8ArrayList
  close?: true
  /** When it arrives; set when it enters the network (see `admit`). */
  at: number
  admitted?: true
  /** The bottleneck queues its bytes hold room in, until delivered (or held on a cut link). */
  holds?: HostQueue[]
  /** How long its bytes took to leave the sender (its buckets' rate): the downlink takes them as they come. */
  txMs?: number
  /** Passed the receiver's ingress bucket (charged once, when it reached the head of the pipe, due). */
  ingressed?: true
}

/** One direction of one connection: ordered, shaped delivery from `from` to `to`. */
class Pipe {
  readonly queue: Segment[] = []
  queuedBytes = 0
  private lastAt = Number.NEGATIVE_INFINITY
  private timer?: TimerHandle
  /** Since when the head has waited on a link that is not open, and whether it is cut (vs stalled). */
  private waiting?: { since: number, blocked: boolean }
  private readonly bucket: TokenBucket
  /** Segments at the queue's head that are in the network. */
  private admitted = 0
  needsDrain = false
  closed = false

  constructor (
    private readonly net: ShapedNetwork,
    readonly from: string,
    readonly to: string,
    private readonly deliver: (s: Segment) => void,
    private readonly drained: () => void,
    private readonly timedOut: () => void
  ) {
    this.bucket = new TokenBucket(net.shapeOf(from, to).bytesPerSec, net.burstBytes)
  }

  /** Queues data; false when the sender should wait for `drain`. */
  send (data: Uint8ArrayList | undefined): boolean {
    if (this.closed) return true
    this.queue.push(data === undefined ? { close: true, at: Number.NaN } : { data, at: Number.NaN })
    this.queuedBytes += data?.byteLength ?? 0
    this.admit()
    this.arm()
    if (this.queuedBytes > this.net.sendBufferBytes) this.needsDrain = true
    return !this.needsDrain
  }

  /**
   * Puts waiting segments into the network: through the sender's buckets, then the link's delay.
   * Where a capped host's queue bounds what is in the network, the connection waits its turn there.
   */
  private admit (): void {
    const queues = this.net.queuesOf(this.from, this.to)
    if (queues.length === 0) {
      while (this.admitted < this.queue.length) this.enter(this.queue[this.admitted]!, undefined)
      return
    }
    this.enterEmpty()
    if (this.admitted === this.queue.length) return
    for (const q of queues) q.waiting.add(this)
    for (const q of queues) q.serve()
  }

  /** Bytes of the next segment not yet in the network; undefined when there is none (or the link is cut: nothing goes in). */
  nextBytes (): number | undefined {
    if (this.closed || this.waiting !== undefined || this.admitted >= this.queue.length) return undefined
    return this.queue[this.admitted]!.data?.byteLength ?? 0
  }

  /**
   * Called by a queue serving its turn: admits the next segment if every queue it passes has room,
   * then this connection goes to the back of each (or leaves them, with nothing more to send).
   */
  admitOne (): boolean {
    const bytes = this.nextBytes()
    if (bytes === undefined) return false
    const queues = this.net.queuesOf(this.from, this.to)
    if (!queues.every(q => q.fits(bytes))) return false
    for (const q of queues) q.inUse += bytes
    this.enter(this.queue[this.admitted]!, queues.length > 0 ? queues : undefined)
    this.enterEmpty()
    const more = this.admitted < this.queue.length
    for (const q of queues) {
      q.waiting.delete(this)
      if (more) q.waiting.add(this)
    }
    this.arm()
    return true
  }

  /** Segments without bytes (a close) next in line keep their place in order but need no room. */
  private enterEmpty (): void {
    while (this.admitted < this.queue.length && (this.queue[this.admitted]!.data?.byteLength ?? 0) === 0) this.enter(this.queue[this.admitted]!, undefined)
  }

  private enter (s: Segment, holds: HostQueue[] | undefined): void {
    const now = this.net.clock.now()
    const bytes = s.data?.byteLength ?? 0
    const shape = this.net.shapeOf(this.from, this.to)
    let at = now
    if (bytes > 0) {
      this.bucket.setRate(shape.bytesPerSec)
      at = Math.max(this.net.egressAt(this.from, bytes, now), this.bucket.take(bytes, now))
      this.net.stats(this.from).sentBytes += bytes
      s.txMs = bytes / Math.min(shape.bytesPerSec, this.net.egressRate(this.from)) * 1000
    }
    at += this.net.delayOf(shape, bytes)
    at = Math.max(at, this.lastAt)
    this.lastAt = at
    s.at = at
    s.admitted = true
    s.holds = holds
    this.admitted++
  }

  /** Gives back the queue room its segments hold (delivered, dropped on a cut link, or closed). */
  private release (segments: Segment[]): void {
    for (const s of segments) {
      const holds = s.holds
      if (holds === undefined) continue
      s.holds = undefined
      for (const q of holds) q.release(s.data?.byteLength ?? 0)
    }
  }

  /** The link changed: waiting data arrives one latency after it opens; a cut arms the user timeout. */
  recheck (): void {
    if (this.waiting === undefined) return
    const state = this.net.linkState(this.from, this.to)
    if (state !== 'open') {
      this.waiting.blocked = state === 'blocked'
      this.timer?.cancel()
      this.timer = undefined
      this.arm()
      return
    }
    this.waiting = undefined
    const base = this.net.clock.now() + this.net.shapeOf(this.from, this.to).latencyMs
    for (const s of this.queue) if (s.admitted === true) s.at = Math.max(s.at, base)
    this.lastAt = Math.max(this.lastAt, base)
    this.timer?.cancel()
    this.timer = undefined
    this.admit()
    this.arm()
  }

  stop (): void {
    this.net.forget(this)
    this.closed = true
    this.timer?.cancel()
    this.timer = undefined
    const held = this.queue.slice(0, this.admitted)
    this.queue.length = 0
    this.queuedBytes = 0
    this.admitted = 0
    for (const q of this.net.queuesOf(this.from, this.to)) q.waiting.delete(this)
    this.release(held)
  }

  private arm (): void {
    if (this.timer !== undefined || this.closed) return
    const head = this.queue[0]
    // A head not yet in the network waits for its turn in a queue (`admitOne` arms then).
    if (head === undefined || head.admitted !== true) return
    const now = this.net.clock.now()
    let wait: number
    if (this.waiting !== undefined) {
      // A stalled link waits for `recheck`; a blocked one for it or the user timeout.
      if (!this.waiting.blocked) return
      wait = this.waiting.since + this.net.userTimeoutMs - now
    } else {
      wait = head.at - now
    }
    if (wait > 0) {
      this.timer = this.net.clock.setTimeout(() => { this.timer = undefined; this.pump() }, wait)
      return
    }
    // Due now: deliver in a microtask, not a timer turn (a zero-latency link stays fast).
    let cancelled = false
    this.timer = { cancel: () => { cancelled = true } }
    queueMicrotask(() => {
      if (cancelled) return
      this.timer = undefined
      this.pump()
    })
  }

  private pump (): void {
    const now = this.net.clock.now()
    if (this.waiting?.blocked === true && now - this.waiting.since >= this.net.userTimeoutMs) {
      this.timedOut()
      return
    }
    // One message a turn, so the receiver's own work interleaves (as a socket's reads would).
    if (!this.closed && this.queue.length > 0 && this.queue[0]!.at <= now) {
      const state = this.net.linkState(this.from, this.to)
      if (state !== 'open') {
        if (this.waiting === undefined) this.release(this.queue.slice(0, this.admitted))
        this.waiting ??= { since: now, blocked: false }
        this.waiting.blocked = state === 'blocked'
        this.arm()
        return
      }
      const head = this.queue[0]!
      if (head.ingressed !== true && head.data !== undefined) {
        // It reached the receiver's downlink: queue there behind what arrived before it, from any
        // link. Cut through, as packets are: its first byte arrived txMs ago, so an idle downlink
        // as fast as the sender's uplink adds nothing (a 64 KiB message is not stored and forwarded).
        head.ingressed = true
        const at = this.net.ingressAt(this.to, head.data.byteLength, now - (head.txMs ?? 0))
        if (at > now) {
          head.at = at
          this.arm()
          return
        }
      }
      const s = this.queue.shift()!
      this.queuedBytes -= s.data?.byteLength ?? 0
      this.admitted--
      this.release([s])
      if (s.data !== undefined) this.net.stats(this.to).receivedBytes += s.data.byteLength
      this.deliver(s)
      if (s.close === true) { this.stop(); return }
      this.admit()
      if (this.needsDrain && this.queuedBytes <= this.net.sendBufferBytes / 2) {
        this.needsDrain = false
        this.drained()
      }
    }
    this.arm()
  }
}

export class ShapedConnection extends AbstractMultiaddrConnection {
  pipe!: Pipe
  peer?: ShapedConnection
  private readonly net: ShapedNetwork

  constructor (net: ShapedNetwork, init: ConstructorParameters<typeof AbstractMultiaddrConnection>[0]) {
    super(init)
    this.net = net
  }

  sendData (data: Uint8ArrayList): SendResult {
    const canSendMore = this.pipe.send(data)
    return { sentBytes: data.byteLength, canSendMore }
  }

  sendReset (): void {
    this.pipe.stop()
    const peer = this.peer
    if (peer === undefined) return
    // A reset jumps the queue: it travels one latency, then the other end aborts.
    const latency = this.net.shapeOf(this.pipe.from, this.pipe.to).latencyMs
    this.net.clock.setTimeout(() => { peer.resetByRemote() }, latency)
  }

  resetByRemote (): void {
    this.pipe.stop()
    if (this.status === 'open' || this.status === 'closing') this.abort(new StreamResetError('the remote end reset the connection'))
  }

  /** Both ends reset at once (a user timeout on a blocked link). */
  timedOut (): void {
    this.resetByRemote()
    this.peer?.resetByRemote()
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    this.pipe.send(undefined)
    options?.signal?.throwIfAborted()
  }

  sendPause (): void {}

  sendResume (): void {}

  onDelivered (s: Segment): void {
    if (s.data !== undefined) this.onData(s.data)
    else if (s.close === true) {
      this.pipe.stop()
      this.onTransportClosed()
    }
  }

  onDrained (): void {
    this.safeDispatchEvent('drain')
  }
}

class ShapedListener extends TypedEventEmitter<ListenerEvents> implements Listener {
  private addr?: Multiaddr
  private readonly shutdown = new AbortController()
  readonly connections = new Set<ShapedConnection>()

  constructor (readonly net: ShapedNetwork, readonly host: string, private readonly options: CreateListenerOptions & ShapedTransportInit) {
    super()
  }

  async listen (ma: Multiaddr): Promise<void> {
    const value = ma.getComponents()[0]?.value
    const address = `/memory/${value ?? `${this.host}-${Math.floor(this.net.random() * 2 ** 48).toString(36)}`}`
    this.net.register(address, this)
    this.addr = multiaddr(address)
    queueMicrotask(() => { this.safeDispatchEvent('listening') })
  }

  accept (maConn: ShapedConnection): void {
    this.connections.add(maConn)
    maConn.addEventListener('close', () => { this.connections.delete(maConn) })
    this.options.upgrader.upgradeInbound(maConn, { ...this.options.upgraderOptions, signal: this.shutdown.signal })
      .catch((err: Error) => { maConn.abort(err) })
  }

  getAddrs (): Multiaddr[] {
    return this.addr === undefined ? [] : [this.addr]
  }

  updateAnnounceAddrs (): void {}

  async close (): Promise<void> {
    for (const c of [...this.connections]) c.abort(new ConnectionFailedError('the shaped listener closed'))
    if (this.addr !== undefined) this.net.unregister(this.addr.toString(), this)
    this.shutdown.abort()
    queueMicrotask(() => { this.safeDispatchEvent('close') })
  }
}

class ShapedTransport implements Transport {
  readonly [transportSymbol] = true
  readonly [Symbol.toStringTag] = '@tutti/shaped-memory'
  readonly [serviceCapabilities]: string[] = ['@libp2p/transport']

  constructor (private readonly net: ShapedNetwork, private readonly host: string, private readonly components: ShapedTransportComponents, private readonly init: ShapedTransportInit) {}

  async dial (ma: Multiaddr, options: DialTransportOptions): Promise<Connection> {
    options.signal.throwIfAborted()
    const hasPeer = ma.getComponents().some(c => c.code === CODE_P2P)
    const listener = this.net.listenerAt((hasPeer ? ma.decapsulateCode(CODE_P2P) : ma).toString())
    if (listener === undefined) throw new ConnectionFailedError(`no shaped listener at ${ma.toString()}`)
    const [local, remote] = await this.net.connect(this.host, listener.host, this.components, ma, options.signal)
    listener.accept(remote)
    try {
      options.signal.throwIfAborted()
      return await options.upgrader.upgradeOutbound(local, { ...options, ...this.init.upgraderOptions })
    } catch (err) {
      local.abort(err as Error)
      throw err
    }
  }

  createListener (options: CreateListenerOptions): Listener {
    return new ShapedListener(this.net, this.host, { ...options, ...this.init })
  }

  listenFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return multiaddrs.filter(ma => Memory.exactMatch(ma))
  }

  dialFilter (multiaddrs: Multiaddr[]): Multiaddr[] {
    return this.listenFilter(multiaddrs)
  }
}

/** The controller: hosts, their listeners and connections, and every link's shape and state. */
export class ShapedNetwork {
  readonly clock: Clock
  readonly random: () => number
  readonly sendBufferBytes: number
  readonly burstBytes: number
  readonly segmentBytes: number
  readonly minRtoMs: number
  readonly userTimeoutMs: number
  readonly maxMessageSize: number
  readonly queueMs: number
  private defaultShape: LinkShape
  private readonly hostShapes = new Map<string, Partial<LinkShape>>()
  private readonly linkShapes = new Map<string, Partial<LinkShape>>()
  private readonly egress = new Map<string, TokenBucket>()
  private readonly ingress = new Map<string, TokenBucket>()
  private readonly uplinks = new Map<string, HostQueue>()
  private readonly downlinks = new Map<string, HostQueue>()
  private readonly listeners = new Map<string, ShapedListener>()
  private readonly pipes = new Set<Pipe>()
  private readonly hostStats = new Map<string, HostStats>()
  /** Host -> partition group; undefined when the network is whole. */
  private groups?: Map<string, number>
  private readonly stalled = new Set<string>()
  private readonly conns = new Set<ShapedConnection>()
  private readonly waiters = new Set<{ from: string, to: string, wake: () => void }>()
  private connectionCounter = 0

  constructor (init: ShapedNetworkInit = {}) {
    this.clock = init.clock ?? systemClock
    this.random = init.random ?? Math.random
    this.defaultShape = init.links ?? IDEAL_LINK
    this.sendBufferBytes = init.sendBufferBytes ?? 1024 * 1024
    this.burstBytes = init.burstBytes ?? 16 * 1024
    this.segmentBytes = init.segmentBytes ?? 1460
    this.minRtoMs = init.minRtoMs ?? 200
    this.userTimeoutMs = init.userTimeoutMs ?? 30_000
    this.maxMessageSize = init.maxMessageSize ?? 65_536
    this.queueMs = init.queueMs ?? Number.POSITIVE_INFINITY
  }

  /** The transport factory for `host` (give it to libp2p's `transports`). */
  transport (host: string, init: ShapedTransportInit = {}): (components: ShapedTransportComponents) => Transport {
    return components => new ShapedTransport(this, host, components, init)
  }

  // ---- shapes and faults -----------------------------------------------------------------------

  setDefault (shape: LinkShape): void {
    this.defaultShape = shape
  }

  /** Every link touching `host` takes the worse of this and the rest (fields left out keep theirs). */
  shapeHost (host: string, shape: Partial<LinkShape>): void {
    this.hostShapes.set(host, { ...this.hostShapes.get(host), ...shape })
  }

  /** One directed link's own shape (the worse of it and the hosts' applies). */
  shapeLink (from: string, to: string, shape: Partial<LinkShape>): void {
    this.linkShapes.set(`${from}\n${to}`, { ...this.linkShapes.get(`${from}\n${to}`), ...shape })
  }

  /** The host's upload over all its links, bytes per second (the origin's uplink). */
  setEgress (host: string, bytesPerSec: number): void {
    this.egress.set(host, new TokenBucket(bytesPerSec, this.burstBytes))
    this.setQueue(this.uplinks, host, bytesPerSec)
  }

  /** The host's download over all its links, bytes per second (a device's downlink). */
  setIngress (host: string, bytesPerSec: number): void {
    this.ingress.set(host, new TokenBucket(bytesPerSec, this.burstBytes))
    this.setQueue(this.downlinks, host, bytesPerSec)
  }

  private setQueue (queues: Map<string, HostQueue>, host: string, bytesPerSec: number): void {
    if (!Number.isFinite(this.queueMs) || !Number.isFinite(bytesPerSec)) {
      queues.delete(host)
      return
    }
    // Data already in the network keeps the room it holds in the queue it was admitted to.
    queues.set(host, new HostQueue(Math.max(2 * this.maxMessageSize, bytesPerSec * this.queueMs / 1000)))
  }

  /** The bottleneck queues data from `from` to `to` takes room in: the sender's uplink's and the receiver's downlink's. */
  queuesOf (from: string, to: string): HostQueue[] {
    const queues: HostQueue[] = []
    const up = this.uplinks.get(from)
    const down = this.downlinks.get(to)
    if (up !== undefined) queues.push(up)
    if (down !== undefined) queues.push(down)
    return queues
  }

  shapeOf (from: string, to: string): LinkShape {
    return worse(worse(worse(this.defaultShape, this.hostShapes.get(from)), this.hostShapes.get(to)), this.linkShapes.get(`${from}\n${to}`))
  }

  /** Each group is a set of hosts; hosts in no group form one more group. */
  partition (groups: string[][]): void {
    const map = new Map<string, number>()
    groups.forEach((g, k) => { for (const h of g) if (!map.has(h)) map.set(h, k) })
    this.groups = map
    this.groupsCount = groups.length
    this.changed()
  }

  heal (): void {
    this.groups = undefined
    this.changed()
  }

  /** Holds every link from and to `host` (see the module doc). */
  stall (host: string): void {
    this.stalled.add(host)
    this.changed()
  }

  unstall (host: string): void {
    this.stalled.delete(host)
    this.changed()
  }

  /** Resets every connection of `host` at both ends at once (its process died: the kernel sends RSTs). */
  resetHost (host: string): void {
    for (const c of [...this.conns]) if (c.pipe.from === host) c.timedOut()
  }

  linkState (from: string, to: string): 'open' | 'blocked' | 'stalled' {
    if (this.stalled.has(from) || this.stalled.has(to)) return 'stalled'
    if (this.groups !== undefined && this.groupOf(from) !== this.groupOf(to)) return 'blocked'
    return 'open'
  }

  stats (host: string): HostStats {
    let s = this.hostStats.get(host)
    if (s === undefined) {
      s = { sentBytes: 0, receivedBytes: 0 }
      this.hostStats.set(host, s)
    }
    return s
  }

  /** Open connections (both ends count once). */
  get connectionCount (): number {
    return this.pipes.size / 2
  }

  private groupsCount = 0
  private groupOf (host: string): number {
    return this.groups?.get(host) ?? this.groupsCount
  }

  private changed (): void {
    for (const p of this.pipes) p.recheck()
    for (const w of [...this.waiters]) if (this.linkState(w.from, w.to) === 'open') w.wake()
  }

  // ---- for the transport -----------------------------------------------------------------------

  /** The delay a message of `bytes` adds beyond its departure: latency, jitter and lost segments. */
  delayOf (shape: LinkShape, bytes: number): number {
    let d = shape.latencyMs
    if (shape.jitterMs > 0) d = Math.max(0, d + (this.random() * 2 - 1) * shape.jitterMs)
    if (shape.loss > 0 && bytes > 0) {
      const rto = Math.max(this.minRtoMs, 3 * 2 * shape.latencyMs)
      const segments = Math.ceil(bytes / this.segmentBytes)
      for (let k = 0; k < segments; k++) if (this.random() < shape.loss) d += rto
    }
    return d
  }

  egressAt (host: string, bytes: number, now: number): number {
    return this.egress.get(host)?.take(bytes, now) ?? now
  }

  /** The host's upload rate over all its links, bytes per second (Infinity when it has no egress cap). */
  egressRate (host: string): number {
    return this.egress.get(host)?.bytesPerSec ?? Number.POSITIVE_INFINITY
  }

  ingressAt (host: string, bytes: number, now: number): number {
    return this.ingress.get(host)?.take(bytes, now) ?? now
  }

  register (address: string, listener: ShapedListener): void {
    if (this.listeners.has(address)) throw new ConnectionFailedError(`shaped address ${address} is already in use`)
    this.listeners.set(address, listener)
  }

  unregister (address: string, listener: ShapedListener): void {
    if (this.listeners.get(address) === listener) this.listeners.delete(address)
  }

  listenerAt (address: string): ShapedListener | undefined {
    return this.listeners.get(address)
  }

  /** A connection pair from `host` to a listener, after one round trip (or never, across a cut). */
  async connect (host: string, to: string, components: ShapedTransportComponents, remoteAddr: Multiaddr, signal: AbortSignal): Promise<[ShapedConnection, ShapedConnection]> {
    if (this.linkState(host, to) !== 'open') await this.waitOpen(host, to, signal)
    const shape = this.shapeOf(host, to)
    await this.clock.sleep(2 * shape.latencyMs, { signal })
    const id = this.connectionCounter++
    const log = components.logger.forComponent('tutti:shaped')
    const local = new ShapedConnection(this, { remoteAddr, direction: 'outbound', log: log.newScope(`connection:${id}`), maxMessageSize: this.maxMessageSize })
    const remote = new ShapedConnection(this, { remoteAddr: multiaddr(`/memory/${host}-outgoing-${id}/p2p/${components.peerId.toString()}`), direction: 'inbound', log: log.newScope(`connection:${id}`), maxMessageSize: this.maxMessageSize })
    local.peer = remote
    remote.peer = local
    local.pipe = this.pipe(host, to, remote, local)
    remote.pipe = this.pipe(to, host, local, remote)
    for (const c of [local, remote]) {
      this.conns.add(c)
      c.addEventListener('close', () => { this.conns.delete(c) })
    }
    return [local, remote]
  }

  private pipe (from: string, to: string, receiver: ShapedConnection, sender: ShapedConnection): Pipe {
    const p = new Pipe(this, from, to, s => { receiver.onDelivered(s) }, () => { sender.onDrained() }, () => { sender.timedOut() })
    this.pipes.add(p)
    return p
  }

  forget (pipe: Pipe): void {
    this.pipes.delete(pipe)
  }

  private async waitOpen (from: string, to: string, signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const w = {
        from,
        to,
        wake: () => {
          this.waiters.delete(w)
          signal.removeEventListener('abort', onAbort)
          resolve()
        }
      }
      const onAbort = (): void => {
        this.waiters.delete(w)
        reject(signal.reason)
      }
      this.waiters.add(w)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }
}
