/**
 * @packageDocumentation
 * `/tutti/chunks/1.0.0`: peers exchange verified model chunks. One request per stream:
 *
 * - HAVE: which chunks of a manifest do you offer? One answer, a bitfield over the manifest's
 *   chunk list. A complete holder may offer only some chunks to spread its upload (offers.ts).
 * - WATCH: HAVE kept up to date on one long-lived stream: the peer sends its offer again whenever
 *   it changes, and the asker may send a fresh `have`/`want`. What a downloader uses.
 * - MANIFEST: the signed manifest envelope, by manifest CID.
 * - CHUNKS: up to {@link MAX_CHUNKS_PER_REQUEST} chunks by CID, answered chunk after chunk as runs
 *   of frames of at most {@link DEFAULT_PIECE_BYTES} bytes.
 *
 * Requests are limited in size ({@link MAX_REQUEST_BYTES}) before decoding and in CID count while
 * decoding; servers bound streams per peer and in total and answer ERR_CHUNKS_BUSY past them. A
 * server sends only what its store holds verified; the asker verifies every chunk again.
 *
 * The node that runs the protocol hands in a {@link ChunkStore} and optional {@link RateLimiter}s
 * (types.ts): the protocol declares what it needs, the node implements it.
 */
export * from './constants.js'
export * from './errors.js'
export type { ChunkStore, RateLimiter, ServedManifest } from './types.js'
export { ChunkServer, resolveChunkServerInit } from './chunks.js'
export type { ChunkServerComponents, ChunkServerInit, ChunkServerStats } from './chunks.js'
export { requestHave, requestManifest, requestChunks, watchHave } from './client.js'
export type { ChunkClientComponents, QueryOptions, HaveOptions, HaveAnswer, HaveWatch, WatchOptions, WantedChunk, ChunksOptions } from './client.js'
export { encodeBitfield, decodeBitfield, bitfieldHas, bitfieldBytes } from './bitfield.js'
export { planOffer, recordOffer, takeOffer, emptyOfferState, forgetPeer } from './offers.js'
export type { SeedOffer, SeedOfferState, SeedOfferParams, OfferAsk, OfferPlan, OfferReason } from './offers.js'
