/** Gossip topic admin-signed policies are published on. The trailing number is the topic version. */
export const POLICY_TOPIC = 'tutti/policy/1'

/** Anti-entropy stream protocol: two peers exchange digests and the policies the other lacks. */
export const POLICY_SYNC_PROTOCOL = '/tutti/policy-sync/1.0.0'

/** Revision of the sync exchange this code speaks; a listener refuses a newer one. */
export const POLICY_SYNC_VERSION = 1

/** Envelope payload type of a policy (core/envelope). */
export const POLICY_PAYLOAD_TYPE = 'tutti/policy/1'

/**
 * Largest policy envelope accepted, in bytes, checked before decoding, on gossip, on the sync
 * protocol and on disk. A rollout policy with a long selector and many steps and criteria is
 * 1-4 KiB; the rest is headroom, and the bound keeps one sync response within a few MiB.
 * @default 64 KiB
 */
export const MAX_POLICY_BYTES = 64 * 1024

/** Longest rollout name, in characters (a DNS label). */
export const MAX_NAME_LENGTH = 63

/** Longest payload CID string a digest entry may carry, in characters (as core/cid accepts). */
export const MAX_CID_LENGTH = 128

/**
 * Most entries in one digest, checked while decoding: the most policies (tombstones included) a
 * node holds. Years of rollouts at a few a day; a store refuses new names past it.
 * @default 1024
 */
export const MAX_DIGEST_ENTRIES = 1024

/**
 * Bytes one digest entry may take on the wire: name (63) + CID (128) + version varint (10) + tags,
 * lengths and the entry's own framing, rounded up.
 * @default 256
 */
export const MAX_DIGEST_ENTRY_BYTES = 256

/**
 * Most envelopes one response or push carries, checked while decoding. A peer that has more to
 * send says so (`more`) and the dialer syncs again, so a message stays within
 * MAX_ENVELOPES_PER_MESSAGE x MAX_POLICY_BYTES (2 MiB).
 * @default 32
 */
export const MAX_ENVELOPES_PER_MESSAGE = 32

/** Room for a message's own fields and framing besides its entries and envelopes, in bytes. */
const MESSAGE_OVERHEAD_BYTES = 256

/** Framing of one envelope inside a message: tag and a length varint of up to 3 bytes. */
const ENVELOPE_FRAMING_BYTES = 8

/** Largest SyncRequest a listener reads, in bytes (a full digest). */
export const MAX_REQUEST_BYTES = MAX_DIGEST_ENTRIES * MAX_DIGEST_ENTRY_BYTES + MESSAGE_OVERHEAD_BYTES

/** Largest SyncResponse a dialer reads, in bytes (a full digest and a full load of envelopes). */
export const MAX_RESPONSE_BYTES = MAX_REQUEST_BYTES + MAX_ENVELOPES_PER_MESSAGE * (MAX_POLICY_BYTES + ENVELOPE_FRAMING_BYTES)

/** Largest SyncPush a listener reads, in bytes. */
export const MAX_PUSH_BYTES = MAX_ENVELOPES_PER_MESSAGE * (MAX_POLICY_BYTES + ENVELOPE_FRAMING_BYTES) + MESSAGE_OVERHEAD_BYTES

/** Largest SyncAck a dialer reads, in bytes (one entry per envelope pushed). */
export const MAX_ACK_BYTES = MAX_ENVELOPES_PER_MESSAGE * MAX_DIGEST_ENTRY_BYTES + MESSAGE_OVERHEAD_BYTES

/**
 * Exchanges one `sync()` runs while either side says it has more, before it leaves the rest to
 * the next sync (MAX_SYNC_ROUNDS x MAX_ENVELOPES_PER_MESSAGE = 256 policies).
 * @default 8
 */
export const MAX_SYNC_ROUNDS = 8

/** How long a listener waits for each message of an exchange, in ms. @default 10 s */
export const SYNC_READ_TIMEOUT_MS = 10_000

/** How long a dialer gives one whole sync (all its rounds) when the caller gives no signal, in ms. @default 30 s */
export const DEFAULT_SYNC_TIMEOUT_MS = 30_000

/**
 * Exchanges a listener serves at once, all peers together; past it a dialer is answered
 * ERR_POLICY_SYNC_BUSY and tries again at its next sync.
 * @default 16
 */
export const DEFAULT_MAX_CONCURRENT_SYNCS = 16

/** Sync streams one connection may have open at once (libp2p resets the rest). @default 4 */
export const MAX_INBOUND_STREAMS = 4
