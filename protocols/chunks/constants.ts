/** The chunk protocol: peers exchange verified model chunks and manifests over it. */
export const CHUNKS_PROTOCOL = '/tutti/chunks/1.0.0'

/** Request revision this code speaks. */
export const CHUNKS_VERSION = 1

/**
 * Largest request a server reads, in bytes, checked before decoding. A request holds at most
 * {@link MAX_CHUNKS_PER_REQUEST} CIDs (~60 bytes each) or two bitfields over at most
 * {@link MAX_MANIFEST_CHUNKS} chunks.
 * @default 4 KiB
 */
export const MAX_REQUEST_BYTES = 4 * 1024

/** Most chunk CIDs one request may ask for, checked while decoding. @default 16 */
export const MAX_CHUNKS_PER_REQUEST = 16

/**
 * Most chunks a manifest may list: the bound of HAVE and WATCH bitfields (512 bytes each). Model
 * packaging and the store refuse a manifest with more (4 GiB at the default 1 MiB chunk).
 * @default 4096
 */
export const MAX_MANIFEST_CHUNKS = 4096

/**
 * Largest chunk the protocol carries, in bytes: a client refuses a transfer announcing more, before
 * it allocates. Model packaging and the store refuse a manifest declaring larger chunks.
 * @default 16 MiB
 */
export const MAX_CHUNK_BYTES = 16 * 1024 * 1024

/**
 * Largest signed manifest envelope a client reads and a node accepts (from the network or a
 * package directory), in bytes, checked before decoding. A manifest is about 1 KiB plus ~62 bytes
 * per chunk plus its sample input.
 * @default 1 MiB
 */
export const MAX_ENVELOPE_BYTES = 1024 * 1024

/**
 * Bytes of chunk data per response frame. A chunk goes as a run of frames this size so that no
 * single message holds a connection for long (a libp2p ping queued behind megabytes on a slow link
 * times out and drops the connection) and upload pacing is smooth. 60 KiB keeps a frame, with its
 * protobuf, length and yamux headers, inside one noise frame (65,519 bytes of plaintext).
 * @default 60 KiB
 */
export const DEFAULT_PIECE_BYTES = 60 * 1024

/**
 * The size, in bytes, of the unit the fetcher's and a seed's pipelines are counted in, whatever a
 * model's chunk size: their limits (chunks in flight, chunks per request, seed offers) count units
 * of `chunksPerUnit` chunks. With the default 64 KiB chunks a unit is 4 chunks: a download keeps
 * 1 MiB in flight (4 units), at most 2 requests of 4 chunks at each peer; chunks of 256 KiB and
 * more are a unit each, as before units. Measured on real links (bench/netns, N = 5, 20 MiB in
 * 64 KiB chunks, 10 Mbit/s; last device / T_min): single chunks 1.48-1.51, 128 KiB 1.48,
 * 256 KiB 1.27-1.28, 512 KiB 1.39, 1 MiB 1.58. Too little in flight leaves the link idle for a
 * request's round trip behind a full queue; too much makes every chunk slower to finish, and a
 * chunk is passed on only once whole. 0: count single chunks. @default 256 KiB
 */
export const DEFAULT_UNIT_BYTES = 256 * 1024

/**
 * How many chunks of a model make one unit of `unitBytes`: its mean chunk size into `unitBytes`,
 * rounded down, at least 1 and at most {@link MAX_CHUNKS_PER_REQUEST} (one unit fits one request).
 * 1 when `unitBytes` is 0 or the model's size is unknown.
 */
export function chunksPerUnit (modelBytes: number | undefined, chunkCount: number, unitBytes: number): number {
  if (!(unitBytes > 0) || modelBytes == null || !(modelBytes > 0) || !(chunkCount > 0)) return 1
  const mean = modelBytes / chunkCount
  return Math.max(1, Math.min(MAX_CHUNKS_PER_REQUEST, Math.floor(unitBytes / mean)))
}

/** Largest piece a client accepts, in bytes. @default 256 KiB */
export const MAX_PIECE_BYTES = 256 * 1024

/** Room for a response frame's fields besides its data or envelope, in bytes. */
export const RESPONSE_OVERHEAD_BYTES = 1024

/** Streams one peer may have open to a server at once; more are answered ERR_CHUNKS_BUSY. @default 8 */
export const DEFAULT_MAX_STREAMS_PER_PEER = 8

/** Streams a server serves at once, all peers together. @default 64 */
export const DEFAULT_MAX_STREAMS_TOTAL = 64

/**
 * Chunks a server sends at once; other chunk requests wait their turn. Few slots finish chunks
 * one after another instead of all at the end, so receivers can pass them on sooner (tuned with
 * bench/distribution.ts: 2 beat 1 and 4).
 * @default 2
 */
export const DEFAULT_UPLOAD_SLOTS = 2

/** Chunk requests that may wait for an upload slot; more are answered ERR_CHUNKS_BUSY. @default 4 */
export const DEFAULT_MAX_QUEUED_UPLOADS = 4

/**
 * Chunks a complete holder offers one asking peer at a time when it spreads its upload (see
 * `superSeed`): the peer gets more as it takes these.
 * @default 4
 */
export const DEFAULT_SEED_OFFER_PER_PEER = 4

/**
 * Open offers plus chunks being sent, all peers together: how far ahead a complete holder commits
 * its upload. Small, so it gives out each chunk once before it gives out any twice.
 * @default 8
 */
export const DEFAULT_SEED_MAX_OFFERS = 8

/**
 * A complete holder offers a chunk it already gave out again only while fewer than this many
 * other askers hold it: the rest is the swarm's to spread.
 * @default 1
 */
export const DEFAULT_SEED_REPLICA_TARGET = 1

/**
 * Models at most this size are not super-seeded: a complete holder offers all of it to every
 * asker. Spreading the seed's upload pays when the upload is the bottleneck; a model this small
 * costs a whole fleet's copies less upload than one round of waiting for the swarm to spread it
 * (at 10 Mbit/s, 20 copies of 64 KiB are 1 s of upload; each WATCH round trip through the swarm
 * costs more than that on a busy device). @default 64 KiB
 */
export const DEFAULT_SUPER_SEED_MIN_BYTES = 64 * 1024

/** How long what an asker said it holds counts for a complete holder, in ms. @default 2 min */
export const SEED_SEEN_TTL_MS = 120_000

/** How long an untaken offer binds a seed, in ms. @default 20 s */
export const DEFAULT_SEED_OFFER_TTL_MS = 20_000

/** WATCH streams one peer may hold open at a server (one per manifest it downloads). @default 4 */
export const DEFAULT_MAX_WATCHES_PER_PEER = 4

/** WATCH streams a server holds open, all peers together. @default 1024 */
export const DEFAULT_MAX_WATCHES = 1024

/**
 * A watched offer that changes is sent after this settling time, in ms, so that a burst of
 * changes makes one update.
 * @default 50
 */
export const WATCH_DEBOUNCE_MS = 50

/**
 * A server looks at a watched offer again this often even when nothing told it of a change, in ms
 * (a node that does not call `ChunkServer.chunkStored` still tells its watchers, only later).
 * @default 2000
 */
export const WATCH_RECHECK_MS = 2000

/** How long a server waits for a request on a new stream, in ms. @default 10 s */
export const REQUEST_READ_TIMEOUT_MS = 10_000

/** How long a server waits for a slow reader to take one frame, in ms. @default 30 s */
export const WRITE_TIMEOUT_MS = 30_000

/** How long a client waits for a HAVE or MANIFEST answer, in ms. @default 10 s */
export const DEFAULT_QUERY_TIMEOUT_MS = 10_000

/**
 * How long a client waits for the next frame of a chunk transfer, in ms. Covers the wait for an
 * upload slot at a busy peer, so it is generous.
 * @default 30 s
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000
