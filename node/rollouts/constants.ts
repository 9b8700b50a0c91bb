/** Limits and defaults of rollouts, with their units and reasons. */

/** The manifest's `apiVersion`. */
export const ROLLOUT_API_VERSION = 'tutti.dev/v1'
/** The manifest's `kind`. */
export const ROLLOUT_KIND = 'Rollout'
/** Largest manifest text accepted, in UTF-8 bytes, checked before parsing. @default 65536 */
export const MAX_MANIFEST_BYTES = 64 * 1024
/** Most YAML alias expansions in one manifest (a manifest needs few; a "billion laughs" needs many). */
export const MAX_MANIFEST_ALIASES = 50
/** Most steps in one strategy. */
export const MAX_STEPS = 64
/** Most abort criteria in one strategy. */
export const MAX_ABORT_CRITERIA = 16
/** `activationTimeout` when the manifest gives none, ms. @default 600000 (10 minutes) */
export const DEFAULT_ACTIVATION_TIMEOUT_MS = 10 * 60_000
/** A criterion's `minNodes` when it gives none. @default 1 */
export const DEFAULT_MIN_NODES = 1
/** A metric criterion's `minRequests` when it gives none: a node with fewer does not count. @default 20 */
export const DEFAULT_MIN_REQUESTS = 20

/** The window the rate limits (`maxPerMinute`, exponential) count commands over, ms. @default 60000 */
export const RATE_WINDOW_MS = 60_000

/**
 * Messages a coordinator keeps in flight at once (prepares, wave commands, polls), each a few
 * hundred bytes. A new coordinator prepares every live target before it decides anything (so
 * that a stale coordinator is refused everywhere), which takes about targets x round trip /
 * this: in the DES, 100,000 targets took 500 s at 16 in flight (docs/SIMULATOR.md). @default 64
 */
export const COORDINATOR_CONCURRENCY = 64

/** Longest failure reason a device state keeps, in characters (it travels in heartbeats). @default 120 */
export const MAX_FAILURE_REASON_LENGTH = 120
