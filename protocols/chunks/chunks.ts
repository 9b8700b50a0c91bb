/**
 * The serving side of `/tutti/chunks/1.0.0`: one request per stream, read with a size limit and a
 * count limit before anything is decoded, answered from the node's store. A node serves only what
 * its store holds verified, and serves it while it is still downloading the rest.
 */
import { pbStream } from '@libp2p/utils'
import { isManifestCid, isRawCid } from '../../core/cid.js'
import { admitRequest, admitStream } from './admission.js'
import { decodeBitfield, encodeBitfield } from './bitfield.js'
import {
  CHUNKS_PROTOCOL, CHUNKS_VERSION, DEFAULT_MAX_QUEUED_UPLOADS, DEFAULT_MAX_STREAMS_PER_PEER, DEFAULT_MAX_STREAMS_TOTAL,
  DEFAULT_PIECE_BYTES, DEFAULT_SEED_MAX_OFFERS, DEFAULT_SEED_OFFER_PER_PEER, DEFAULT_SEED_OFFER_TTL_MS, DEFAULT_SEED_REPLICA_TARGET,
  DEFAULT_UPLOAD_SLOTS, SEED_SEEN_TTL_MS,
  DEFAULT_MAX_WATCHES, DEFAULT_MAX_WATCHES_PER_PEER, DEFAULT_SUPER_SEED_MIN_BYTES, DEFAULT_UNIT_BYTES, MAX_CHUNKS_PER_REQUEST, chunksPerUnit, MAX_PIECE_BYTES, MAX_REQUEST_BYTES,
  REQUEST_READ_TIMEOUT_MS, WATCH_DEBOUNCE_MS, WATCH_RECHECK_MS, WRITE_TIMEOUT_MS
} from './constants.js'
import { ChunkErrorCode, ChunkTimeoutError } from './errors.js'
import { DEFAULT_STARVE_MS, emptyOfferState, forgetPeer, planOffer, recordOffer, serving, takeOffer } from './offers.js'
import { ChunkRequest, ChunkResponse } from './pb/chunks.js'
import { Slots } from './slots.js'
import { Watchdog } from './watchdog.js'
import { ConfigError } from '../../core/errors.js'
import { randomSeed, seededRandom } from '../../core/random.js'
import { equals } from 'uint8arrays/equals'
import type { OfferReason, SeedOfferParams, SeedOfferState } from './offers.js'
import type { ChunkStore, RateLimiter, ServedManifest } from './types.js'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'

export interface ChunkServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  store: ChunkStore
  clock: Clock
  logger: Logger
  /** Paces every byte of chunk data this node sends (its upload cap). */
  uploadLimiter?: RateLimiter
  /** @default seededRandom(randomSeed()) */
  random?: () => number
}

export interface ChunkServerInit {
  /** @default DEFAULT_MAX_STREAMS_PER_PEER */
  maxStreamsPerPeer?: number
  /** @default DEFAULT_MAX_STREAMS_TOTAL */
  maxStreamsTotal?: number
  /** WATCH streams one peer may hold open. @default DEFAULT_MAX_WATCHES_PER_PEER */
  maxWatchesPerPeer?: number
  /** WATCH streams held open, all peers together. @default DEFAULT_MAX_WATCHES */
  maxWatches?: number
  /** @default MAX_CHUNKS_PER_REQUEST */
  maxChunksPerRequest?: number
  /** @default MAX_REQUEST_BYTES */
  maxRequestBytes?: number
  /** Chunk data per frame, in bytes. @default DEFAULT_PIECE_BYTES */
  pieceBytes?: number
  /** Chunks sent at once. @default DEFAULT_UPLOAD_SLOTS */
  uploadSlots?: number
  /** Chunk requests waiting for a slot before new ones are answered busy. @default DEFAULT_MAX_QUEUED_UPLOADS */
  maxQueuedUploads?: number
  /**
   * When this node holds a whole model and a peer says which chunks it cannot get elsewhere,
   * offer that peer only a few of those, least offered first (see offers.ts). @default true
   */
  superSeed?: boolean
  /**
   * Models of at most this many bytes are offered whole to every asker even with `superSeed`.
   * @default DEFAULT_SUPER_SEED_MIN_BYTES
   */
  superSeedMinBytes?: number
  /** Offers one asker holds, in units of `unitBytes`. @default DEFAULT_SEED_OFFER_PER_PEER */
  seedOfferPerPeer?: number
  /** What the seed commits to at once, in units of `unitBytes`. @default DEFAULT_SEED_MAX_OFFERS */
  seedMaxOffers?: number
  /**
   * The seed's offer limits count units of this many bytes (`chunksPerUnit` chunks of a model);
   * 0 counts single chunks. @default DEFAULT_UNIT_BYTES
   */
  unitBytes?: number
  /** @default DEFAULT_SEED_OFFER_TTL_MS */
  seedOfferTtlMs?: number
  /** @default DEFAULT_SEED_REPLICA_TARGET */
  seedReplicaTarget?: number
  /**
   * How long an asker may want a chunk without an offer before the seed offers it whatever copies
   * it counts elsewhere, ms (offers.ts `starveMs`). @default DEFAULT_STARVE_MS
   */
  seedStarveMs?: number
}

/** What a server has sent since it started. */
export interface ChunkServerStats {
  /** Streams open: requests being served and watches. */
  activeStreams: number
  watches: number
  chunksSent: number
  /** Chunk data bytes sent (frames' overhead not included). */
  bytesSent: number
  /** Requests answered ERR_CHUNKS_BUSY. */
  busy: number
  /** Requests refused as malformed, too large or over the count limit. */
  refused: number
  /** Chunk data bytes sent per peer. */
  bytesByPeer: Record<string, number>
  /** Fresh offers this server made as a seed, by why it made them (offers.ts OfferReason). */
  seedOffers: Record<OfferReason, number>
}

interface SeedState {
  offers: SeedOfferState
  /** Chunks of this model per unit of `unitBytes`: the offer limits are multiples of it. */
  unit: number
  rank: number[]
  indexesByCid: Map<string, number[]>
}

const MAX_SEED_STATES = 16
const MAX_HELD_CACHE = 64
/** How long a complete manifest's bitfield is remembered, in ms (chunkStored() does not change it). */
const COMPLETE_CACHE_MS = 10_000
/** How long a partial manifest's bitfield is remembered, in ms, unless chunkStored() says otherwise. */
const PARTIAL_CACHE_MS = 250

type Resolved = Required<ChunkServerInit>

/** The init with every default filled in; throws ConfigError for a value out of range. */
export function resolveChunkServerInit (init: ChunkServerInit): Required<ChunkServerInit> {
  const r: Resolved = {
    maxStreamsPerPeer: init.maxStreamsPerPeer ?? DEFAULT_MAX_STREAMS_PER_PEER,
    maxStreamsTotal: init.maxStreamsTotal ?? DEFAULT_MAX_STREAMS_TOTAL,
    maxWatchesPerPeer: init.maxWatchesPerPeer ?? DEFAULT_MAX_WATCHES_PER_PEER,
    maxWatches: init.maxWatches ?? DEFAULT_MAX_WATCHES,
    maxChunksPerRequest: init.maxChunksPerRequest ?? MAX_CHUNKS_PER_REQUEST,
    maxRequestBytes: init.maxRequestBytes ?? MAX_REQUEST_BYTES,
    pieceBytes: init.pieceBytes ?? DEFAULT_PIECE_BYTES,
    uploadSlots: init.uploadSlots ?? DEFAULT_UPLOAD_SLOTS,
    maxQueuedUploads: init.maxQueuedUploads ?? DEFAULT_MAX_QUEUED_UPLOADS,
    superSeed: init.superSeed ?? true,
    superSeedMinBytes: init.superSeedMinBytes ?? DEFAULT_SUPER_SEED_MIN_BYTES,
    seedOfferPerPeer: init.seedOfferPerPeer ?? DEFAULT_SEED_OFFER_PER_PEER,
    seedMaxOffers: init.seedMaxOffers ?? DEFAULT_SEED_MAX_OFFERS,
    seedOfferTtlMs: init.seedOfferTtlMs ?? DEFAULT_SEED_OFFER_TTL_MS,
    seedReplicaTarget: init.seedReplicaTarget ?? DEFAULT_SEED_REPLICA_TARGET,
    seedStarveMs: init.seedStarveMs ?? DEFAULT_STARVE_MS,
    unitBytes: init.unitBytes ?? DEFAULT_UNIT_BYTES
  }
  const positive = ['maxStreamsPerPeer', 'maxStreamsTotal', 'maxWatchesPerPeer', 'maxWatches', 'maxChunksPerRequest', 'maxRequestBytes', 'pieceBytes', 'uploadSlots', 'seedOfferPerPeer', 'seedMaxOffers', 'seedOfferTtlMs', 'seedReplicaTarget', 'seedStarveMs'] as const
  for (const k of positive) {
    if (!Number.isSafeInteger(r[k]) || r[k] < 1) throw new ConfigError(`chunk server ${k} must be a positive integer, not ${r[k]}`)
  }
  if (!Number.isSafeInteger(r.unitBytes) || r.unitBytes < 0) throw new ConfigError(`chunk server unitBytes must be an integer >= 0, not ${r.unitBytes}`)
  if (!Number.isSafeInteger(r.superSeedMinBytes) || r.superSeedMinBytes < 0) throw new ConfigError(`chunk server superSeedMinBytes must be an integer >= 0, not ${r.superSeedMinBytes}`)
  if (!Number.isSafeInteger(r.maxQueuedUploads) || r.maxQueuedUploads < 0) throw new ConfigError(`chunk server maxQueuedUploads must be an integer >= 0, not ${r.maxQueuedUploads}`)
  if (r.pieceBytes > MAX_PIECE_BYTES) throw new ConfigError(`chunk server pieceBytes must be at most ${MAX_PIECE_BYTES}, not ${r.pieceBytes}`)
  if (r.maxChunksPerRequest > MAX_CHUNKS_PER_REQUEST) throw new ConfigError(`chunk server maxChunksPerRequest must be at most ${MAX_CHUNKS_PER_REQUEST}`)
  return r
}

/** A request this server refuses, with the code it answers. */
class Refusal extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
  }
}

/**
 * Serves `/tutti/chunks/1.0.0` from a {@link ChunkStore}: which chunks of a manifest it holds, the
 * manifest envelope, and chunks as runs of small frames, paced by the upload limiter. Streams are
 * bounded per peer and in total; chunk sends are bounded by upload slots.
 */
export class ChunkServer {
  private readonly components: ChunkServerComponents
  private readonly init: Resolved
  private readonly log: Logger
  private readonly slots: Slots
  private readonly streamsByPeer = new Map<string, number>()
  private readonly watchesByPeer = new Map<string, number>()
  private readonly active = new Set<Stream>()
  private readonly seeds = new Map<string, SeedState>()
  private readonly heldCache = new Map<string, { untilMs: number, held: boolean[] }>()
  /** WATCH streams per manifest, woken when what they might be offered changes. */
  private readonly watchers = new Map<string, Set<() => void>>()
  private readonly counters = { chunksSent: 0, bytesSent: 0, busy: 0, refused: 0 }
  private readonly seedOffers: Record<OfferReason, number> = { first: 0, replicas: 0, waited: 0, starved: 0 }
  private readonly bytesByPeer = new Map<string, number>()
  private controller = new AbortController()
  private running = false

  constructor (components: ChunkServerComponents, init: ChunkServerInit = {}) {
    this.components = components
    this.init = resolveChunkServerInit(init)
    this.log = components.logger.child('chunks')
    this.slots = new Slots(this.init.uploadSlots, this.init.maxQueuedUploads)
  }

  async start (): Promise<void> {
    if (this.running) return
    this.controller = new AbortController()
    await this.components.libp2p.handle(CHUNKS_PROTOCOL, async (stream, connection) => { await this.handle(stream, connection) }, {
      // Our own limit answers ERR_CHUNKS_BUSY; libp2p's only resets. Keep libp2p's above ours.
      maxInboundStreams: this.init.maxStreamsPerPeer * 2
    })
    this.running = true
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.components.libp2p.unhandle(CHUNKS_PROTOCOL)
    this.controller.abort(new Error('chunk server stopped'))
    for (const stream of this.active) stream.abort(new Error('chunk server stopped'))
    this.active.clear()
  }

  /** Tells the server a peer disconnected: its copies stop counting when the seed plans offers. */
  peerGone (peerId: string): void {
    for (const seed of this.seeds.values()) seed.offers = forgetPeer(seed.offers, peerId)
  }

  /**
   * Tells the server that this node stored a chunk of `manifestCid`, so peers watching it hear of
   * it at once. Without these calls they hear of it only when something else changes.
   */
  chunkStored (manifestCid: string): void {
    const cached = this.heldCache.get(manifestCid)
    if (cached != null && !cached.held.every(Boolean)) this.heldCache.delete(manifestCid)
    this.changed(manifestCid)
  }

  private changed (manifestCid: string): void {
    for (const wake of this.watchers.get(manifestCid) ?? []) wake()
  }

  stats (): ChunkServerStats {
    return {
      activeStreams: this.active.size,
      watches: sum(this.watchesByPeer.values()),
      ...this.counters,
      bytesByPeer: Object.fromEntries(this.bytesByPeer),
      seedOffers: { ...this.seedOffers }
    }
  }

  /** Handles one inbound stream. Public so a node can mount it itself; `start()` registers it. */
  async handle (stream: Stream, connection: Connection): Promise<void> {
    const peer = connection.remotePeer.toString()
    const pb = pbStream(stream, { maxDataLength: this.init.maxRequestBytes })
    const admitted = admitStream(this.running, this.active.size, this.init)
    if (!admitted.admit) {
      this.counters.busy++
      await this.answerError(stream, pb, ChunkErrorCode.Busy, admitted.message)
      return
    }
    this.active.add(stream)
    let watchdog = new Watchdog(this.components.clock, REQUEST_READ_TIMEOUT_MS, () => new ChunkTimeoutError('the peer sent no request in time'), this.controller.signal)
    // A reset by the asker ends the work at once (a wait for tokens or a slot included).
    const onClose = (): void => { watchdog.abort(new Error('the stream closed')) }
    stream.addEventListener('close', onClose)
    let counted: Map<string, number> | undefined
    try {
      let req: ChunkRequest
      try {
        req = await pb.read(ChunkRequest, { signal: watchdog.signal, limits: { chunkCids: this.init.maxChunksPerRequest } })
      } catch (err) {
        if (watchdog.signal.aborted) throw err
        const refusal = readRefusal(err, this.init)
        this.counters.refused++
        this.log.debug('refused a chunk request', { peer, code: refusal.code, err })
        await this.answerError(stream, pb, refusal.code, refusal.message)
        return
      }
      const watch = req.kind === ChunkRequest.Kind.WATCH
      const byPeer = watch ? this.watchesByPeer : this.streamsByPeer
      const mine = byPeer.get(peer) ?? 0
      const request = admitRequest(watch ? 'watch' : 'request', mine, sum(byPeer.values()), this.init)
      if (!request.admit) {
        this.counters.busy++
        await this.answerError(stream, pb, ChunkErrorCode.Busy, request.message)
        return
      }
      byPeer.set(peer, mine + 1)
      counted = byPeer
      // Serving may wait for an upload slot; only a peer that stops reading for this long is cut.
      watchdog.stop()
      watchdog = new Watchdog(this.components.clock, WRITE_TIMEOUT_MS, () => new ChunkTimeoutError('the peer stopped reading'), this.controller.signal)
      try {
        await this.serve(req, peer, pb, watchdog)
      } catch (err) {
        if (!(err instanceof Refusal)) throw err
        if (err.code !== ChunkErrorCode.NotFound && err.code !== ChunkErrorCode.Busy) this.counters.refused++
        if (err.code === ChunkErrorCode.Busy) this.counters.busy++
        await this.answerError(stream, pb, err.code, err.message)
        return
      }
      const closing = new Watchdog(this.components.clock, WRITE_TIMEOUT_MS, () => new ChunkTimeoutError('the peer did not close'), this.controller.signal)
      try {
        await stream.close({ signal: closing.signal })
      } finally {
        closing.stop()
      }
    } catch (err) {
      this.log.debug('chunk stream ended early', { peer, err })
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      watchdog.stop()
      stream.removeEventListener('close', onClose)
      this.active.delete(stream)
      if (counted != null) {
        const n = (counted.get(peer) ?? 1) - 1
        if (n <= 0) counted.delete(peer)
        else counted.set(peer, n)
      }
    }
  }

  private async serve (req: ChunkRequest, peer: string, pb: ProtobufStream<Stream>, watchdog: Watchdog): Promise<void> {
    if (req.version === 0 || req.version > CHUNKS_VERSION) {
      throw new Refusal(ChunkErrorCode.UnsupportedVersion, `chunk request version ${req.version} is not supported (this peer speaks ${CHUNKS_VERSION})`)
    }
    const write = async (res: Partial<ChunkResponse>): Promise<void> => {
      await pb.write(response(res), ChunkResponse, { signal: watchdog.signal })
      watchdog.kick()
    }
    switch (req.kind) {
      case ChunkRequest.Kind.HAVE: {
        const manifest = await this.manifest(req.manifestCid)
        await write((await this.have(manifest, req, peer))!)
        return
      }
      case ChunkRequest.Kind.WATCH: {
        const manifest = await this.manifest(req.manifestCid)
        watchdog.stop()
        await this.watch(manifest, req, peer, pb, watchdog.signal)
        return
      }
      case ChunkRequest.Kind.MANIFEST: {
        const manifest = await this.manifest(req.manifestCid)
        await write({ envelope: manifest.envelope as Uint8Array<ArrayBuffer> })
        return
      }
      case ChunkRequest.Kind.CHUNKS:
        await this.sendChunks(req, peer, write, watchdog)
        return
      default:
        throw new Refusal(ChunkErrorCode.BadRequest, `unknown request kind ${String(req.kind)}`)
    }
  }

  private async manifest (cid: string): Promise<ServedManifest> {
    if (!isManifestCid(cid)) throw new Refusal(ChunkErrorCode.BadRequest, 'manifest_cid is not a manifest CID')
    const manifest = await this.components.store.getManifest(cid, { signal: this.controller.signal })
    if (manifest == null) throw new Refusal(ChunkErrorCode.NotFound, `this peer does not hold manifest ${cid}`)
    return manifest
  }

  /**
   * A WATCH: the HAVE answer now, then again whenever it changes (this node stored a chunk; a
   * seed's offers moved), until the asker closes the stream. The asker may send fresh WATCH
   * requests (its `have` and `want`) at any time; a seed plans its offer on the latest.
   */
  private async watch (vm: ServedManifest, first: ChunkRequest, peer: string, pb: ProtobufStream<Stream>, streamSignal: AbortSignal): Promise<void> {
    const local = new AbortController()
    const signal = AbortSignal.any([streamSignal, local.signal])
    let ask = first
    let last: Uint8Array | undefined
    let dirty = true
    let wakeUp: (() => void) | undefined
    const wake = (): void => {
      dirty = true
      wakeUp?.()
    }
    let set = this.watchers.get(vm.cid)
    if (set == null) this.watchers.set(vm.cid, set = new Set())
    const watchers = set
    watchers.add(wake)
    const reading = (async () => {
      for (;;) {
        const next = await pb.read(ChunkRequest, { signal, limits: { chunkCids: 0 } })
        if (next.kind !== ChunkRequest.Kind.WATCH || next.manifestCid !== vm.cid) throw new Error('a watch takes only WATCH requests for its manifest')
        ask = next
        wake()
      }
    })()
    // The asker closing its side (or anything it sends wrong) ends the watch.
    reading.catch(err => { local.abort(err) })
    try {
      for (let n = 0; !signal.aborted; n++) {
        if (!dirty) {
          // Woken by chunkStored() or a seed's offers moving; without those, look again now and then.
          let timer: TimerHandle | undefined
          let onAbort: (() => void) | undefined
          await new Promise<void>(resolve => {
            wakeUp = resolve
            timer = this.components.clock.setTimeout(wake, WATCH_RECHECK_MS)
            onAbort = resolve
            signal.addEventListener('abort', onAbort, { once: true })
          })
          signal.removeEventListener('abort', onAbort!)
          timer?.cancel()
          wakeUp = undefined
          if (signal.aborted) break
        }
        // Let a burst of changes settle into one answer (not for the first one).
        if (n > 0) await this.components.clock.sleep(WATCH_DEBOUNCE_MS, { signal }).catch(() => {})
        if (signal.aborted) break
        dirty = false
        const answer = await this.have(vm, ask, peer, last)
        if (answer == null) continue
        const writing = new Watchdog(this.components.clock, WRITE_TIMEOUT_MS, () => new ChunkTimeoutError('the watcher does not read'), signal)
        try {
          await pb.write(response(answer), ChunkResponse, { signal: writing.signal })
        } finally {
          writing.stop()
        }
        last = answer.bitfield
      }
    } finally {
      watchers.delete(wake)
      if (watchers.size === 0) this.watchers.delete(vm.cid)
      local.abort(new Error('watch ended'))
    }
  }

  /**
   * The HAVE answer for `req`, or undefined when its bitfield equals `unlessEqual` (nothing new).
   * A complete holder asked with a `want` answers with offers (see offers.ts) and records them.
   */
  private async have (vm: ServedManifest, req: ChunkRequest, peer: string, unlessEqual?: Uint8Array): Promise<Partial<ChunkResponse> | undefined> {
    const chunks = vm.manifest.chunks
    const count = chunks.length
    const held = await this.held(vm)
    const complete = held.every(Boolean)
    if (complete && this.init.superSeed && (vm.manifest.size ?? Number.POSITIVE_INFINITY) > this.init.superSeedMinBytes && req.want.byteLength > 0) {
      let has: boolean[], wants: boolean[]
      try {
        has = req.have.byteLength > 0 ? decodeBitfield(req.have, count, 'have') : new Array<boolean>(count).fill(false)
        wants = decodeBitfield(req.want, count, 'want')
      } catch (err) {
        throw new Refusal(ChunkErrorCode.BadRequest, (err as Error).message)
      }
      const seed = this.seedState(vm)
      const now = this.components.clock.now()
      const ask = { peer, has, wants }
      const plan = planOffer(seed.offers, ask, this.offerParams(seed), seed.rank, now)
      const offered = new Set(plan.offer)
      const bitfield = encodeBitfield(count, i => offered.has(i)) as Uint8Array<ArrayBuffer>
      if (unlessEqual != null && equals(bitfield, unlessEqual)) return undefined
      seed.offers = recordOffer(seed.offers, ask, plan, this.offerParams(seed), now)
      for (const why of plan.reasons) this.seedOffers[why]++
      return { chunkCount: count, bitfield, complete: true }
    }
    const bitfield = encodeBitfield(count, i => held[i] === true) as Uint8Array<ArrayBuffer>
    if (unlessEqual != null && equals(bitfield, unlessEqual)) return undefined
    return { chunkCount: count, bitfield, complete }
  }

  /** Which chunks of a manifest the store holds, remembered briefly (every watch asks). */
  private async held (vm: ServedManifest): Promise<boolean[]> {
    const now = this.components.clock.now()
    const cached = this.heldCache.get(vm.cid)
    if (cached != null && cached.untilMs > now) return cached.held
    const held = await Promise.all(vm.manifest.chunks.map(async cid => await this.components.store.hasChunk(cid, { signal: this.controller.signal })))
    this.heldCache.delete(vm.cid)
    if (this.heldCache.size >= MAX_HELD_CACHE) this.heldCache.delete(this.heldCache.keys().next().value!)
    this.heldCache.set(vm.cid, { untilMs: now + (held.every(Boolean) ? COMPLETE_CACHE_MS : PARTIAL_CACHE_MS), held })
    return held
  }

  private offerParams (seed: SeedState): SeedOfferParams {
    return {
      perPeer: this.init.seedOfferPerPeer * seed.unit,
      maxOpen: this.init.seedMaxOffers * seed.unit,
      ttlMs: this.init.seedOfferTtlMs,
      replicaTarget: this.init.seedReplicaTarget,
      seenTtlMs: SEED_SEEN_TTL_MS,
      starveMs: this.init.seedStarveMs
    }
  }

  private seedState (vm: ServedManifest): SeedState {
    let s = this.seeds.get(vm.cid)
    if (s == null) {
      const count = vm.manifest.chunks.length
      const random = this.components.random ?? seededRandom(randomSeed())
      const rank = Array.from({ length: count }, (_, i) => i)
      for (let i = count - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1))
        ;[rank[i], rank[j]] = [rank[j]!, rank[i]!]
      }
      const indexesByCid = new Map<string, number[]>()
      vm.manifest.chunks.forEach((cid, i) => { indexesByCid.set(cid, [...(indexesByCid.get(cid) ?? []), i]) })
      s = { offers: emptyOfferState(count), unit: chunksPerUnit(vm.manifest.size, count, this.init.unitBytes), rank, indexesByCid }
      if (this.seeds.size >= MAX_SEED_STATES) this.seeds.delete(this.seeds.keys().next().value!)
      this.seeds.set(vm.cid, s)
    }
    return s
  }

  private async sendChunks (req: ChunkRequest, peer: string, write: (res: Partial<ChunkResponse>) => Promise<void>, watchdog: Watchdog): Promise<void> {
    if (req.chunkCids.length === 0) throw new Refusal(ChunkErrorCode.BadRequest, 'a chunk request must name at least one chunk')
    const bad = req.chunkCids.findIndex(c => !isRawCid(c))
    if (bad >= 0) throw new Refusal(ChunkErrorCode.BadRequest, `chunk_cids[${bad}] is not a chunk CID`)
    if (!this.slots.canQueue()) throw new Refusal(ChunkErrorCode.Busy, 'busy: every upload slot is taken and the queue is full')
    // An offer is taken once asked for, so the asker's next HAVE may bring new ones while this
    // runs; until sent, the chunk still counts against what the seed commits to.
    const seed = this.seeds.get(req.manifestCid)
    let pending = 0
    if (seed != null) {
      for (const cid of req.chunkCids) {
        for (const i of seed.indexesByCid.get(cid) ?? []) seed.offers = takeOffer(seed.offers, peer, i, this.components.clock.now(), this.offerParams(seed))
        seed.offers = serving(seed.offers, 1)
        pending++
      }
      // The asker took offers: it has room for new ones.
      this.changed(req.manifestCid)
    }
    try {
      await this.sendEach(req, peer, write, watchdog, () => {
        if (seed != null && pending > 0) {
          pending--
          seed.offers = serving(seed.offers, -1)
          this.changed(req.manifestCid)
        }
      })
    } finally {
      for (; seed != null && pending > 0; pending--) seed.offers = serving(seed.offers, -1)
      this.changed(req.manifestCid)
    }
  }

  private async sendEach (req: ChunkRequest, peer: string, write: (res: Partial<ChunkResponse>) => Promise<void>, watchdog: Watchdog, sent: () => void): Promise<void> {
    for (const [index, cid] of req.chunkCids.entries()) {
      const bytes = await this.components.store.getChunk(cid, { signal: watchdog.signal })
      if (bytes == null) {
        sent()
        await write({ index, missing: true })
        continue
      }
      const release = await this.slots.acquire(watchdog.signal)
      try {
        for (let offset = 0; offset < bytes.byteLength || offset === 0; offset += this.init.pieceBytes) {
          const data = bytes.subarray(offset, offset + this.init.pieceBytes)
          await this.components.uploadLimiter?.take(data.byteLength, { signal: watchdog.signal })
          await write({ index, offset, total: bytes.byteLength, data: data as Uint8Array<ArrayBuffer> })
          this.counters.bytesSent += data.byteLength
          this.bytesByPeer.set(peer, (this.bytesByPeer.get(peer) ?? 0) + data.byteLength)
          if (bytes.byteLength === 0) break
        }
      } finally {
        release()
      }
      this.counters.chunksSent++
      sent()
    }
  }

  private async answerError (stream: Stream, pb: ProtobufStream<Stream>, code: string, message: string): Promise<void> {
    const watchdog = new Watchdog(this.components.clock, WRITE_TIMEOUT_MS, () => new ChunkTimeoutError('the peer did not take the error answer'), this.controller.signal)
    try {
      await pb.write(response({ errorCode: code, errorMessage: message }), ChunkResponse, { signal: watchdog.signal })
      await stream.close({ signal: watchdog.signal })
    } catch (err) {
      this.log.debug('could not deliver an error answer', { code, err })
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      watchdog.stop()
    }
  }
}

function sum (values: Iterable<number>): number {
  let n = 0
  for (const v of values) n += v
  return n
}

function response (res: Partial<ChunkResponse>): ChunkResponse {
  return {
    errorCode: '',
    errorMessage: '',
    chunkCount: 0,
    bitfield: new Uint8Array(),
    complete: false,
    envelope: new Uint8Array(),
    index: 0,
    offset: 0,
    total: 0,
    data: new Uint8Array(),
    missing: false,
    ...res
  }
}

/** Why a request could not be read: too large (checked before decoding), too many CIDs, or garbage. */
function readRefusal (err: unknown, init: Resolved): Refusal {
  const e = err as { name?: string, code?: string, message?: string }
  if (e?.name === 'InvalidDataLengthError' || e?.name === 'InvalidDataLengthLengthError') {
    return new Refusal(ChunkErrorCode.RequestTooLarge, `request is larger than ${init.maxRequestBytes} bytes`)
  }
  if (e?.name === 'MaxLengthError') {
    return new Refusal(ChunkErrorCode.TooManyChunks, `a request may ask for at most ${init.maxChunksPerRequest} chunks`)
  }
  return new Refusal(ChunkErrorCode.BadRequest, `request could not be read: ${e?.message ?? String(err)}`)
}
