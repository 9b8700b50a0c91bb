/**
 * Limits and defaults of model packaging and the model store. The limits the wire carries (chunk
 * size, chunk count, envelope size) belong to the chunk protocol and are re-exported from there.
 */
import { MAX_CHUNK_BYTES, MAX_ENVELOPE_BYTES, MAX_MANIFEST_CHUNKS } from '../../protocols/chunks/constants.js'

export { MAX_CHUNK_BYTES, MAX_ENVELOPE_BYTES }

/**
 * Newest manifest schema this code reads and writes; a reader refuses a manifest with a higher
 * schema. 1: fixed-size chunks; 2: content-defined chunks with their sizes listed (types.ts).
 * `pack` writes 2 by default and 1 for `chunking: 'fixed'` (what nodes older than schema 2 read).
 */
export const MANIFEST_SCHEMA = 2 as const

/** The schema of a manifest with fixed-size chunks. */
export const MANIFEST_SCHEMA_FIXED = 1 as const

/**
 * Payload type of a manifest in the signed envelope (core/envelope.ts). Part of the signed bytes,
 * so a manifest signature can never be replayed as another kind of admin signature.
 */
export const MANIFEST_PAYLOAD_TYPE = 'tutti/model-manifest/1'

/** Default size of a chunk, in bytes. @default 1 MiB */
export const DEFAULT_CHUNK_BYTES = 1024 * 1024

/**
 * Average size of content-defined chunks `pack` cuts (min a quarter, max four times that), for
 * files up to 128 MiB; larger files get a larger average (`defaultCdcAvgBytes`: the chunk count
 * stays near 2048). The trade-off (delta granularity vs manifest size, chunk count,
 * store-and-forward delay) is measured in docs/models.md: a retrained 1.1 MiB head moves 1.06x
 * its bytes at 64 KiB, 1.33x at 256 KiB, 1.56x at 1 MiB. @default 64 KiB
 */
export const DEFAULT_CDC_AVG_BYTES = 64 * 1024

/** Average content-defined chunk sizes `pack` accepts: max = 4 x avg must stay within MAX_CHUNK_BYTES. */
export const MIN_CDC_PACK_AVG_BYTES = 1024
export const MAX_CDC_PACK_AVG_BYTES = 4 * 1024 * 1024

/** Smallest chunk a manifest may declare, in bytes. The largest is the chunk protocol's MAX_CHUNK_BYTES. */
export const MIN_CHUNK_BYTES = 1024

/** Most chunks a manifest may list (4 GiB at the default chunk size): the chunk protocol's bound. */
export const MAX_CHUNKS = MAX_MANIFEST_CHUNKS

/** Largest model file, in bytes: what the chunk bounds allow. */
export const MAX_MODEL_BYTES = MAX_CHUNKS * MAX_CHUNK_BYTES

/**
 * Most tensor elements the generated sample input may hold, all inputs together (a 3x224x224
 * image is 150,528). Keeps the manifest well under {@link MAX_ENVELOPE_BYTES}.
 */
export const MAX_SAMPLE_ELEMENTS = 262_144

/** Most inputs, and most outputs, a model may declare. */
export const MAX_TENSORS = 64

/** Most dimensions of one tensor. */
export const MAX_RANK = 16

/** Most labels on a model, and the key/value rules (as node labels). */
export const MAX_MODEL_LABELS = 32

/** Oldest opset of the default ONNX domain onnxruntime implements (Add-1..6 and kin are gone). */
export const MIN_OPSET = 7

/** Versions of each model a store keeps: the active one and the one before it (rollback needs no download). @default 2 */
export const DEFAULT_RETAIN_VERSIONS = 2

/** Most versions of each model a node may be told to keep (`--keep-versions`). */
export const MAX_KEEP_VERSIONS = 100

/** File names inside a package directory written by `pack`. */
export const PACKAGE_ENVELOPE_FILE = 'manifest.envelope'
export const PACKAGE_MANIFEST_JSON_FILE = 'manifest.json'
export const PACKAGE_MODEL_FILE = 'model.onnx'

/**
 * Memory estimate heuristic (see `estimateMemoryBytes`): `fileBytes * MEMORY_FILE_FACTOR +
 * ioBytes * MEMORY_IO_FACTOR + MEMORY_RUNTIME_OVERHEAD_BYTES`, where ioBytes is the size of one
 * sample run's inputs and outputs (a stand-in for activations). Measured with onnxruntime-node
 * 1.30 (CPU), resident-set growth after creating a session: 25 MiB for a 139-byte Add model,
 * 33 MiB for Silero VAD (1.8 MB), 73 MiB for a 50 MB MatMul; so about 1x the file plus 25 MiB
 * steady. The factor 1.5 and 32 MiB leave headroom for load-time copies and the arena.
 */
export const MEMORY_FILE_FACTOR = 1.5
export const MEMORY_IO_FACTOR = 4
export const MEMORY_RUNTIME_OVERHEAD_BYTES = 32 * 1024 * 1024
