/**
 * Chunk transfer for the discrete-event simulator, with partial relaying: a model version is
 * split into chunks (1 MiB, node/models DEFAULT_CHUNK_BYTES), every node that holds a chunk serves
 * it (a download in progress serves the chunks it has), and a downloader asks for the rarest
 * missing chunk first from the holder that should deliver it soonest, as the fetcher's planner
 * does (node/fetcher/schedule.ts). The origin (the node the models were pushed to) is one holder
 * among others, so as copies spread it serves less: its egress per model stays near one copy.
 *
 * Bandwidth: each node's upload and each node's download is a queue; a chunk runs at the slower of
 * the two ends' rates and takes that long of the sender's upload, as soon as it is free, and of the
 * receiver's download, as soon as that is free and not before the sender has sent it, plus the
 * link latency. (Booking both ends for one common slot, as this model first did, left a sender
 * idle while its receiver finished another holder's chunk.) The upload queue is bounded
 * as the chunk server bounds it (protocols/chunks: DEFAULT_UPLOAD_SLOTS sending plus
 * DEFAULT_MAX_QUEUED_UPLOADS waiting; past that a request is answered busy): a holder with that
 * many chunks booked is no candidate, and a downloader that finds every holder it tried busy asks
 * again after the fetcher's busy cool-down (DEFAULT_BUSY_BACKOFF_MS, jittered up to twice).
 * Chunks are verified and written whole (atomically), so a crash loses only the chunk in flight.
 */
import { DEFAULT_BUSY_BACKOFF_MS } from '../../node/fetcher/constants.js'
import { DEFAULT_CHUNK_BYTES } from '../../node/models/constants.js'
import { DEFAULT_MAX_QUEUED_UPLOADS, DEFAULT_SEED_REPLICA_TARGET, DEFAULT_UPLOAD_SLOTS } from '../../protocols/chunks/constants.js'
import { DEFAULT_STARVE_MS, DEFAULT_WITHHOLD_MS } from '../../protocols/chunks/offers.js'
import type { SimNode, World } from './world.js'

/** Chunks a downloader asks for at once. @default 4 */
export const PARALLEL_CHUNKS = 4
/** Holders a downloader compares for one chunk (the fetcher's peer cap). @default 8 */
export const CANDIDATE_HOLDERS = 8
/** Wait before asking again when no holder is reachable, ms. */
export const RETRY_MS = 2000
/** pickSource: a holder other than the origin was reachable, but every holder tried was busy. */
const BUSY = -2
/** pickSource: the origin was the only holder it could use, and it was busy. */
const ORIGIN_BUSY = -3
/** Chunks a holder has booked (sending or waiting) before it answers busy, as the chunk server does. */
export const MAX_BOOKED_UPLOADS = DEFAULT_UPLOAD_SLOTS + DEFAULT_MAX_QUEUED_UPLOADS

export interface VersionFile {
  key: string
  sizeBytes: number
  chunks: number
  /** holders[k]: the nodes that hold chunk k. */
  holders: number[][]
  /** originServing[k]: copies of chunk k the origin is sending now. */
  originServing: number[]
  /**
   * originServed[k]: the nodes the origin delivered chunk k to, with the boot they had then: a
   * copy the origin verified, which counts against serving the chunk again while that node is
   * still downloading (it relays what it holds) in that same boot.
   */
  originServed: Array<Array<{ node: number, boot: number }>>
  /** The nodes fetching this file now (a crash ends a fetch without leaving: see the boot above). */
  downloading: Set<number>
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
  /** Chunks booked on each node's upload and not yet delivered. */
  private readonly booked: number[] = []
  readonly stats: TransferStats = { originBytes: 0, peerBytes: 0, uploaded: [] }

  constructor (
    private readonly world: World<any>,
    private readonly origin: number,
    private readonly originBytesPerSec: number,
    private readonly chunkBytes = DEFAULT_CHUNK_BYTES
  ) {}

  addFile (key: string, sizeBytes: number): VersionFile {
    const chunks = Math.max(1, Math.ceil(sizeBytes / this.chunkBytes))
    const file: VersionFile = {
      key,
      sizeBytes,
      chunks,
      holders: Array.from({ length: chunks }, () => []),
      originServing: new Array<number>(chunks).fill(0),
      originServed: Array.from({ length: chunks }, () => []),
      downloading: new Set()
    }
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
    file.downloading.add(node.i)
    let retrying = false
    const pump = (): void => {
      if (finished) return
      if (bits.every(b => b === 1)) { finished = true; file.downloading.delete(node.i); done(); return }
      // Rarest first among the chunks neither held nor asked for; ties by the shuffle.
      const order: number[] = []
      for (let t = 0; t < file.chunks; t++) {
        const k = tie[t]!
        if (bits[k] === 0 && asked[k] === 0) order.push(k)
      }
      order.sort((a, b) => file.holders[a]!.length - file.holders[b]!.length)
      let waiting = false
      let busy = false
      for (const chunk of order) {
        if (inFlight >= PARALLEL_CHUNKS) break
        const now = world.now
        if (Number.isNaN(wantSince[chunk]!)) wantSince[chunk] = now
        const bytes = Math.min(this.chunkBytes, file.sizeBytes - chunk * this.chunkBytes)
        const source = this.pickSource(node.i, file, chunk, bytes, now - wantSince[chunk]!)
        if (source === BUSY || source === ORIGIN_BUSY) busy = true
        if (source < 0) {
          waiting = true
          // A holder other than the origin is there, only busy. The fetcher wants a chunk from a
          // seed only while no other usable peer offers it (node/fetcher/schedule.ts wantsFrom): a
          // busy peer is unusable for its cool-down (0.5-1 s), then offers the chunk again, and the
          // seed's wait restarts when the want clears (offers.ts recordOffer). So the origin's wait
          // runs only while the asker finds no other holder: it starts anew at the next attempt.
          if (source === BUSY) wantSince[chunk] = Number.NaN
          continue
        }
        // The asker's wait for a source ends here; a retry after a failed delivery waits anew, as the
        // origin's withholding clock starts only when it withholds (offers.ts `recordOffer`).
        wantSince[chunk] = Number.NaN
        asked[chunk] = 1
        inFlight++
        if (source === this.origin) file.originServing[chunk]!++
        this.booked[source] = (this.booked[source] ?? 0) + 1
        const rate = Math.min(this.rate(source), this.rate(node.i))
        // The chunk takes `send` of the sender's upload and `send` of the receiver's download,
        // each as soon as that link is free: a receiver busy with another holder's chunk does not
        // hold this sender's upload idle meanwhile.
        const send = (bytes / rate) * 1000
        const sent = Math.max(now, this.upFreeAt[source] ?? 0) + send
        const received = Math.max(sent, (this.downFreeAt[node.i] ?? 0) + send)
        this.upFreeAt[source] = sent
        this.downFreeAt[node.i] = received
        const at = received + world.latency(source, node.i) - now
        const sourceBoot = world.nodes[source]!.boot
        world.after(node, at, () => {
          inFlight--
          asked[chunk] = 0
          if (source === this.origin) file.originServing[chunk]!--
          this.booked[source]!--
          // The sender must still be there, and the path open, when the last byte arrives.
          if (world.nodes[source]!.boot === sourceBoot && world.canTalk(source, node.i)) {
            if (bits[chunk] === 0) {
              bits[chunk] = 1
              file.holders[chunk]!.push(node.i)
            }
            if (source === this.origin) {
              this.stats.originBytes += bytes
              file.originServed[chunk]!.push({ node: node.i, boot: node.boot })
            }
            else this.stats.peerBytes += bytes
            this.stats.uploaded[source] = (this.stats.uploaded[source] ?? 0) + bytes
          }
          pump()
        })
      }
      // One retry at a time: chunks nobody could serve are asked for again a little later.
      if (waiting && inFlight < PARALLEL_CHUNKS && !retrying) {
        retrying = true
        world.after(node, busy ? DEFAULT_BUSY_BACKOFF_MS * (1 + world.random()) : RETRY_MS, () => { retrying = false; pump() })
      }
    }
    pump()
  }

  /**
   * Of a few holders drawn at random, the reachable one that should deliver the chunk soonest.
   * The origin super-seeds as protocols/chunks/offers.ts `planOffer` does, with its replica target
   * DEFAULT_SEED_REPLICA_TARGET (1): while it is not sending the chunk already, it offers it when
   * no other node holds it, or once the asker has wanted it for DEFAULT_WITHHOLD_MS (`waitedMs`:
   * attempts that found no other reachable holder, not even a busy one) and no node the
   * origin itself delivered it to is still downloading (claims it did not verify stop counting
   * then, and a holder that finished is a seed running the same rule, or gone), or once the asker
   * has wanted it for DEFAULT_STARVE_MS whatever it counts. A holder with
   * MAX_BOOKED_UPLOADS chunks booked answers busy. Returns -1 when no holder is reachable, BUSY
   * when every one tried was busy and one of them was not the origin, ORIGIN_BUSY when only the
   * origin could serve and it was busy.
   */
  private pickSource (node: number, file: VersionFile, chunk: number, bytes: number, waitedMs: number): number {
    const world = this.world
    const holders = file.holders[chunk]!
    const originOffers = file.originServing[chunk]! < DEFAULT_SEED_REPLICA_TARGET &&
      (holders.length - 1 < DEFAULT_SEED_REPLICA_TARGET || (waitedMs >= DEFAULT_WITHHOLD_MS && (waitedMs >= DEFAULT_STARVE_MS || this.originCopiesRelaying(file, chunk) < DEFAULT_SEED_REPLICA_TARGET)))
    let best = -1
    let bestAt = Number.POSITIVE_INFINITY
    const sample = holders.length <= CANDIDATE_HOLDERS * 2
    const tries = sample ? holders.length : CANDIDATE_HOLDERS * 2
    let seen = 0
    let othersBusy = false
    let originBusy = false
    for (let t = 0; t < tries && seen < CANDIDATE_HOLDERS; t++) {
      const h = sample ? holders[t]! : holders[Math.floor(world.random() * holders.length)]!
      if (h === node || !world.canTalk(h, node)) continue
      if (h === this.origin && !originOffers) continue
      if ((this.booked[h] ?? 0) >= MAX_BOOKED_UPLOADS) {
        if (h === this.origin) originBusy = true
        else othersBusy = true
        continue
      }
      seen++
      const at = Math.max(world.now, this.upFreeAt[h] ?? 0) + (bytes / Math.min(this.rate(h), this.rate(node))) * 1000
      if (at < bestAt) { best = h; bestAt = at }
    }
    if (best < 0 && originOffers && this.origin !== node && world.canTalk(this.origin, node)) {
      if ((this.booked[this.origin] ?? 0) < MAX_BOOKED_UPLOADS) best = this.origin
      else originBusy = true
    }
    if (best >= 0) return best
    return othersBusy ? BUSY : originBusy ? ORIGIN_BUSY : -1
  }

  /** Copies of `chunk` the origin delivered to nodes still downloading the file in the same boot. */
  private originCopiesRelaying (file: VersionFile, chunk: number): number {
    let n = 0
    for (const { node, boot } of file.originServed[chunk]!) {
      if (file.downloading.has(node) && this.world.nodes[node]!.boot === boot && this.world.canTalk(this.origin, node)) n++
    }
    return n
  }
}
