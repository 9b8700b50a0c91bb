/**
 * @packageDocumentation
 * Admin-signed policies travel two ways. New ones are published on the gossip topic
 * {@link POLICY_TOPIC} and reach every subscribed peer within a few hops. Anything gossip missed
 * (a node that was offline, a partition) is repaired by anti-entropy on
 * {@link POLICY_SYNC_PROTOCOL}: one exchange per stream, one round trip each way.
 *
 * 1. The dialer sends its digest (name, version, payload CID of every policy it holds).
 * 2. The listener answers with the envelopes it holds that are newer than the dialer's (or that
 *    the dialer lacks), at most {@link MAX_ENVELOPES_PER_MESSAGE}, and its own digest.
 * 3. The dialer offers those to its store and pushes back the envelopes the listener lacks.
 * 4. The listener offers them and acknowledges with its heads for the names pushed.
 *
 * Every message is size-limited before decoding and count-limited while decoding. Envelopes are
 * verified by the receiving store, as received; the protocol never trusts a digest for more than
 * deciding what to send. The protocol declares the store it needs ({@link PolicySyncStore}); the
 * node implements it.
 */
import { PolicySync } from './sync.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions, Libp2p } from '@libp2p/interface'

export * from './constants.js'
export * from './errors.js'
export { compareHeads, newerThan } from './digest.js'
export type { PolicyHead } from './digest.js'
export { PolicySync } from './sync.js'

/** One policy a peer holds, as its digest lists it. */
export interface DigestEntry {
  /** Rollout name. */
  name: string
  /** Policy version, a safe integer >= 1. */
  version: number
  /** CID of the signed payload. */
  cid: string
}

/** What a store did with one envelope it was offered. */
export interface PolicyOfferOutcome {
  kind: 'accepted' | 'duplicate' | 'rejected'
  /** The rollout the envelope is for, when it could be read. */
  name?: string
}

/** The store the sync protocol reads from and offers to. The node's policy store implements it. */
export interface PolicySyncStore {
  /** The head of every policy held (tombstones included), at most MAX_DIGEST_ENTRIES. */
  digest(): DigestEntry[]
  /** The envelope bytes of the head held for `name`. */
  get(name: string): Uint8Array | undefined
  /**
   * Verifies and merges an envelope a peer sent. Bad input is an outcome, not a throw; a throw
   * means the store itself failed (a disk error) and ends the exchange.
   */
  offer(envelope: Uint8Array, from: string, options?: AbortOptions): Promise<PolicyOfferOutcome>
}

export interface PolicySyncComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol'>
  store: PolicySyncStore
  clock: Clock
  logger: Logger
}

export interface PolicySyncInit {
  /** How long a listener waits for each message, in ms. @default SYNC_READ_TIMEOUT_MS */
  readTimeoutMs?: number
  /** A dialer's budget for one whole sync when the caller gives no signal, in ms. @default DEFAULT_SYNC_TIMEOUT_MS */
  syncTimeoutMs?: number
  /** Exchanges served at once. @default DEFAULT_MAX_CONCURRENT_SYNCS */
  maxConcurrentSyncs?: number
  /** Envelopes sent per message, 1..MAX_ENVELOPES_PER_MESSAGE. @default MAX_ENVELOPES_PER_MESSAGE */
  envelopesPerMessage?: number
}

/** What one sync with a peer did. */
export interface SyncResult {
  peer: string
  /** Exchanges run (more than one when either side had more than one message carries). */
  rounds: number
  /** Envelopes the peer sent and this node offered to its store. */
  received: number
  /** Of those, accepted (new to this node). */
  accepted: number
  /** Envelopes this node pushed to the peer. */
  pushed: number
  /** The peer's heads at the end of the exchange: its digest, updated by its acknowledgements. */
  remote: Map<string, DigestEntry>
  /** Either side still had more to send when the rounds ran out. */
  more: boolean
}

export interface SyncOptions extends AbortOptions {}

/** Factory in the js-libp2p style: `policySync(init)(components)`. */
export function policySync (init: PolicySyncInit = {}): (components: PolicySyncComponents) => PolicySync {
  return (components) => new PolicySync(components, init)
}
