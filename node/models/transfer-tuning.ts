/**
 * Overrides of the fetcher's and the chunk server's defaults, as `KEY=VALUE` pairs: what
 * `tutti node start --transfer` takes and what the benchmarks' `--set` passes to every node, so a
 * setting can be tried on real links without a rebuild. The keys are the fields of `FetcherInit`
 * and `ChunkServerInit` (node/fetcher/constants.ts and protocols/chunks/constants.ts say what each
 * does); an unknown key, a value that is not a number (or, for `superSeed`, true/false) or one out
 * of range is refused with a ConfigError naming it, before anything starts.
 */
import { ConfigError } from '../../core/errors.js'
import { resolveFetcherInit } from '../fetcher/fetcher.js'
import { resolveChunkServerInit } from '../../protocols/chunks/chunks.js'
import type { FetcherInit } from '../fetcher/fetcher.js'
import type { ChunkServerInit } from '../../protocols/chunks/chunks.js'

export const FETCHER_TUNING_KEYS = [
  'unitBytes', 'maxPeers', 'maxInFlightPerPeer', 'maxInFlight', 'maxChunksPerRequest', 'endgameChunks', 'endgameDuplicates',
  'endgameLateFactor', 'haveRefreshMs', 'tickMs', 'idleTimeoutMs', 'queryTimeoutMs', 'busyBackoffMs', 'failureBackoffMs',
  'maxPeerFailures', 'stallTimeoutMs', 'manifestTimeoutMs', 'rescanMs', 'rediscoverMs', 'progressIntervalMs', 'rateWindowMs', 'announceDelayMs'
] as const satisfies ReadonlyArray<keyof FetcherInit>

export const CHUNK_SERVER_TUNING_KEYS = [
  'maxStreamsPerPeer', 'maxStreamsTotal', 'maxWatchesPerPeer', 'maxWatches', 'maxChunksPerRequest', 'maxRequestBytes',
  'pieceBytes', 'uploadSlots', 'maxQueuedUploads', 'superSeed', 'superSeedMinBytes', 'seedOfferPerPeer', 'seedMaxOffers',
  'seedOfferTtlMs', 'seedReplicaTarget', 'seedStarveMs', 'unitBytes'
] as const satisfies ReadonlyArray<keyof ChunkServerInit>

export interface TransferTuning {
  fetcher: FetcherInit
  chunkServer: ChunkServerInit
}

/**
 * Parses `KEY=VALUE` pairs (each may also be a comma-separated list of them). A key both parts
 * have (`maxChunksPerRequest`) sets both. Keys may be prefixed `fetcher.` or `server.` to set one.
 */
export function parseTransferTuning (pairs: readonly string[]): TransferTuning {
  const fetcher: Record<string, number> = {}
  const chunkServer: Record<string, number | boolean> = {}
  for (const pair of pairs.flatMap(p => p.split(',')).map(p => p.trim()).filter(p => p !== '')) {
    const eq = pair.indexOf('=')
    if (eq <= 0) throw new ConfigError(`transfer setting "${pair}" is not KEY=VALUE`)
    const rawKey = pair.slice(0, eq)
    const text = pair.slice(eq + 1)
    const scoped = /^(fetcher|server)\.(.+)$/.exec(rawKey)
    const key = scoped?.[2] ?? rawKey
    const inFetcher = scoped?.[1] !== 'server' && (FETCHER_TUNING_KEYS as readonly string[]).includes(key)
    const inServer = scoped?.[1] !== 'fetcher' && (CHUNK_SERVER_TUNING_KEYS as readonly string[]).includes(key)
    if (!inFetcher && !inServer) {
      throw new ConfigError(`transfer setting "${rawKey}" is unknown; fetcher: ${FETCHER_TUNING_KEYS.join(', ')}; server: ${CHUNK_SERVER_TUNING_KEYS.join(', ')}`)
    }
    if (key === 'superSeed') {
      if (text !== 'true' && text !== 'false') throw new ConfigError(`transfer setting superSeed must be true or false, not "${text}"`)
      chunkServer[key] = text === 'true'
      continue
    }
    const value = text.trim() === '' ? Number.NaN : Number(text)
    if (!Number.isFinite(value)) throw new ConfigError(`transfer setting ${rawKey} must be a number, not "${text}"`)
    if (inFetcher) fetcher[key] = value
    if (inServer) chunkServer[key] = value
  }
  // Range checks are the parts' own: the same errors a node would throw when built.
  resolveFetcherInit(fetcher)
  resolveChunkServerInit(chunkServer)
  return { fetcher: fetcher as FetcherInit, chunkServer: chunkServer as ChunkServerInit }
}
