/**
 * One download: the shell around {@link planRequests}. It finds peers (connections, content
 * routing), gets and verifies the manifest, asks peers what they offer, sends the planned chunk
 * requests, verifies and stores every chunk, and turns failures into cool-downs, bans and retries.
 */
import { openEnvelopeAnySigner } from '../models/manifest.js'
import { chunkSizes } from '../models/chunking.js'
import { bytesMatchCid } from '../../core/cid.js'
import { ModelErrorCode } from '../models/errors.js'
import { chunksPerUnit, MAX_CHUNKS_PER_REQUEST, requestChunks, requestManifest, watchHave } from '../../protocols/chunks/index.js'
import { BadChunkError, FetchAbortedError, FetchStalledError, NoProvidersError } from './errors.js'
import { newPeerRecord, peerProgress, pickEvictable, RateWindow } from './peer.js'
import { shuffled } from '../../core/random.js'
import { classifyFailure, failureDecision, planWatches, stallVerdict } from './policy.js'
import { planRequests, wantsFrom } from './schedule.js'
import type { FetchProgress, FetchResult, PeerProgress, ResolvedFetcherInit } from './fetcher.js'
import type { PeerRecord } from './peer.js'
import type { PeerScores } from './peer-scores.js'
import type { PeerView, ScheduleParams } from './schedule.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { ChunkStore, VerifiedManifest } from '../models/types.js'
import type { RateLimiter } from '../ratelimit/token-bucket.js'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

/** Finds peers that announced a manifest (e.g. kad-dht provider records). */
export type ProviderFinder = (manifestCid: string, options: AbortOptions) => AsyncIterable<PeerId>

export interface DownloadComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections' | 'peerId'>
  store: ChunkStore
  clock: Clock
  logger: Logger
  random: () => number
  scores: PeerScores
  findProviders?: ProviderFinder
  downloadLimiter?: RateLimiter
  announce?: (manifestCid: string, options?: AbortOptions) => Promise<void>
  onChunkStored?: (manifestCid: string, chunkCid: string) => void
}

interface ActiveRequest {
  peer: PeerRecord
  chunks: number[]
  pending: Set<number>
  controller: AbortController
  cancelled: boolean
  /** When the request was sent, or its previous chunk arrived, in ms. */
  sinceMs: number
  /** Bytes received since `sinceMs` (of the chunk now coming in). */
  received: number
  /** When the first of those bytes came in: a request may wait for an upload slot before any does. */
  firstByteMs?: number
}

/**
 * A request that has had no byte for this long counts as late in the endgame; one that has had
 * bytes only for less than `RATE_SETTLE_MS` does not count as late yet: its rate is not known.
 */
const ENDGAME_SILENT_MS = 5000
const RATE_SETTLE_MS = 1000

/** Peer-fault codes of a manifest envelope: the peer is penalised and another one asked. */
const BAD_MANIFEST_CODES: ReadonlySet<string> = new Set([
  ModelErrorCode.InvalidManifest, ModelErrorCode.ManifestTooLarge, ModelErrorCode.ManifestSignature,
  ModelErrorCode.NotAdminSigner, ModelErrorCode.ManifestCidMismatch
])

export class Download {
  private readonly c: DownloadComponents
  private readonly init: ResolvedFetcherInit
  private readonly cid: string
  private readonly log: Logger
  private readonly signal: AbortSignal
  private readonly onProgress?: (p: FetchProgress) => void
  private readonly peers = new Map<string, PeerRecord>()
  /** Peers turned away at the cap, oldest first: they take the place of peers that turn out to have nothing. */
  private readonly standby = new Map<string, PeerId>()
  private readonly active = new Set<ActiveRequest>()
  private readonly asked = new Map<number, Set<string>>()
  private readonly failed = new Map<number, Set<string>>()
  private readonly rate: RateWindow
  private readonly startedMs: number
  private vm?: VerifiedManifest
  private sizes: number[] = []
  /** stored[i]: chunk i's CID is in the store (only meaningful where primaryOf[i] === i). */
  private stored: boolean[] = []
  /** The first index with the same CID: a model may repeat a chunk (all-zero blocks). */
  private primaryOf: number[] = []
  /** done[i]: nothing left to fetch for i (stored, or a repeat whose first index stands for it). */
  private done: boolean[] = []
  private rank: number[] = []
  private phase: FetchProgress['phase'] = 'manifest'
  private bytesReceived = 0
  private bytesFetched = 0
  private chunksFetched = 0
  private alreadyHeld = 0
  private lastProgressMs = 0
  private lastEmitMs = Number.NEGATIVE_INFINITY
  private lastScanMs = Number.NEGATIVE_INFINITY
  private lastSearchMs = Number.NEGATIVE_INFINITY
  private searching = false
  private searches = 0
  private finished = false
  private fatal?: unknown
  /** Aborted when the download ends, however it ends: stops its watches and searches. */
  private readonly work = new AbortController()
  private readonly workSignal: AbortSignal
  private woken = false
  private wakeUp?: () => void

  /** Peers said to hold the model: added first, asked for the manifest first. */
  private readonly holders: PeerId[]
  private readonly hinted = new Set<string>()

  constructor (components: DownloadComponents, init: ResolvedFetcherInit, manifestCid: string, signal: AbortSignal, onProgress?: (p: FetchProgress) => void, holders: PeerId[] = []) {
    this.holders = holders.slice(0, init.maxPeers)
    for (const h of this.holders) this.hinted.add(h.toString())
    this.c = components
    this.init = init
    this.cid = manifestCid
    this.signal = signal
    this.onProgress = onProgress
    this.log = components.logger.child('fetch', { manifest: manifestCid.slice(-10) })
    this.startedMs = components.clock.now()
    this.rate = new RateWindow(init.rateWindowMs)
    this.workSignal = AbortSignal.any([signal, this.work.signal])
  }

  async run (): Promise<FetchResult> {
    const onAbort = (): void => { this.wake() }
    this.signal.addEventListener('abort', onAbort)
    try {
      this.emit(true)
      const vm = await this.obtainManifest()
      await this.prepare(vm)
      this.phase = 'downloading'
      this.emit(true)
      await this.loop()
      this.phase = 'done'
      this.emit(true)
      this.log.info('download complete', { chunks: this.chunksFetched, bytes: this.bytesFetched, received: this.bytesReceived, ms: this.c.clock.now() - this.startedMs })
      return this.result(vm)
    } catch (err) {
      if (this.signal.aborted) throw new FetchAbortedError(this.cid, { cause: this.signal.reason })
      throw err
    } finally {
      this.finished = true
      for (const p of this.peers.values()) p.watch?.close()
      this.work.abort(new Error('download ended'))
      this.signal.removeEventListener('abort', onAbort)
      for (const r of this.active) this.cancel(r, 'download ended')
    }
  }

  // --- manifest -------------------------------------------------------------------------------

  private async obtainManifest (): Promise<VerifiedManifest> {
    const held = await this.c.store.getManifest(this.cid, { signal: this.signal })
    if (held != null) return held
    const deadline = this.c.clock.now() + this.init.manifestTimeoutMs
    let lastError: unknown
    for (;;) {
      this.signal.throwIfAborted()
      const now = this.c.clock.now()
      this.discover(now)
      const candidates = [...this.peers.values()]
        .filter(p => !p.banned && !p.dropped && now - p.manifestTriedMs >= this.init.busyBackoffMs * 4)
        .sort((a, b) => a.manifestTriedMs - b.manifestTriedMs || Number(this.hinted.has(b.id)) - Number(this.hinted.has(a.id)) || a.key - b.key)
      for (const peer of candidates) {
        peer.manifestTriedMs = this.c.clock.now()
        try {
          const envelope = await requestManifest(this.c, peer.peerId, this.cid, { signal: this.signal, timeoutMs: this.init.queryTimeoutMs })
          return await this.acceptManifest(peer, envelope)
        } catch (err) {
          this.signal.throwIfAborted()
          if (this.fatal != null) throw this.fatal
          lastError = err
          this.noteFailure(peer, err, 'manifest')
        }
      }
      this.emit(false)
      if (this.c.clock.now() >= deadline) {
        const why = this.peers.size === 0 ? 'no peer is connected and content routing found none' : `none of ${this.peers.size} peer(s) gave it`
        throw new NoProvidersError(this.cid, `could not get manifest ${this.cid}: ${why}`, { cause: lastError })
      }
      await this.idle(this.init.busyBackoffMs)
    }
  }

  private async acceptManifest (peer: PeerRecord, envelope: Uint8Array): Promise<VerifiedManifest> {
    try {
      // The CID check first: a valid envelope for another manifest must not land in the store.
      await openEnvelopeAnySigner(envelope, { expectedCid: this.cid, signal: this.signal })
      const vm = await this.c.store.putManifest(envelope, { signal: this.signal })
      this.log.debug('manifest received', { peer: peer.id })
      return vm
    } catch (err) {
      const code = (err as { code?: string })?.code
      if (code != null && BAD_MANIFEST_CODES.has(code)) {
        this.c.scores.record(peer.id, 'bad', this.c.clock.now())
        this.ban(peer, `sent an unusable manifest (${code})`)
      } else {
        this.fatal = err
      }
      throw err
    }
  }

  private async prepare (vm: VerifiedManifest): Promise<void> {
    this.vm = vm
    const { chunks } = vm.manifest
    const n = chunks.length
    this.sizes = chunkSizes(vm.manifest)
    const first = new Map<string, number>()
    this.primaryOf = chunks.map((cid, i) => {
      if (!first.has(cid)) first.set(cid, i)
      return first.get(cid)!
    })
    this.stored = await Promise.all(chunks.map(async (cid, i) => this.primaryOf[i] === i && await this.c.store.hasChunk(cid, { signal: this.signal })))
    this.done = this.primaryOf.map((p, i) => p !== i || this.stored[i] === true)
    this.alreadyHeld = this.held().filter(Boolean).length
    for (const p of this.peers.values()) p.offers = new Array<boolean>(n).fill(false)
    this.rank = shuffled(n, this.c.random)
    this.lastProgressMs = this.c.clock.now()
    if (this.c.announce != null) {
      this.c.announce(this.cid, { signal: this.signal }).catch(err => { this.log.debug('announcing the manifest failed', { err }) })
    }
  }

  // --- main loop ------------------------------------------------------------------------------

  private async loop (): Promise<void> {
    // Limits count units of about `unitBytes` (see constants.ts): `unit` chunks of this model.
    const unit = chunksPerUnit(this.vm!.manifest.size, this.sizes.length, this.init.unitBytes)
    const params: ScheduleParams = {
      maxInFlightPerPeer: this.init.maxInFlightPerPeer * unit,
      maxInFlight: this.init.maxInFlight * unit,
      maxChunksPerRequest: Math.min(MAX_CHUNKS_PER_REQUEST, Math.max(this.init.maxChunksPerRequest, unit)),
      maxRequestsPerPeer: unit > 1 ? this.init.maxInFlightPerPeer : undefined,
      endgameChunks: this.init.endgameChunks * unit,
      endgameDuplicates: this.init.endgameDuplicates,
      endgameLateFactor: this.init.endgameLateFactor
    }
    this.log.debug('scheduling', { unit, chunkBytes: Math.round((this.vm!.manifest.size ?? 0) / Math.max(1, this.sizes.length)) })
    while (!this.done.every(Boolean)) {
      this.signal.throwIfAborted()
      if (this.fatal != null) throw this.fatal
      const now = this.c.clock.now()
      this.discover(now)
      const views = this.views(now)
      const plan = planRequests({ done: this.done, asked: this.asked, peers: views, rank: this.rank, failed: this.failed, sizes: this.sizes, etaMs: this.etas(now) }, params, now)
      for (const req of plan) this.launch(req.peer, req.chunks)
      this.refreshOffers(now)
      this.updateSeeds(now, views)
      this.checkStall(now)
      this.emit(false)
      await this.idle(this.init.tickMs)
    }
  }

  /**
   * When each chunk being fetched is expected: per outstanding request, what is left of it up to
   * that chunk over the rate the request has been delivering at since its first byte. A request
   * may wait for an upload slot at the sender before its first byte (seen on real links: 3 s of
   * nothing, then the whole chunk in 4 s), so one with no byte yet counts as on time (ETA 0) until
   * ENDGAME_SILENT_MS, then as late (no ETA); one whose rate is not measured yet as on time.
   */
  private etas (now: number): Map<number, number> {
    const out = new Map<number, number>()
    for (const r of this.active) {
      if (r.cancelled) continue
      let eta: (ahead: number) => number
      if (r.firstByteMs == null) {
        if (now - r.sinceMs >= ENDGAME_SILENT_MS) continue
        eta = () => 0
      } else if (now - r.firstByteMs < RATE_SETTLE_MS) {
        eta = () => 0
      } else {
        const rate = r.received * 1000 / (now - r.firstByteMs)
        eta = ahead => Math.max(0, ahead) * 1000 / rate
      }
      let ahead = -r.received
      for (const i of r.chunks) {
        if (!r.pending.has(i)) continue
        ahead += this.sizes[i]!
        out.set(i, Math.min(out.get(i) ?? Number.POSITIVE_INFINITY, eta(ahead)))
      }
    }
    return out
  }

  private views (now: number): PeerView[] {
    return [...this.peers.values()]
      .sort((a, b) => a.key - b.key)
      .map(p => ({
        id: p.id,
        offers: p.offers,
        inFlight: p.inFlight,
        requests: p.requests,
        banned: p.banned || p.dropped,
        cooldownUntilMs: p.cooldownUntilMs,
        score: this.c.scores.get(p.id, now),
        rateBytesPerSec: p.rateBytesPerSec
      }))
  }

  private launch (peerId: string, chunks: number[]): void {
    const peer = this.peers.get(peerId)
    if (peer == null) return
    const req: ActiveRequest = { peer, chunks, pending: new Set(chunks), controller: new AbortController(), cancelled: false, sinceMs: this.c.clock.now(), received: 0 }
    this.active.add(req)
    this.log.debug('chunks requested', { peer: peer.id, chunks })
    peer.inFlight += chunks.length
    peer.requests++
    for (const i of chunks) {
      let s = this.asked.get(i)
      if (s == null) this.asked.set(i, s = new Set())
      s.add(peer.id)
    }
    const cids = this.vm!.manifest.chunks
    requestChunks(this.c, peer.peerId, chunks.map(i => ({ cid: cids[i]!, size: this.sizes[i]! })), {
      manifestCid: this.cid,
      signal: AbortSignal.any([this.signal, req.controller.signal]),
      idleTimeoutMs: this.init.idleTimeoutMs,
      downloadLimiter: this.c.downloadLimiter,
      onPiece: bytes => {
        this.bytesReceived += bytes
        req.received += bytes
        req.firstByteMs ??= this.c.clock.now()
        peer.bytes += bytes
        this.rate.add(this.c.clock.now(), bytes)
      },
      onChunk: async (position, bytes) => { await this.accept(req, chunks[position]!, bytes) },
      onMissing: position => {
        const i = chunks[position]!
        peer.offers[i] = false
        this.markFailed(i, peer.id)
        this.release(req, i)
      }
    }).catch(err => { this.requestFailed(req, err) }).finally(() => {
      for (const i of [...req.pending]) this.release(req, i)
      this.active.delete(req)
      peer.requests = Math.max(0, peer.requests - 1)
      this.wake()
    })
  }

  /** Verifies a chunk, stores it, and cancels other requests that only wait for chunks now held. */
  private async accept (req: ActiveRequest, index: number, bytes: Uint8Array): Promise<void> {
    const cid = this.vm!.manifest.chunks[index]!
    if (!bytesMatchCid(cid, bytes)) throw new BadChunkError(req.peer.id, cid)
    if (this.finished) return
    const now = this.c.clock.now()
    const sample = bytes.byteLength * 1000 / Math.max(1, now - req.sinceMs)
    req.sinceMs = now
    req.received = Math.max(0, req.received - bytes.byteLength)
    req.firstByteMs = req.received > 0 ? now : undefined
    req.peer.rateBytesPerSec = req.peer.rateBytesPerSec === 0 ? sample : (req.peer.rateBytesPerSec + sample) / 2
    if (!this.stored[index]) {
      await this.c.store.putChunk(cid, bytes, { signal: this.signal })
      if (!this.stored[index]) {
        this.stored[index] = true
        this.done[index] = true
        this.chunksFetched++
        this.bytesFetched += bytes.byteLength
        req.peer.chunks++
        this.c.scores.record(req.peer.id, 'chunk', this.c.clock.now())
        this.lastProgressMs = this.c.clock.now()
        this.c.onChunkStored?.(this.cid, cid)
        this.log.debug('chunk stored', { peer: req.peer.id, index, bytes: bytes.byteLength })
      }
    }
    this.release(req, index)
    for (const other of this.active) {
      if (other === req || !other.pending.has(index)) continue
      this.release(other, index)
      if (other.pending.size === 0) this.cancel(other, 'chunk arrived from another peer')
    }
    this.emit(false)
    this.wake()
  }

  /** Ends the bookkeeping of `index` in `req` (once): the chunk is no longer outstanding there. */
  private release (req: ActiveRequest, index: number): void {
    if (!req.pending.delete(index)) return
    req.peer.inFlight = Math.max(0, req.peer.inFlight - 1)
    const s = this.asked.get(index)
    s?.delete(req.peer.id)
    if (s?.size === 0) this.asked.delete(index)
  }

  private cancel (req: ActiveRequest, why: string): void {
    if (req.cancelled) return
    req.cancelled = true
    req.controller.abort(new Error(why))
  }

  private requestFailed (req: ActiveRequest, err: unknown): void {
    if (req.cancelled || this.signal.aborted || this.finished) return
    if (err instanceof BadChunkError) {
      this.c.scores.record(req.peer.id, 'bad', this.c.clock.now())
      this.ban(req.peer, err.message)
      return
    }
    for (const i of req.pending) this.markFailed(i, req.peer.id)
    if (!this.noteFailure(req.peer, err, 'chunks')) this.fatal = err
  }

  /**
   * Applies what an exchange's failure says about the peer (see policy.ts). Returns false when
   * the error is not the peer's doing (the store failed, a bug): the download cannot go on.
   */
  private noteFailure (peer: PeerRecord, err: unknown, what: string): boolean {
    const now = this.c.clock.now()
    const failure = classifyFailure(err)
    const decision = failureDecision(failure, peer.failures, now, this.init, failure === 'busy' ? this.c.random() : 0)
    switch (decision.action) {
      case 'ban':
        this.c.scores.record(peer.id, 'bad', now)
        this.ban(peer, (err as Error).message)
        return true
      case 'cooldown':
        peer.cooldownUntilMs = decision.untilMs
        return true
      case 'no-manifest':
        peer.status = 'no-manifest'
        peer.offers = peer.offers.map(() => false)
        return true
      case 'failure':
        if (decision.scoreTimeout) this.c.scores.record(peer.id, 'timeout', now)
        peer.failures = decision.failures
        peer.cooldownUntilMs = decision.untilMs
        if (decision.drop) {
          peer.dropped = true
          this.log.debug('peer left out after repeated failures', { peer: peer.id })
        }
        this.log.debug(`${what} exchange failed`, { peer: peer.id, err })
        return true
      case 'fatal':
        return false
      default: {
        const unreachable: never = decision
        throw new Error(`unknown decision ${String(unreachable)}`)
      }
    }
  }

  private ban (peer: PeerRecord, why: string): void {
    if (peer.banned) return
    peer.banned = true
    this.log.warn('peer banned from this download', { peer: peer.id, why })
    for (const r of this.active) if (r.peer === peer) this.cancel(r, 'peer banned')
  }

  private markFailed (index: number, peer: string): void {
    let s = this.failed.get(index)
    if (s == null) this.failed.set(index, s = new Set())
    s.add(peer)
  }

  // --- peers and offers -----------------------------------------------------------------------

  private discover (now: number): void {
    if (this.lastScanMs === Number.NEGATIVE_INFINITY) for (const h of this.holders) this.addPeer(h)
    for (const [id, peerId] of [...this.standby]) {
      this.standby.delete(id)
      if (!this.addPeer(peerId)) {
        this.standby.set(id, peerId)
        break
      }
    }
    if (now - this.lastScanMs >= this.init.rescanMs) {
      this.lastScanMs = now
      const seen = new Set<string>()
      const conns = this.c.libp2p.getConnections().filter(c => {
        const id = c.remotePeer.toString()
        if (seen.has(id)) return false
        seen.add(id)
        return true
      })
      for (const i of shuffled(conns.length, this.c.random)) this.addPeer(conns[i]!.remotePeer)
    }
    if (this.c.findProviders == null || this.searching) return
    // Peers said to hold the model (heartbeats) come first: content routing is for holders this
    // node does not know of, and a DHT query walks the network (every node on its way reads its
    // peer store). So while a hinted holder may still deliver, the first search waits a
    // rediscovery interval; once none can, it starts at once.
    const hintsLeft = this.searches === 0 && [...this.hinted].some(id => {
      const p = this.peers.get(id)
      return p == null ? this.standby.has(id) : !p.banned && !p.dropped && p.failures === 0 && p.status !== 'no-manifest'
    })
    const since = hintsLeft ? now - this.startedMs : now - this.lastSearchMs
    if (since >= this.init.rediscoverMs && this.uncovered()) {
      this.searches++
      this.searching = true
      this.lastSearchMs = now
      const search = async (): Promise<void> => {
        for await (const p of this.c.findProviders!(this.cid, { signal: this.workSignal })) {
          if (this.finished) return
          this.addPeer(p)
        }
      }
      search().catch(err => { if (!this.signal.aborted) this.log.debug('provider search failed', { err }) })
        .finally(() => { this.searching = false })
    }
  }

  /** Whether some missing chunk has no offer from any usable peer (or the manifest is not in yet). */
  private uncovered (): boolean {
    if (this.phase === 'manifest') return true
    const usable: PeerRecord[] = []
    for (const p of this.peers.values()) if (!p.banned && !p.dropped) usable.push(p)
    for (let i = 0; i < this.done.length; i++) {
      if (this.done[i] === true) continue
      let offered = false
      for (const p of usable) {
        if (p.offers[i] === true) {
          offered = true
          break
        }
      }
      if (!offered) return true
    }
    return false
  }

  /** Adds a candidate peer; false when it waits in standby for a place (the cap is reached). */
  private addPeer (peerId: PeerId): boolean {
    const id = peerId.toString()
    if (id === this.c.libp2p.peerId.toString()) return true
    const held = this.peers.get(id)
    if (held != null) {
      // Left out after failures in a row (unreachable: a partition, a restart) but turning up
      // again, connected or in a provider record, once its backoff is over: another chance,
      // from a fresh record. A banned peer (bad data) stays out.
      if (!held.dropped || held.banned || held.inFlight > 0 || this.c.clock.now() < held.cooldownUntilMs) return true
      this.peers.delete(id)
      this.log.debug('peer given another chance', { peer: id })
    }
    if (this.c.scores.avoid(id, this.c.clock.now())) return true
    const usable = [...this.peers.values()].filter(p => !p.banned && !p.dropped).length
    if (usable >= this.init.maxPeers) {
      const out = pickEvictable(this.peers.values())
      if (out == null) {
        if (this.standby.size < this.init.maxPeers) this.standby.set(id, peerId)
        return false
      }
      this.peers.delete(out.id)
      this.log.debug('peer let go for another', { peer: out.id, status: out.status, for: id })
    }
    this.standby.delete(id)
    this.peers.set(id, newPeerRecord(peerId, this.done.length, this.c.random()))
    this.wake()
    return true
  }

  /** Opens and closes WATCHes on peers' offers as {@link planWatches} says. */
  private refreshOffers (now: number): void {
    const plan = planWatches(this.done, [...this.peers.values()].map(p => ({
      id: p.id,
      usable: !p.banned && !p.dropped,
      offers: p.offers,
      watching: p.watch != null,
      opening: p.watchOpening,
      cooldownUntilMs: p.cooldownUntilMs,
      nextWatchMs: p.nextWatchMs,
      fresh: p.status === 'new'
    })), now)
    for (const id of plan.close) this.peers.get(id)?.watch?.close()
    for (const id of plan.open) {
      const peer = this.peers.get(id)
      if (peer != null) this.openWatch(peer, now)
    }
  }

  private openWatch (peer: PeerRecord, now: number): void {
    peer.watchOpening = true
    const held = this.held()
    const want = this.wantFrom(peer, now)
    const retryLater = (): void => {
      peer.nextWatchMs = this.c.clock.now() + this.init.haveRefreshMs * (peer.status === 'no-manifest' ? 2 : 1)
    }
    watchHave(this.c, peer.peerId, this.cid, {
      signal: this.workSignal,
      timeoutMs: this.init.queryTimeoutMs,
      chunkCount: this.done.length,
      have: held,
      want,
      onAnswer: answer => {
        peer.offers = answer.offers
        peer.complete = answer.complete
        peer.status = 'ok'
        peer.failures = 0
        this.wake()
      }
    }).then(watch => {
      peer.watch = watch
      peer.sent = { held: held.filter(Boolean).length, want }
      watch.ended.catch(err => {
        if (!this.finished && !this.signal.aborted) this.noteFailure(peer, err, 'watch')
      }).finally(() => {
        peer.watch = undefined
        retryLater()
        this.wake()
      })
    }, err => {
      if (this.finished || this.signal.aborted) return
      this.noteFailure(peer, err, 'watch')
      retryLater()
    }).finally(() => {
      peer.watchOpening = false
      this.wake()
    })
  }

  /** Chunks to ask `peer` to offer: missing, not on their way, and offered by no other peer. */
  private wantFrom (peer: PeerRecord, now: number, views: PeerView[] = this.views(now)): boolean[] {
    return wantsFrom({ done: this.done, peers: views }, peer.id, now).map((w, i) => w && !this.asked.has(i))
  }

  /** Tells watched complete holders (seeds) what this node now holds and wants, when that changed. */
  private updateSeeds (now: number, views: PeerView[]): void {
    let held: boolean[] | undefined
    let count = 0
    for (const p of this.peers.values()) {
      if (p.watch == null || !p.complete || p.banned || p.dropped) continue
      if (held == null) {
        held = this.held()
        for (const h of held) if (h) count++
      }
      const want = this.wantFrom(p, now, views)
      if (p.sent != null && p.sent.held === count && p.sent.want.every((w, i) => w === want[i])) continue
      p.watch.update(held, want)
      p.sent = { held: count, want }
    }
  }

  private checkStall (now: number): void {
    const peers = [...this.peers.values()].map(p => ({ usable: !p.banned && !p.dropped, offers: p.offers }))
    const stall = stallVerdict(this.done, peers, this.lastProgressMs, now, this.init.stallTimeoutMs)
    if (stall == null) return
    throw new FetchStalledError(this.cid, stall.missing, `no chunk of ${this.cid} arrived for ${Math.round(this.init.stallTimeoutMs / 1000)} s: ${stall.missing} missing, ${stall.offered} of them offered by ${stall.usablePeers} usable peer(s)`)
  }

  /** held[i]: chunk i (or the chunk its CID repeats) is in the store. */
  private held (): boolean[] {
    return this.primaryOf.map(p => this.stored[p] === true)
  }

  // --- waiting and progress -------------------------------------------------------------------

  private wake (): void {
    this.woken = true
    this.wakeUp?.()
  }

  private async idle (ms: number): Promise<void> {
    if (this.woken || this.signal.aborted) {
      this.woken = false
      return
    }
    let timer: TimerHandle | undefined
    await new Promise<void>(resolve => {
      this.wakeUp = resolve
      timer = this.c.clock.setTimeout(resolve, ms)
    })
    timer?.cancel()
    this.wakeUp = undefined
    this.woken = false
  }

  private emit (force: boolean): void {
    if (this.onProgress == null) return
    const now = this.c.clock.now()
    if (!force && now - this.lastEmitMs < this.init.progressIntervalMs) return
    this.lastEmitMs = now
    try {
      this.onProgress(this.progress(now))
    } catch (err) {
      this.log.warn('progress listener threw', { err })
    }
  }

  private progress (now: number): FetchProgress {
    const m = this.vm?.manifest
    return {
      manifestCid: this.cid,
      phase: this.phase,
      name: m?.name,
      version: m?.version,
      chunksTotal: this.done.length,
      chunksDone: this.held().filter(Boolean).length,
      bytesTotal: m?.size ?? 0,
      bytesDone: this.held().reduce((a, h, i) => a + (h ? this.sizes[i]! : 0), 0),
      bytesReceived: this.bytesReceived,
      rateBytesPerSec: this.rate.perSecond(now, this.startedMs),
      elapsedMs: now - this.startedMs,
      peers: this.peerProgress(now)
    }
  }

  private peerProgress (now: number): PeerProgress[] {
    return [...this.peers.values()].map(p => peerProgress(p, now))
  }

  private result (vm: VerifiedManifest): FetchResult {
    const now = this.c.clock.now()
    return {
      manifest: vm,
      chunksFetched: this.chunksFetched,
      bytesFetched: this.bytesFetched,
      bytesReceived: this.bytesReceived,
      chunksAlreadyHeld: this.alreadyHeld,
      durationMs: now - this.startedMs,
      peers: this.peerProgress(now)
    }
  }
}
