/** Defaults of the fetcher. Every one can be changed through `FetcherInit`. */

/** Peers one download talks to at most. @default 16 */
export const DEFAULT_MAX_PEERS = 16

/*
 * Limits below stated in chunks count units (`FetcherInit.unitBytes`, default DEFAULT_UNIT_BYTES of
 * protocols/chunks/constants.ts, 256 KiB): a unit is `chunksPerUnit` chunks of the model (4 of
 * the default 64 KiB chunks, 1 of chunks of 256 KiB or more), so that small chunks do not leave a
 * download with less in flight than a link's bandwidth-delay product, nor a stream per chunk.
 */

/**
 * Chunks outstanding per peer (units; see above), in at most this many requests. Two keep a link
 * busy across a round trip; more only queue megabytes on a slow link, where libp2p's pings then
 * wait behind them.
 * @default 2
 */
export const DEFAULT_MAX_IN_FLIGHT_PER_PEER = 2

/**
 * Chunks outstanding in all, across peers (units; see above). About what the download link takes
 * at once: each sender splits its upload over a couple of slots, so a few senders fill a link of the same rate;
 * more would only make every chunk slower to finish, and a chunk is passed on only once whole.
 * @default 4
 */
export const DEFAULT_MAX_IN_FLIGHT = 4

/** Chunks per request (one stream each), at least a unit's (see above). @default 1 */
export const DEFAULT_MAX_CHUNKS_PER_REQUEST = 1

/** The endgame starts when at most this many chunks (units; see above) are missing. @default 4 */
export const DEFAULT_ENDGAME_CHUNKS = 4

/** In the endgame, peers asked for the same chunk at once. @default 2 */
export const DEFAULT_ENDGAME_DUPLICATES = 2

/**
 * In the endgame a chunk gets a second peer only when its outstanding request is expected to
 * deliver it more than this many times later than the second peer would alone (see schedule.ts).
 * @default 2
 */
export const DEFAULT_ENDGAME_LATE_FACTOR = 2

/** After a peer's WATCH fails or ends, a new one is opened no sooner than this, in ms. @default 1000 */
export const DEFAULT_HAVE_REFRESH_MS = 1000

/** A download looks at its state at least this often, besides on every event, in ms. @default 250 */
export const DEFAULT_TICK_MS = 250

/** Cool-down after a busy answer, in ms (jittered up to twice as long). @default 500 */
export const DEFAULT_BUSY_BACKOFF_MS = 500

/** Cool-down after a timeout or failed exchange, in ms. @default 3000 */
export const DEFAULT_FAILURE_BACKOFF_MS = 3000

/** Failed exchanges (timeouts, resets) after which a peer is left out of a download. @default 3 */
export const DEFAULT_MAX_PEER_FAILURES = 3

/** A download fails when no chunk was stored for this long, in ms. @default 120 s */
export const DEFAULT_STALL_TIMEOUT_MS = 120_000

/** How long to look for a peer with the manifest, in ms. @default 60 s */
export const DEFAULT_MANIFEST_TIMEOUT_MS = 60_000

/** Connections are looked at for new peers this often, in ms. @default 2000 */
export const DEFAULT_RESCAN_MS = 2000

/** Content routing is asked again this often while some missing chunk has no offer, in ms. @default 15 s */
export const DEFAULT_REDISCOVER_MS = 15_000

/** Progress events at most this often, in ms. @default 250 */
export const DEFAULT_PROGRESS_INTERVAL_MS = 250

/** The download rate is averaged over this window, in ms. @default 5000 */
export const DEFAULT_RATE_WINDOW_MS = 5000

/**
 * How long after a CID is first to be announced (its manifest in, or its pull done) the DHT
 * provide runs, in ms; each announce waits 0.5 to 1.5 times this (random), so a wave's devices do
 * not all walk the DHT at once. 0 announces at once. @default 30 s
 */
export const DEFAULT_ANNOUNCE_DELAY_MS = 30_000

/**
 * How long a download leaves out a peer that does not speak the chunk protocol (an admin client
 * attached to the node, a tool on the mesh) before it asks it again, ms.
 */
export const UNSUPPORTED_PEER_BACKOFF_MS = 60_000
