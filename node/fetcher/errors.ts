import { TuttiError } from '../../core/errors.js'

/** Stable codes of the fetcher. */
export const FetchErrorCode = {
  InvalidCid: 'ERR_FETCH_INVALID_CID',
  NoProviders: 'ERR_FETCH_NO_PROVIDERS',
  Stalled: 'ERR_FETCH_STALLED',
  Aborted: 'ERR_FETCH_ABORTED',
  BadChunk: 'ERR_FETCH_BAD_CHUNK'
} as const

/** The manifest CID given to fetch is not a manifest CID. */
export class InvalidManifestCidError extends TuttiError {
  constructor (readonly cid: string) {
    super(FetchErrorCode.InvalidCid, `${JSON.stringify(cid.slice(0, 100))} is not a manifest CID (CIDv1, json codec, sha2-256, base32)`)
    this.name = 'InvalidManifestCidError'
  }
}

/** No reachable peer gave a valid manifest envelope for the CID in time. */
export class NoProvidersError extends TuttiError {
  constructor (readonly manifestCid: string, message: string, options: { cause?: unknown } = {}) {
    super(FetchErrorCode.NoProviders, message, { ...options, retryable: true })
    this.name = 'NoProvidersError'
  }
}

/** No chunk arrived for too long: no peer offers what is missing, or every one that does fails. */
export class FetchStalledError extends TuttiError {
  constructor (readonly manifestCid: string, readonly missing: number, message: string) {
    super(FetchErrorCode.Stalled, message, { retryable: true })
    this.name = 'FetchStalledError'
  }
}

/** The caller (or the fetcher's stop()) aborted the download. What was stored stays stored. */
export class FetchAbortedError extends TuttiError {
  constructor (readonly manifestCid: string, options: { cause?: unknown } = {}) {
    super(FetchErrorCode.Aborted, `download of ${manifestCid} was aborted`, { ...options, retryable: true })
    this.name = 'FetchAbortedError'
  }
}

/** A peer sent bytes that do not hash to the chunk's CID. The peer is not asked again. */
export class BadChunkError extends TuttiError {
  constructor (readonly peer: string, readonly cid: string) {
    super(FetchErrorCode.BadChunk, `peer ${peer} sent bytes that do not match chunk ${cid}`)
    this.name = 'BadChunkError'
  }
}
