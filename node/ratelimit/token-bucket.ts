/**
 * A token bucket for byte rates (upload and download caps), on the injected clock.
 *
 * The decision is pure: {@link reserveTokens} takes the bucket's state, a byte count and the time,
 * and says how long the caller must wait before moving those bytes. Tokens may go negative: a
 * reservation larger than the burst is allowed, it just waits longer, and later callers queue
 * behind it (first come, first served). {@link TokenBucket} is the thin shell that sleeps.
 */
import { ConfigError } from '../../core/errors.js'
import type { Clock } from '../../core/clock.js'
import type { RateLimiter } from '../../protocols/chunks/types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface TokenBucketParams {
  /** Sustained rate, in bytes per second. */
  rateBytesPerSec: number
  /** Most bytes that may go at once after an idle period. @default a quarter second of rate, at least 16 KiB */
  burstBytes: number
}

export interface TokenBucketState {
  /** Tokens (bytes) available; negative while reservations are waiting. */
  tokens: number
  /** When `tokens` was last brought up to date, in ms. */
  atMs: number
}

export interface Reservation {
  state: TokenBucketState
  /** How long to wait before sending the reserved bytes, in ms (0: send now). */
  waitMs: number
}

/** Refills the bucket up to `now`, takes `bytes`, and says how long the caller must wait. */
export function reserveTokens (state: TokenBucketState, params: TokenBucketParams, bytes: number, nowMs: number): Reservation {
  const elapsedMs = Math.max(0, nowMs - state.atMs)
  const refilled = Math.min(params.burstBytes, state.tokens + elapsedMs * params.rateBytesPerSec / 1000)
  const tokens = refilled - Math.max(0, bytes)
  const waitMs = tokens >= 0 ? 0 : Math.ceil(-tokens * 1000 / params.rateBytesPerSec)
  return { state: { tokens, atMs: Math.max(state.atMs, nowMs) }, waitMs }
}

/** Checks and completes bucket parameters; throws {@link ConfigError} on a rate that cannot work. */
export function tokenBucketParams (rateBytesPerSec: number, burstBytes?: number): TokenBucketParams {
  if (!Number.isFinite(rateBytesPerSec) || rateBytesPerSec <= 0) {
    throw new ConfigError(`a rate limit must be a positive number of bytes per second, not ${rateBytesPerSec}`)
  }
  const burst = burstBytes ?? Math.max(16 * 1024, rateBytesPerSec / 4)
  if (!Number.isFinite(burst) || burst <= 0) throw new ConfigError(`a burst must be a positive number of bytes, not ${burst}`)
  return { rateBytesPerSec, burstBytes: burst }
}

/** Something that paces bytes, as the chunk protocol declares it: a {@link TokenBucket}, or a chain of them. */
export type { RateLimiter }

/** A byte-rate limiter shared by everything that sends (or receives) on one node. */
export class TokenBucket implements RateLimiter {
  private current: TokenBucketParams
  private state: TokenBucketState
  private readonly clock: Clock

  constructor (clock: Clock, rateBytesPerSec: number, burstBytes?: number) {
    this.clock = clock
    this.current = tokenBucketParams(rateBytesPerSec, burstBytes)
    this.state = { tokens: this.current.burstBytes, atMs: clock.now() }
  }

  get params (): TokenBucketParams { return this.current }

  /**
   * Changes the rate from now on (and the burst, when given): tokens earned so far count at the old
   * rate, and what callers already reserved stays reserved. Throws {@link ConfigError} as the
   * constructor does, and then changes nothing.
   */
  setRate (rateBytesPerSec: number, burstBytes?: number): void {
    const next = tokenBucketParams(rateBytesPerSec, burstBytes ?? this.current.burstBytes)
    this.state = reserveTokens(this.state, this.current, 0, this.clock.now()).state
    this.current = next
  }

  async take (bytes: number, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    const r = reserveTokens(this.state, this.current, bytes, this.clock.now())
    this.state = r.state
    if (r.waitMs === 0) return
    try {
      await this.clock.sleep(r.waitMs, options)
    } catch (err) {
      // Nothing was sent: give the reservation back so callers queued behind it are not delayed.
      this.state = { ...this.state, tokens: this.state.tokens + bytes }
      throw err
    }
  }
}
