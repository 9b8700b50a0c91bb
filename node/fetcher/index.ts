/**
 * @packageDocumentation
 * The fetcher: downloads a model by manifest CID from the peers that hold it, over
 * `/tutti/chunks/1.0.0`.
 *
 * - Holders are the node's connected peers (asked directly) and peers found through content
 *   routing ({@link libp2pProviders}); a node announces what it holds with {@link announce}.
 * - Several peers at once, rarest chunk first, at most a few chunks outstanding per peer, and an
 *   endgame that asks a second peer for the last chunks (see schedule.ts, a pure core).
 * - Every chunk is checked against its CID before it is stored. A peer that sends a bad chunk or
 *   breaks the protocol is dropped from the download and its score falls; timeouts and resets
 *   retry elsewhere.
 * - Resumes after a restart: only chunks the store lacks are fetched. Honours AbortSignal.
 * - Progress events: bytes, chunks done/total, per-peer bytes, rate.
 */
export * from './constants.js'
export * from './errors.js'
export { Fetcher, resolveFetcherInit } from './fetcher.js'
export type { FetcherComponents, FetcherInit, FetchOptions, FetchProgress, FetchResult, PeerProgress } from './fetcher.js'
export type { ProviderFinder } from './download.js'
export { announce, withdraw, libp2pProviders } from './routing.js'
export { planRequests, wantsFrom } from './schedule.js'
export type { PeerView, ScheduleState, ScheduleParams, PlannedRequest } from './schedule.js'
export { currentScore, nextScore, DEFAULT_SCORE_PARAMS } from './score.js'
export type { PeerEvent, ScoreEntry, ScoreParams } from './score.js'
