import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_QUERY_TIMEOUT_MS, DEFAULT_UNIT_BYTES, MAX_CHUNKS_PER_REQUEST } from '../../protocols/chunks/index.js'
import { ConfigError } from '../../core/errors.js'
import { isManifestCid } from '../../core/cid.js'
import { randomSeed, seededRandom } from '../../core/random.js'
import {
  DEFAULT_BUSY_BACKOFF_MS, DEFAULT_ENDGAME_CHUNKS, DEFAULT_ENDGAME_DUPLICATES, DEFAULT_ENDGAME_LATE_FACTOR, DEFAULT_FAILURE_BACKOFF_MS,
  DEFAULT_HAVE_REFRESH_MS, DEFAULT_MANIFEST_TIMEOUT_MS, DEFAULT_MAX_CHUNKS_PER_REQUEST, DEFAULT_MAX_IN_FLIGHT, DEFAULT_MAX_IN_FLIGHT_PER_PEER,
  DEFAULT_MAX_PEER_FAILURES, DEFAULT_MAX_PEERS, DEFAULT_PROGRESS_INTERVAL_MS, DEFAULT_TICK_MS,
  DEFAULT_RATE_WINDOW_MS, DEFAULT_REDISCOVER_MS, DEFAULT_RESCAN_MS, DEFAULT_STALL_TIMEOUT_MS, DEFAULT_ANNOUNCE_DELAY_MS
} from './constants.js'
import { DeferredAnnouncer } from './announcer.js'
import { Download } from './download.js'
import { InvalidManifestCidError } from './errors.js'
import { PeerScores } from './peer-scores.js'
import type { ProviderFinder } from './download.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { ChunkStore, VerifiedManifest } from '../models/types.js'
import type { RateLimiter } from '../ratelimit/token-bucket.js'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

export interface FetcherComponents {
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getConnections' | 'peerId'>
  store: ChunkStore
  clock: Clock
  logger: Logger
  /** Finds peers that announced a manifest; see `libp2pProviders`. Without it, only connected peers are asked. */
  findProviders?: ProviderFinder
  /**
   * Announces that this node holds (part of) a manifest (a DHT provide; see `announce`). The
   * fetcher calls it once per CID, `announceDelayMs` after a download has the manifest or
   * {@link Fetcher.announceSoon} asks (see announcer.ts).
   */
  announce?: (manifestCid: string, options?: AbortOptions) => Promise<void>
  /** Paces every byte of chunk data received (this node's download cap). */
  downloadLimiter?: RateLimiter
  /**
   * Called after each chunk is stored. Wire it to the node's `ChunkServer.chunkStored` so peers
   * waiting on this node hear of the chunk at once.
   */
  onChunkStored?: (manifestCid: string, chunkCid: string) => void
  /** @default seededRandom(randomSeed()) */
  random?: () => number
}

export interface FetcherInit {
  /** Peers one download talks to at most. @default DEFAULT_MAX_PEERS */
  maxPeers?: number
  /**
   * The size of the unit the limits below count, in bytes: a unit is `chunksPerUnit` chunks of the
   * model (about this many bytes of them, at most MAX_CHUNKS_PER_REQUEST); 0 counts single chunks.
   * @default DEFAULT_UNIT_BYTES
   */
  unitBytes?: number
  /** Units outstanding per peer, in as many requests at most. @default DEFAULT_MAX_IN_FLIGHT_PER_PEER */
  maxInFlightPerPeer?: number
  /** Units outstanding in all. @default DEFAULT_MAX_IN_FLIGHT */
  maxInFlight?: number
  /** Chunks per request; at least a unit's. @default DEFAULT_MAX_CHUNKS_PER_REQUEST */
  maxChunksPerRequest?: number
  /** Endgame starts when at most this many units are missing; 0 turns it off. @default DEFAULT_ENDGAME_CHUNKS */
  endgameChunks?: number
  /** Endgame: peers asked for the same chunk at once. @default DEFAULT_ENDGAME_DUPLICATES */
  endgameDuplicates?: number
  /** Endgame: how late a chunk must be expected before another peer is asked too; 0 asks at once. @default DEFAULT_ENDGAME_LATE_FACTOR */
  endgameLateFactor?: number
  /** @default DEFAULT_HAVE_REFRESH_MS */
  haveRefreshMs?: number
  /** @default DEFAULT_TICK_MS */
  tickMs?: number
  /** No frame of a chunk transfer for this long fails it, in ms. @default DEFAULT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /** HAVE and MANIFEST answers, in ms. @default DEFAULT_QUERY_TIMEOUT_MS */
  queryTimeoutMs?: number
  /** @default DEFAULT_BUSY_BACKOFF_MS */
  busyBackoffMs?: number
  /** @default DEFAULT_FAILURE_BACKOFF_MS */
  failureBackoffMs?: number
  /** @default DEFAULT_MAX_PEER_FAILURES */
  maxPeerFailures?: number
  /** @default DEFAULT_STALL_TIMEOUT_MS */
  stallTimeoutMs?: number
  /** @default DEFAULT_MANIFEST_TIMEOUT_MS */
  manifestTimeoutMs?: number
  /** @default DEFAULT_RESCAN_MS */
  rescanMs?: number
  /** @default DEFAULT_REDISCOVER_MS */
  rediscoverMs?: number
  /** @default DEFAULT_PROGRESS_INTERVAL_MS */
  progressIntervalMs?: number
  /** @default DEFAULT_RATE_WINDOW_MS */
  rateWindowMs?: number
  /** Mean wait before a CID's DHT announce, ms; 0 announces at once. @default DEFAULT_ANNOUNCE_DELAY_MS */
  announceDelayMs?: number
}

export type ResolvedFetcherInit = Required<FetcherInit>

export interface FetchOptions extends AbortOptions {
  /** Called at most every `progressIntervalMs`, and at every phase change. */
  onProgress?: (progress: FetchProgress) => void
  /**
   * Peers said to hold (part of) the model, say from their heartbeats: they are taken before
   * other connected peers and asked for the manifest first. A hint only: each is checked as any peer.
   */
  holders?: PeerId[]
}

/** One peer's part in a download. */
export interface PeerProgress {
  peerId: string
  /** Chunk bytes received from it (duplicates and rejected ones included). */
  bytes: number
  /** Chunks it delivered first that were stored. */
  chunks: number
  inFlight: number
  /** Chunks it offers, as last asked. */
  offers: number
  state: 'ok' | 'cooldown' | 'no-manifest' | 'dropped' | 'banned'
}

/** A snapshot of a download, for progress bars and logs. */
export interface FetchProgress {
  manifestCid: string
  /** 'manifest': looking for and verifying the manifest; then 'downloading'; then 'done'. */
  phase: 'manifest' | 'downloading' | 'done'
  name?: string
  version?: string
  chunksDone: number
  chunksTotal: number
  bytesDone: number
  bytesTotal: number
  /** Chunk bytes received in this download, duplicates and rejected ones included. */
  bytesReceived: number
  /** Received bytes per second over the last `rateWindowMs`. */
  rateBytesPerSec: number
  elapsedMs: number
  peers: PeerProgress[]
}

export interface FetchResult {
  manifest: VerifiedManifest
  /** Chunks this download stored (not counting those held before). */
  chunksFetched: number
  bytesFetched: number
  /** Chunk bytes received, duplicates and rejected ones included. */
  bytesReceived: number
  chunksAlreadyHeld: number
  durationMs: number
  peers: PeerProgress[]
}

/** The init with every default filled in; throws ConfigError for a value out of range. */
export function resolveFetcherInit (init: FetcherInit): ResolvedFetcherInit {
  const r: ResolvedFetcherInit = {
    maxPeers: init.maxPeers ?? DEFAULT_MAX_PEERS,
    unitBytes: init.unitBytes ?? DEFAULT_UNIT_BYTES,
    maxInFlightPerPeer: init.maxInFlightPerPeer ?? DEFAULT_MAX_IN_FLIGHT_PER_PEER,
    maxInFlight: init.maxInFlight ?? DEFAULT_MAX_IN_FLIGHT,
    maxChunksPerRequest: init.maxChunksPerRequest ?? DEFAULT_MAX_CHUNKS_PER_REQUEST,
    endgameChunks: init.endgameChunks ?? DEFAULT_ENDGAME_CHUNKS,
    endgameDuplicates: init.endgameDuplicates ?? DEFAULT_ENDGAME_DUPLICATES,
    endgameLateFactor: init.endgameLateFactor ?? DEFAULT_ENDGAME_LATE_FACTOR,
    haveRefreshMs: init.haveRefreshMs ?? DEFAULT_HAVE_REFRESH_MS,
    tickMs: init.tickMs ?? DEFAULT_TICK_MS,
    idleTimeoutMs: init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS,
    queryTimeoutMs: init.queryTimeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS,
    busyBackoffMs: init.busyBackoffMs ?? DEFAULT_BUSY_BACKOFF_MS,
    failureBackoffMs: init.failureBackoffMs ?? DEFAULT_FAILURE_BACKOFF_MS,
    maxPeerFailures: init.maxPeerFailures ?? DEFAULT_MAX_PEER_FAILURES,
    stallTimeoutMs: init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
    manifestTimeoutMs: init.manifestTimeoutMs ?? DEFAULT_MANIFEST_TIMEOUT_MS,
    rescanMs: init.rescanMs ?? DEFAULT_RESCAN_MS,
    rediscoverMs: init.rediscoverMs ?? DEFAULT_REDISCOVER_MS,
    progressIntervalMs: init.progressIntervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS,
    rateWindowMs: init.rateWindowMs ?? DEFAULT_RATE_WINDOW_MS,
    announceDelayMs: init.announceDelayMs ?? DEFAULT_ANNOUNCE_DELAY_MS
  }
  if (!(Number.isFinite(r.endgameLateFactor) && r.endgameLateFactor >= 0)) throw new ConfigError(`fetcher endgameLateFactor must be a number >= 0, not ${r.endgameLateFactor}`)
  for (const [k, v] of Object.entries(r)) {
    if (k === 'endgameLateFactor') continue
    const min = k === 'endgameChunks' || k === 'unitBytes' || k === 'announceDelayMs' ? 0 : 1
    if (!Number.isSafeInteger(v) || v < min) throw new ConfigError(`fetcher ${k} must be an integer >= ${min}, not ${v}`)
  }
  if (r.maxChunksPerRequest > MAX_CHUNKS_PER_REQUEST) throw new ConfigError(`fetcher maxChunksPerRequest must be at most ${MAX_CHUNKS_PER_REQUEST}`)
  return r
}

/**
 * Downloads models from peers: `fetch(manifestCid)` gets the manifest, then every chunk the store
 * lacks, from several peers at once, verifying each chunk before it is stored. Peer reputations
 * last across downloads; `stop()` aborts every download in progress.
 */
export class Fetcher {
  private readonly components: FetcherComponents
  private readonly init: ResolvedFetcherInit
  private readonly scores = new PeerScores()
  private readonly running = new Set<AbortController>()
  private readonly random: () => number
  private readonly announcer?: DeferredAnnouncer

  constructor (components: FetcherComponents, init: FetcherInit = {}) {
    this.components = components
    this.init = resolveFetcherInit(init)
    this.random = components.random ?? seededRandom(randomSeed())
    const announce = components.announce
    if (announce != null) {
      this.announcer = new DeferredAnnouncer({
        announce,
        holds: async (cid, options) => await components.store.getManifest(cid, options) != null,
        clock: components.clock,
        random: this.random,
        logger: components.logger.child('announce')
      }, { delayMs: this.init.announceDelayMs })
    }
  }

  /**
   * Announces (a DHT provide) that this node holds `manifestCid`, once per CID and process, after
   * `announceDelayMs` (0.5 to 1.5 times it): heartbeats tell the fleet sooner; the record is for
   * whoever they do not reach. Does nothing without an `announce` component.
   */
  announceSoon (manifestCid: string): void {
    this.announcer?.soon(manifestCid)
  }

  /**
   * Fetches a model by manifest CID into the store. Resumes: chunks the store holds are not
   * fetched again. Throws {@link InvalidManifestCidError}, `NoProvidersError`, `FetchStalledError`,
   * `FetchAbortedError`, or the store's error when it cannot store.
   */
  async fetch (manifestCid: string, options: FetchOptions = {}): Promise<FetchResult> {
    if (!isManifestCid(manifestCid)) throw new InvalidManifestCidError(String(manifestCid))
    const controller = new AbortController()
    this.running.add(controller)
    const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
    const download = new Download({
      ...this.components,
      announce: this.announcer != null ? async cid => { this.announceSoon(cid) } : undefined,
      random: this.random,
      scores: this.scores
    }, this.init, manifestCid, signal, options.onProgress, options.holders)
    try {
      return await download.run()
    } finally {
      this.running.delete(controller)
    }
  }

  /** The peer's current reputation (0 for a peer never seen; negative after failures). */
  peerScore (peerId: string): number {
    return this.scores.get(peerId, this.components.clock.now())
  }

  /** Aborts every download in progress. */
  stop (): void {
    for (const c of this.running) c.abort(new Error('fetcher stopped'))
    this.running.clear()
    this.announcer?.stop()
  }
}
