/**
 * The decisions of a download that are not planning (schedule.ts): what a failed exchange says
 * about the peer, when a download has stalled, and which peers' offers to watch. Pure; the
 * download (download.ts) applies them.
 */
import { ChunkErrorCode, ChunkProtocolError, ChunkRemoteError, ChunkTimeoutError, ChunkTransportError } from '../../protocols/chunks/index.js'
import { UNSUPPORTED_PEER_BACKOFF_MS } from './constants.js'

/** What kind of failure an exchange with a peer ended in. */
export type ExchangeFailure =
  /** The peer broke the protocol (a frame out of order, a wrong size, garbage). */
  | 'protocol'
  /** The peer is at its limits: try it again soon. */
  | 'busy'
  /** The peer does not hold the manifest. */
  | 'not-found'
  /** The peer went quiet. */
  | 'timeout'
  /** The exchange broke (a reset, an unreachable peer) or the peer answered another error. */
  | 'transport'
  /** The peer does not speak the chunk protocol (an admin client attached to this node, a tool). */
  | 'unsupported'
  /** Not the peer's doing (the store failed, a bug): the download cannot go on. */
  | 'fatal'

/** Tells the kind of failure from the error's class and code, never its message. */
export function classifyFailure (err: unknown): ExchangeFailure {
  if (err instanceof ChunkProtocolError) return 'protocol'
  if (err instanceof ChunkRemoteError && err.code === ChunkErrorCode.Busy) return 'busy'
  if (err instanceof ChunkRemoteError && err.code === ChunkErrorCode.NotFound) return 'not-found'
  if (err instanceof ChunkTimeoutError) return 'timeout'
  if (err instanceof ChunkTransportError && err.unsupported) return 'unsupported'
  if (err instanceof ChunkRemoteError || err instanceof ChunkTransportError) return 'transport'
  return 'fatal'
}

export interface FailureParams {
  /** A busy peer is left alone this long, times 1 to 2 (jitter), in ms. */
  busyBackoffMs: number
  /** A failing peer is left alone this long, in ms. */
  failureBackoffMs: number
  /** Failures in a row after which the peer is left out of the download. */
  maxPeerFailures: number
  /** A peer that does not speak the chunk protocol is left out this long, in ms. @default UNSUPPORTED_PEER_BACKOFF_MS */
  unsupportedBackoffMs?: number
}

/** What to do with a peer after a failed exchange. */
export type FailureDecision =
  /** Ban it from this download; its score takes a 'bad' event. */
  | { action: 'ban' }
  /** Leave it alone until `untilMs`; nothing counts against it. */
  | { action: 'cooldown', untilMs: number }
  /** It lacks the manifest: forget its offers. */
  | { action: 'no-manifest' }
  /** Count a failure: `failures` in a row now, cooling down until `untilMs`, left out if `drop`. */
  | { action: 'failure', failures: number, untilMs: number, drop: boolean, scoreTimeout: boolean }
  /** Stop the download with this error. */
  | { action: 'fatal' }

/**
 * The decision after an exchange with a peer that has failed `failures` times in a row so far
 * failed with `failure`. `jitter` is uniform in [0, 1) (the injected random).
 */
export function failureDecision (failure: ExchangeFailure, failures: number, nowMs: number, params: FailureParams, jitter: number): FailureDecision {
  switch (failure) {
    case 'protocol': return { action: 'ban' }
    case 'busy': return { action: 'cooldown', untilMs: nowMs + params.busyBackoffMs * (1 + jitter) }
    case 'not-found': return { action: 'no-manifest' }
    case 'timeout':
    case 'transport': {
      const next = failures + 1
      return { action: 'failure', failures: next, untilMs: nowMs + params.failureBackoffMs, drop: next >= params.maxPeerFailures, scoreTimeout: failure === 'timeout' }
    }
    // Asking again soon will not help (an admin client never serves chunks): left out at once,
    // and asked again only after UNSUPPORTED_PEER_BACKOFF_MS (a peer that was still starting).
    case 'unsupported': return { action: 'failure', failures: failures + 1, untilMs: nowMs + (params.unsupportedBackoffMs ?? UNSUPPORTED_PEER_BACKOFF_MS), drop: true, scoreTimeout: false }
    case 'fatal': return { action: 'fatal' }
    default: {
      const unreachable: never = failure
      throw new Error(`unknown failure ${String(unreachable)}`)
    }
  }
}

/** What the stall check and the watch plan read of a peer. */
export interface OfferingPeer {
  /** Banned or dropped: neither asked nor counted. */
  usable: boolean
  /** offers[i]: the peer offers chunk i. */
  offers: readonly boolean[]
}

/** Why a download stalled: chunks still missing, and how many of them some usable peer offers. */
export interface Stall {
  missing: number
  offered: number
  usablePeers: number
}

/**
 * Whether a download has stalled: no chunk stored for `stallTimeoutMs` since `lastProgressMs`.
 * Undefined while it has not.
 */
export function stallVerdict (done: readonly boolean[], peers: readonly OfferingPeer[], lastProgressMs: number, nowMs: number, stallTimeoutMs: number): Stall | undefined {
  if (nowMs - lastProgressMs < stallTimeoutMs) return undefined
  const usable = peers.filter(p => p.usable)
  const missing = done.filter(d => !d).length
  const offered = done.filter((d, i) => !d && usable.some(p => p.offers[i] === true)).length
  return { missing, offered, usablePeers: usable.length }
}

/** What the watch plan reads of a peer beyond its offer. */
export interface WatchCandidate extends OfferingPeer {
  id: string
  /** A WATCH is open on it. */
  watching: boolean
  /** A WATCH is being opened on it. */
  opening: boolean
  cooldownUntilMs: number
  /** No WATCH is opened before this, in ms. */
  nextWatchMs: number
  /** Never answered yet. */
  fresh: boolean
}

/** Which WATCHes to close (peers no longer usable) and to open. */
export interface WatchPlan {
  close: string[]
  open: string[]
}

/**
 * A download keeps a WATCH open at every usable peer whose offer lacks a missing chunk (and at
 * every peer not yet asked): the peer sends its offer again whenever it changes. A peer cooling
 * down, or asked again too soon, waits.
 */
export function planWatches (done: readonly boolean[], peers: readonly WatchCandidate[], nowMs: number): WatchPlan {
  const plan: WatchPlan = { close: [], open: [] }
  for (const p of peers) {
    if (!p.usable) {
      if (p.watching) plan.close.push(p.id)
      continue
    }
    if (p.watching || p.opening || p.cooldownUntilMs > nowMs || p.nextWatchMs > nowMs) continue
    if (!p.fresh && !done.some((d, i) => !d && p.offers[i] !== true)) continue
    plan.open.push(p.id)
  }
  return plan
}
