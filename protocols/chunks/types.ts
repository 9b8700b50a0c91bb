/**
 * What the chunk protocol needs from the node that runs it. The protocol declares these; the node
 * implements them (node/models' stores, node/ratelimit's token buckets), so the protocol imports
 * nothing of the node.
 */
import type { AbortOptions } from '@libp2p/interface'

/** What the protocol needs of a manifest it serves. A node's verified manifest is one. */
export interface ServedManifest {
  /** The manifest CID (CIDv1 json, sha2-256 of the signed manifest bytes). */
  cid: string
  /** The signed envelope exactly as received and stored: what MANIFEST answers. */
  envelope: Uint8Array
  manifest: {
    /** Chunk CIDs in file order: what HAVE and WATCH bitfields index. */
    chunks: readonly string[]
    /** Bytes of the whole model, when known: small models are offered whole (`superSeedMinBytes`). */
    size?: number
  }
}

/** Where a chunk server reads what it serves. It must hold only verified bytes. */
export interface ChunkStore {
  /** Verified bytes of a chunk, or undefined if this node does not hold it. */
  getChunk(cid: string, options?: AbortOptions): Promise<Uint8Array | undefined>
  hasChunk(cid: string, options?: AbortOptions): Promise<boolean>
  /** A verified manifest this node holds (complete or not), by manifest CID. */
  getManifest(cid: string, options?: AbortOptions): Promise<ServedManifest | undefined>
}

/** Something that paces bytes (an upload or download cap). */
export interface RateLimiter {
  /** Resolves when `bytes` may be sent (or have been received); rejects if the signal aborts. */
  take(bytes: number, options?: AbortOptions): Promise<void>
}
