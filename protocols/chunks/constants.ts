import { MAX_CHUNK_BYTES as MODEL_MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_ENVELOPE_BYTES as MODEL_MAX_ENVELOPE_BYTES } from '../../node/models/constants.js'

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

/** Most chunks a manifest may list: the bitfields' bound (the model store's limit). */
export const MAX_MANIFEST_CHUNKS = MAX_CHUNKS

/** Largest chunk the protocol carries, in bytes (the model store's limit). */
export const MAX_CHUNK_BYTES = MODEL_MAX_CHUNK_BYTES

/** Largest manifest envelope a client reads, in bytes (the model store's limit). */
export const MAX_ENVELOPE_BYTES = MODEL_MAX_ENVELOPE_BYTES

/**
 * Bytes of chunk data per response frame. A chunk goes as a run of frames this size so that no
 * single message holds a connection for long (a libp2p ping queued behind megabytes on a slow link
 * times out and drops the connection) and upload pacing is smooth.
 * @default 64 KiB
 */
export const DEFAULT_PIECE_BYTES = 64 * 1024

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
 * one after another instead of all at the end, so receivers can pass them on sooner.
 * @default 4
 */
export const DEFAULT_UPLOAD_SLOTS = 4

/** Chunk requests that may wait for an upload slot; more are answered ERR_CHUNKS_BUSY. @default 8 */
export const DEFAULT_MAX_QUEUED_UPLOADS = 8

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

/** How long an untaken offer binds a seed, in ms. @default 20 s */
export const DEFAULT_SEED_OFFER_TTL_MS = 20_000

/**
 * Longest a server holds a HAVE answer back waiting for news (a long poll), in ms. Below
 * {@link REQUEST_READ_TIMEOUT_MS}, which also bounds how long a stream may stay silent.
 * @default 5 s
 */
export const MAX_HAVE_WAIT_MS = 5000

/** While a HAVE waits, the server looks at its store this often even without news, in ms. @default 1 s */
export const HAVE_RECHECK_MS = 1000

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
