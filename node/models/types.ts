/**
 * Shared shapes of the model subsystem: packaging and the store (node/models) produce them, the
 * fetcher (node/fetcher) consumes them. They extend what the chunk protocol declares it needs
 * (protocols/chunks/types.ts), so a store serves the protocol as it is. Keep this file small and
 * stable; implementation lives elsewhere.
 */
import type { ChunkStore as ServedChunkStore, ServedManifest } from '../../protocols/chunks/types.js'
import type { AbortOptions } from '@libp2p/interface'

/** A tensor's element type as onnxruntime names it ('float32', 'int64', ...). */
export type TensorElementType = string

export interface TensorSpec {
  name: string
  type: TensorElementType
  /** Dimensions; a string is a symbolic dimension ('batch'), -1 an unknown one. */
  shape: Array<number | string>
}

/**
 * How a schema-2 manifest's file was cut into chunks: content-defined (core/cdc.ts), so a new
 * version shares the chunks of its unchanged bytes with the old one.
 */
export interface ManifestChunking {
  /** 'fastcdc/1': FastCDC, normalized level 2, with the gear table of core/cdc.ts. */
  method: 'fastcdc/1'
  minBytes: number
  avgBytes: number
  maxBytes: number
}

/**
 * The signed description of one model version. Its CID addresses the canonical bytes.
 *
 * Schema 1: fixed-size chunks, chunk i is bytes [i * chunkBytes, (i + 1) * chunkBytes).
 * Schema 2: content-defined chunks; `chunking` says how they were cut, `chunkSizes[i]` is chunk
 * i's length and `chunkBytes` the largest a chunk may be (`chunking.maxBytes`). Nodes that know
 * only schema 1 refuse a schema-2 manifest ("schema 2 is newer than the supported 1").
 */
export interface ModelManifest {
  kind: 'TuttiModel'
  schema: 1 | 2
  name: string
  /** Semver of the model (not of Tutti). */
  version: string
  labels: Record<string, string>
  /** File size in bytes. */
  size: number
  /** Schema 1: the size of every chunk but the last. Schema 2: the largest chunk size allowed. */
  chunkBytes: number
  /** CIDv1 (raw codec, sha2-256), base32 strings, in file order. */
  chunks: string[]
  /** Schema 2 only: how the chunks were cut. */
  chunking?: ManifestChunking
  /** Schema 2 only: the length of each chunk, in file order; they add up to `size`. */
  chunkSizes?: number[]
  /** The whole file's sha2-256 digest as a CIDv1 raw string. */
  digest: string
  opset: number
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  /** A sample input for smoke tests: name -> { datatype, shape, data } (KServe v2 JSON tensors). */
  sampleInput: Record<string, { datatype: string, shape: number[], data: number[] | string[] | boolean[] }>
  /** Estimated bytes needed to run it (weights + a working-set allowance). */
  memoryEstimateBytes: number
  createdAt: string
}

/** A manifest, verified: its CID, the exact signed bytes, and who signed it. */
export interface VerifiedManifest extends ServedManifest {
  cid: string
  manifest: ModelManifest
  /** The envelope bytes exactly as signed and stored (what peers exchange). */
  envelope: Uint8Array
  /** The signer's peer id. */
  signer: string
}

/** What the fetcher needs from a node's store: what the chunk protocol serves from, and writes. */
export interface ChunkStore extends ServedChunkStore {
  /** Checks that `bytes` hash to `cid` (throws ChunkVerificationError otherwise), then stores durably. */
  putChunk(cid: string, bytes: Uint8Array, options?: AbortOptions): Promise<void>
  /** A verified manifest this node holds (complete or not), by manifest CID. */
  getManifest(cid: string, options?: AbortOptions): Promise<VerifiedManifest | undefined>
  /** Verifies an envelope against the fleet's admins and stores it; throws on a bad signature. */
  putManifest(envelope: Uint8Array, options?: AbortOptions): Promise<VerifiedManifest>
}
