/**
 * Chunk transfer for the discrete-event simulator, with partial relaying: a model version is
 * split into chunks (1 MiB, node/models DEFAULT_CHUNK_BYTES), every node that holds a chunk serves
 * it (a download in progress serves the chunks it has), and a downloader asks for the rarest
 * missing chunk first from the holder that should deliver it soonest, as the fetcher's planner
 * does (node/fetcher/schedule.ts). The origin (the node the models were pushed to) is one holder
 * among others, so as copies spread it serves less: its egress per model stays near one copy.
 *
 * Bandwidth: each node's upload is a queue (a chunk waits for the sender's earlier chunks), each
 * transfer runs at the slower of the two ends' rates, plus the link latency. Chunks are verified
 * and written whole (atomically), so a crash loses only the chunk in flight.
 */
import { DEFAULT_CHUNK_BYTES } from '../../node/models/constants.js'
import { DEFAULT_SEED_REPLICA_TARGET } from '../../protocols/chunks/constants.js'
import { DEFAULT_WITHHOLD_MS } from '../../protocols/chunks/offers.js'
import type { SimNode, World } from './world.js'

/** Chunks a downloader asks for at once. @default 4 */
export const PARALLEL_CHUNKS = 4
/** Holders a downloader compares for one chunk (the fetcher's peer cap). @default 8 */
export const CANDIDATE_HOLDERS = 8
/** Wait before asking again when no holder is reachable, ms. */
export const RETRY_MS = 2000

export interface VersionFile {
  key: string
  sizeBytes: number
  chunks: number
  /** holders[k]: the nodes that hold chunk k. */
  holders: number[][]
}

export interface TransferStats {
  originBytes: number
  peerBytes: number
  /** Bytes each node uploaded. */
  uploaded: number[]
}

export class ChunkTransfer {
  readonly files = new Map<string, VersionFile>()
  /** have.get(key)[node]: bitmap of chunks (Uint8Array per node, created on first chunk). */
  private readonly have = new Map<string, Array<Uint8Array | undefined>>()
  private readonly upFreeAt: number[] = []
  private readonly downFreeAt: number[] = []
  private readonly originServing: number[] = []
  readonly stats: TransferStats = { originBytes: 0, peerBytes: 0, uploaded: [] }

  constructor (
    private readonly world: World<any>,
    private readonly origin: number,
    private readonly originBytesPerSec: number,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES
  ) {}

  addFile (key: string, sizeBytes: number): VersionFile {
    const chunks = Math.max(1, Math.ceil(sizeBytes / this.chunkBytes))
    const file: VersionFile = { key, sizeBytes, chunks, holders: Array.from({ length: chunks }, () => []) }
    this.files.set(key, file)
    this.have.set(key, [])
    return file
  }

  /** `node` holds the whole file (the origin; every node for the version it runs at the start). */
  seed (key: string, node: number): void {
    const file = this.files.get(key)!
    const bits = new Uint8Array(file.chunks).fill(1)
    this.have.get(key)![node] = bits
    for (const h of file.holders) h.push(node)
  }

  complete (key: string, node: number): boolean {
    const bits = this.have.get(key)?.[node]
    return bits !== undefined && bits.every(b => b === 1)
  }

  chunksHeld (key: string, node: number): number {
    const bits = this.have.get(key)?.[node]
    let n = 0
    if (bits !== undefined) for (const b of bits) n += b
    return n
  }

  private rate (node: number): number {
    return node === this.origin ? this.originBytesPerSec : (this.world.nodes[node]!.link?.bytesPerSec ?? this.world.base.bytesPerSec)
  }

  /**
   * Fetches `key` into `node`, in `node`'s process (a pause stops it, a crash ends it). Calls
   * `done` once every chunk is held. Chunks already held are not fetched again.
   */
  fetch (node: SimNode, key: string, done: () => void): void {
    const file = this.files.get(key)!
    const have = this.have.get(key)!
    const bits = have[node.i] ?? new Uint8Array(file.chunks)
    have[node.i] = bits
    const asked = new Uint8Array(file.chunks)
    // Ties between equally rare chunks follow a per-download shuffle, as the fetcher's do.
    const tie = Array.from({ length: file.chunks }, (_, k) => k)
    for (let k = tie.length - 1; k > 0; k--) {
      const j = Math.floor(this.world.random() * (k + 1))
      ;[tie[k], tie[j]] = [tie[j]!, tie[k]!]
    }
    let inFlight = 0
    let finished = false
    const world = this.world
    const wantSince = new Float64Array(file.chunks).fill(Number.NaN)
    let retrying = false
    const pump = (): void => {
      if (finished) return
      if (bits.every(b => b === 1)) { finished = true; done(); return }
      // Rarest first among the chunks neither held nor asked for; ties by the shuffle.
      const order: number[] = []
      for (let t = 0; t < file.chunks; t++) {
        const k = tie[t]!
        if (bits[k] === 0 && asked[k] === 0) order.push(k)
      }
      order.sort((a, b) => file.holders[a]!.length - file.holders[b]!.length)
      let waiting = false
      for (const chunk of order) {
        if (inFlight >= PARALLEL_CHUNKS) break
        const now = world.now
        if (Number.isNaN(wantSince[chunk]!)) wantSince[chunk] = now
        const bytes = Math.min(this.chunkBytes, file.sizeBytes - chunk * this.chunkBytes)
        const source = this.pickSource(node.i, file, chunk, bytes, now - wantSince[chunk]!)
        if (source < 0) { waiting = true; continue }
        asked[chunk] = 1
        inFlight++
        if (source === this.origin) this.originServing[chunk] = (this.originServing[chunk] ?? 0) + 1
        const rate = Math.min(this.rate(source), this.rate(node.i))
        const start = Math.max(now, this.upFreeAt[source] ?? 0, this.downFreeAt[node.i] ?? 0)
        const send = (bytes / rate) * 1000
        this.upFreeAt[source] = start + send
        this.downFreeAt[node.i] = start + send
        const at = start + send + world.latency(source, node.i) - now
        const sourceBoot = world.nodes[source]!.boot
        world.after(node, at, () => {
          inFlight--
          asked[chunk] = 0
          if (source === this.origin) this.originServing[chunk]!--
          // The sender must still be there, and the path open, when the last byte arrives.
          if (world.nodes[source]!.boot === sourceBoot && world.canTalk(source, node.i)) {
            if (bits[chunk] === 0) {
              bits[chunk] = 1
              file.holders[chunk]!.push(node.i)
            }
            if (source === this.origin) this.stats.originBytes += bytes
            else this.stats.peerBytes += bytes
            this.stats.uploaded[source] = (this.stats.uploaded[source] ?? 0) + bytes
          }
          pump()
        })
      }
      // One retry at a time: chunks nobody could serve are asked for again a little later.
      if (waiting && inFlight < PARALLEL_CHUNKS && !retrying) {
        retrying = true
        world.after(node, RETRY_MS, () => { retrying = false; pump() })
      }
    }
    pump()
  }

  /**
   * Of a few holders drawn at random, the reachable one that should deliver the chunk soonest.
   * The origin super-seeds (protocols/chunks/offers.ts): it offers a chunk only while fewer than
   * DEFAULT_SEED_REPLICA_TARGET other nodes hold it and it is not sending it already, or once the
   * asker has wanted it for DEFAULT_WITHHOLD_MS with nobody else to get it from.
   */
  private pickSource (node: number, file: VersionFile, chunk: number, bytes: number, waitedMs: number): number {
    const world = this.world
    const holders = file.holders[chunk]!
    const originOffers = ((this.originServing[chunk] ?? 0) === 0 && holders.length - 1 < DEFAULT_SEED_REPLICA_TARGET) || waitedMs >= DEFAULT_WITHHOLD_MS
    let best = -1
    let bestAt = Number.POSITIVE_INFINITY
    const sample = holders.length <= CANDIDATE_HOLDERS * 2
    const tries = sample ? holders.length : CANDIDATE_HOLDERS * 2
    let seen = 0
    for (let t = 0; t < tries && seen < CANDIDATE_HOLDERS; t++) {
      const h = sample ? holders[t]! : holders[Math.floor(world.random() * holders.length)]!
      if (h === node || !world.canTalk(h, node)) continue
      if (h === this.origin && !originOffers) continue
      seen++
      const at = Math.max(world.now, this.upFreeAt[h] ?? 0) + (bytes / Math.min(this.rate(h), this.rate(node))) * 1000
      if (at < bestAt) { best = h; bestAt = at }
    }
    if (best < 0 && originOffers && this.origin !== node && world.canTalk(this.origin, node)) best = this.origin
    return best
  }
}
