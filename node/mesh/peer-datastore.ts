/**
 * The datastore under the mesh, with the peer store's records (`/peers/...`) held in memory and
 * written behind.
 *
 * libp2p's peer store reads and rewrites a peer's record on every stream opened to or from it,
 * on every peer a DHT answer names, on every dial: with LevelDB under it, a node moving a model
 * made ~60 reads and ~45 writes a second (10 nodes on loopback, 64 KiB chunks), and LevelDB was
 * the largest single item in a fetching node's CPU profile (docs/models.md). Here those records
 * are read from memory once loaded, and the writes to one record coalesce into one LevelDB write
 * per `flushMs`. Everything else (DHT records and provider records) goes straight through.
 *
 * What a crash loses: the peer-record updates of the last `flushMs` (addresses and protocols of
 * peers, which the node learns again from them). Nothing an operator was told is durable lives
 * under `/peers`. Deletes are written through at once, so a deleted record never comes back from
 * the backing store.
 */
import { Key } from 'interface-datastore'
import type { Clock, TimerHandle } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions } from '@libp2p/interface'
import type { Batch, Datastore, KeyQuery, Pair, Query } from 'interface-datastore'

/** Records under this prefix are cached and written behind. */
export const PEERS_PREFIX = '/peers/'

/** How long a peer-record write may wait in memory, in ms. @default 5000 */
export const DEFAULT_PEER_FLUSH_MS = 5000

/** Peer records held in memory at most; clean ones beyond are dropped, oldest read first. @default 4096 */
export const DEFAULT_MAX_CACHED_PEERS = 4096

export interface PeerCachingDatastoreInit {
  /** @default DEFAULT_PEER_FLUSH_MS */
  flushMs?: number
  /** @default DEFAULT_MAX_CACHED_PEERS */
  maxCached?: number
}

export interface PeerCachingDatastoreComponents {
  clock: Clock
  logger: Logger
}

export interface PeerCachingDatastoreStats {
  /** Peer-record reads answered from memory. */
  hits: number
  /** Peer-record reads that went to the backing store. */
  misses: number
  /** Peer-record writes taken (in memory). */
  writes: number
  /** Records written to the backing store by flushes. */
  flushed: number
  /** Flushes that failed (their records stay dirty and are tried again). */
  flushFailures: number
}

function isPeerKey (key: Key): boolean {
  return key.toString().startsWith(PEERS_PREFIX)
}

/** Whether a query with this prefix may return peer records. */
function mayReturnPeers (prefix: string | undefined): boolean {
  if (prefix == null) return true
  return PEERS_PREFIX.startsWith(prefix) || prefix.startsWith(PEERS_PREFIX)
}

export class PeerCachingDatastore implements Datastore {
  private readonly backing: Datastore & { close?: () => Promise<void> }
  private readonly c: PeerCachingDatastoreComponents
  private readonly flushMs: number
  private readonly maxCached: number
  /** Known peer records, in read/write order (a Map keeps insertion order: re-set to move one last). */
  private readonly cache = new Map<string, Uint8Array>()
  /** Records written here and not yet to the backing store. */
  private readonly dirty = new Set<string>()
  private timer?: TimerHandle
  private flushing?: Promise<void>
  private closed = false
  /** Deletes so far: a read that a delete overtook is not cached. */
  private deletes = 0
  private readonly counters: PeerCachingDatastoreStats = { hits: 0, misses: 0, writes: 0, flushed: 0, flushFailures: 0 }

  constructor (backing: Datastore & { close?: () => Promise<void> }, components: PeerCachingDatastoreComponents, init: PeerCachingDatastoreInit = {}) {
    const flushMs = init.flushMs ?? DEFAULT_PEER_FLUSH_MS
    const maxCached = init.maxCached ?? DEFAULT_MAX_CACHED_PEERS
    if (!Number.isFinite(flushMs) || flushMs < 0) throw new RangeError(`flushMs must be a finite number >= 0, got ${flushMs}`)
    if (!Number.isInteger(maxCached) || maxCached < 1) throw new RangeError(`maxCached must be an integer >= 1, got ${maxCached}`)
    this.backing = backing
    this.c = components
    this.flushMs = flushMs
    this.maxCached = maxCached
  }

  stats (): PeerCachingDatastoreStats {
    return { ...this.counters }
  }

  /** Peer records waiting to be written. */
  get pending (): number {
    return this.dirty.size
  }

  async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    if (!isPeerKey(key) || this.closed) return await this.backing.put(key, value, options)
    options?.signal?.throwIfAborted()
    const k = key.toString()
    this.cache.delete(k)
    this.cache.set(k, value)
    this.dirty.add(k)
    this.counters.writes++
    this.trim()
    this.schedule()
    return key
  }

  async get (key: Key, options?: AbortOptions): Promise<Uint8Array> {
    if (!isPeerKey(key)) return await this.backing.get(key, options)
    const k = key.toString()
    const held = this.cache.get(k)
    if (held != null) {
      this.counters.hits++
      this.cache.delete(k)
      this.cache.set(k, held)
      return held
    }
    this.counters.misses++
    const deletes = this.deletes
    const value = await this.backing.get(key, options)
    // A write or a delete while the backing store answered wins over what it read.
    if (!this.cache.has(k) && deletes === this.deletes && !this.closed) {
      this.cache.set(k, value)
      this.trim()
    }
    return this.cache.get(k) ?? value
  }

  async has (key: Key, options?: AbortOptions): Promise<boolean> {
    if (isPeerKey(key) && this.cache.has(key.toString())) return true
    return await this.backing.has(key, options)
  }

  async delete (key: Key, options?: AbortOptions): Promise<void> {
    if (isPeerKey(key)) {
      const k = key.toString()
      this.cache.delete(k)
      this.dirty.delete(k)
      this.deletes++
    }
    await this.backing.delete(key, options)
  }

  async * putMany (source: Iterable<Pair> | AsyncIterable<Pair>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const { key, value } of source) yield await this.put(key, value, options)
  }

  async * getMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Pair> {
    for await (const key of source) yield { key, value: await this.get(key, options) }
  }

  async * deleteMany (source: Iterable<Key> | AsyncIterable<Key>, options?: AbortOptions): AsyncGenerator<Key> {
    for await (const key of source) {
      await this.delete(key, options)
      yield key
    }
  }

  batch (): Batch {
    const ops: Array<{ key: Key, value?: Uint8Array }> = []
    return {
      put: (key, value) => { ops.push({ key, value }) },
      delete: (key) => { ops.push({ key }) },
      commit: async (options?: AbortOptions) => {
        for (const op of ops) {
          if (op.value != null) await this.put(op.key, op.value, options)
          else await this.delete(op.key, options)
        }
      }
    }
  }

  /** Peer records are flushed first when the query may return them, so it sees every write. */
  async * query (q: Query, options?: AbortOptions): AsyncGenerator<Pair> {
    if (mayReturnPeers(q.prefix)) await this.flush()
    yield * this.backing.query(q, options)
  }

  async * queryKeys (q: KeyQuery, options?: AbortOptions): AsyncGenerator<Key> {
    if (mayReturnPeers(q.prefix)) await this.flush()
    yield * this.backing.queryKeys(q, options)
  }

  /**
   * Writes every dirty peer record to the backing store in one batch. A failed batch leaves its
   * records dirty (unless written again since) and throws; the next flush tries them again.
   */
  async flush (): Promise<void> {
    while (this.flushing != null) await this.flushing.catch(() => {})
    this.timer?.cancel()
    this.timer = undefined
    if (this.dirty.size === 0) return
    const keys = [...this.dirty]
    this.dirty.clear()
    const batch = this.backing.batch()
    const written = new Map<string, Uint8Array>()
    for (const k of keys) {
      const value = this.cache.get(k)
      if (value == null) continue
      written.set(k, value)
      batch.put(new Key(k), value)
    }
    this.flushing = (async () => { await batch.commit() })()
    try {
      await this.flushing
      this.counters.flushed += written.size
    } catch (err) {
      this.counters.flushFailures++
      for (const [k, value] of written) if (this.cache.get(k) === value) this.dirty.add(k)
      if (!this.closed) this.schedule()
      throw err
    } finally {
      this.flushing = undefined
    }
  }

  /** Flushes, then closes the backing store (if it can be closed). Later writes go straight through. */
  async close (): Promise<void> {
    try {
      await this.flush()
    } finally {
      this.closed = true
      this.timer?.cancel()
      this.timer = undefined
      await this.backing.close?.()
    }
  }

  private schedule (): void {
    if (this.timer != null || this.closed) return
    this.timer = this.c.clock.setTimeout(() => {
      this.timer = undefined
      this.flush().catch(err => { this.c.logger.warn('peer records not written, will retry', { err, pending: this.dirty.size }) })
    }, this.flushMs)
  }

  /** Drops the least recently used clean records beyond the cap (dirty ones stay until flushed). */
  private trim (): void {
    if (this.cache.size <= this.maxCached) return
    for (const k of this.cache.keys()) {
      if (this.cache.size <= this.maxCached) break
      if (!this.dirty.has(k)) this.cache.delete(k)
    }
  }
}
