/**
 * A {@link ChunkStore} held in memory: for the simulator (thousands of logical nodes, no disk) and
 * for tests of the chunk protocol and the fetcher. It keeps the same promises as the on-disk store:
 * a chunk is stored only if its bytes hash to its CID (multiformats sha2-256) and some held
 * manifest lists it; a manifest only after the injected `verify` accepted its envelope.
 */
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { equals } from 'uint8arrays/equals'
import { ChunksMissingError, ChunkUnknownError, ChunkVerificationError, ModelNotFoundError } from './errors.js'
import type { ChunkStore, VerifiedManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface MemoryChunkStoreInit {
  /**
   * Verifies an envelope from anywhere untrusted and says what it holds; throws to refuse it.
   * In a node: `envelope => openEnvelope(envelope, fleet)`.
   */
  verify: (envelope: Uint8Array, options?: AbortOptions) => VerifiedManifest | Promise<VerifiedManifest>
}

export class MemoryChunkStore implements ChunkStore {
  private readonly verify: MemoryChunkStoreInit['verify']
  private readonly chunks = new Map<string, Uint8Array>()
  private readonly manifests = new Map<string, VerifiedManifest>()
  /** Chunk CIDs listed by a held manifest: the only chunks this store accepts. */
  private readonly wanted = new Set<string>()

  constructor (init: MemoryChunkStoreInit) {
    this.verify = init.verify
  }

  /** The stored bytes (not a copy: callers must not modify them). */
  async getChunk (cid: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    options.signal?.throwIfAborted()
    return this.chunks.get(cid)
  }

  async hasChunk (cid: string, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return this.chunks.has(cid)
  }

  async putChunk (cid: string, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (this.chunks.has(cid)) return
    if (!await matchesRawCid(cid, bytes)) throw new ChunkVerificationError(cid)
    if (!this.wanted.has(cid)) throw new ChunkUnknownError(cid)
    this.chunks.set(cid, Uint8Array.from(bytes))
  }

  async getManifest (cid: string, options: AbortOptions = {}): Promise<VerifiedManifest | undefined> {
    options.signal?.throwIfAborted()
    return this.manifests.get(cid)
  }

  async putManifest (envelope: Uint8Array, options: AbortOptions = {}): Promise<VerifiedManifest> {
    options.signal?.throwIfAborted()
    const verified = await this.verify(envelope, options)
    const held = this.manifests.get(verified.cid)
    if (held != null) return held
    this.manifests.set(verified.cid, { ...verified, envelope: Uint8Array.from(verified.envelope) })
    for (const c of verified.manifest.chunks) this.wanted.add(c)
    return this.manifests.get(verified.cid)!
  }

  /** Drops a chunk (the simulator's disk loss, a test's partial holder). */
  deleteChunk (cid: string): boolean {
    return this.chunks.delete(cid)
  }

  /** Number of chunks and bytes held. */
  usage (): { chunks: number, bytes: number } {
    let bytes = 0
    for (const c of this.chunks.values()) bytes += c.byteLength
    return { chunks: this.chunks.size, bytes }
  }

  /** The whole model file of a held manifest, chunk after chunk. Throws if chunks are missing. */
  async assemble (manifestCid: string): Promise<Uint8Array> {
    const vm = this.manifests.get(manifestCid)
    if (vm == null) throw new ModelNotFoundError(manifestCid)
    const parts = vm.manifest.chunks.map(c => this.chunks.get(c))
    const missing = parts.filter(p => p == null).length
    if (missing > 0) throw new ChunksMissingError(manifestCid, missing)
    const out = new Uint8Array(vm.manifest.size)
    let offset = 0
    for (const p of parts) {
      out.set(p!, offset)
      offset += p!.byteLength
    }
    return out
  }
}

/** True when `cid` is a CIDv1 raw sha2-256 address and `bytes` hash to it. */
async function matchesRawCid (cid: string, bytes: Uint8Array): Promise<boolean> {
  let parsed: CID
  try {
    parsed = CID.parse(cid)
  } catch {
    return false
  }
  if (parsed.version !== 1 || parsed.code !== raw.code || parsed.multihash.code !== sha256.code) return false
  const digest = await sha256.digest(bytes)
  return equals(digest.digest, parsed.multihash.digest)
}
