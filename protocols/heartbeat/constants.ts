/** Gossip topic every node publishes its heartbeat on. The trailing number is the topic version. */
export const HEARTBEAT_TOPIC = 'tutti/heartbeat/1'

/** Schema revision this code writes; a receiver rejects a heartbeat whose schema is higher than it knows. */
export const HEARTBEAT_SCHEMA = 1

/**
 * Largest heartbeat accepted from the network, in bytes, checked before decoding. A heartbeat as
 * this version writes it is 150-400 bytes without models; three models with stats stay under
 * 1 KiB. The rollout section's worst case, every entry at its limits, is 8 x 235 = 1880 bytes
 * (per entry: field tag 2 + length 2 + name 2+63, policy version 1+8, state 2+24, reason 2+120,
 * epoch 1+8; see {@link MAX_HEARTBEAT_ROLLOUTS}). That no longer fits beside models in 2 KiB,
 * and a heartbeat that does not fit has to drop that state (membership.ts), so the limit is 4 KiB: a realistic
 * heartbeat with {@link MAX_HEARTBEAT_MODELS} models with stats (1220 bytes) plus the rollout
 * worst case is 3100 bytes (heartbeat.test.ts checks the section and the sum). The cost is bounded per
 * message, not paid per message: the interval is sized on the bytes actually sent
 * (node/membership/interval.ts), and gossipsub's own frame limit is 1 MiB.
 * @default 4096
 */
export const MAX_HEARTBEAT_BYTES = 4096

/** Most labels, and most properties, a heartbeat may carry. */
export const MAX_LABELS = 32
export const MAX_PROPS = 32

/** Longest label or property key, and value, in characters (as Kubernetes label values). */
export const MAX_KEY_LENGTH = 63
export const MAX_VALUE_LENGTH = 63

/** Heartbeat interval bounds, in milliseconds. A heartbeat announcing one outside them is rejected. */
export const MIN_INTERVAL_MS = 50
export const MAX_INTERVAL_MS = 10 * 60_000

/** Most models one heartbeat lists (the rest are dropped, staged and partial ones first). */
export const MAX_HEARTBEAT_MODELS = 8

/** Longest model name, version and CID a heartbeat may carry, in characters. */
export const MAX_MODEL_FIELD_LENGTH = 100

/**
 * Most rollouts one heartbeat lists. A device takes part in one rollout per model it serves;
 * more than this at once is not a rollout plan anyone can follow. @default 8
 */
export const MAX_HEARTBEAT_ROLLOUTS = 8

/** Longest rollout name, in characters: a DNS label, as metadata.name. @default 63 */
export const MAX_ROLLOUT_NAME_LENGTH = 63

/** Longest device state kind (`Pending`, `SmokeTest`, `RolledBack`...), in characters. @default 24 */
export const MAX_ROLLOUT_STATE_LENGTH = 24

/**
 * Longest reason a heartbeat carries for a device state, in characters of printable ASCII (so
 * characters are bytes). The full reason is one Report request away. @default 120
 */
export const MAX_ROLLOUT_REASON_LENGTH = 120

/**
 * Latest time a heartbeat may carry (`bootMs`, `sentMs`), in ms since the epoch: 2200-01-01. Far
 * beyond any real clock, and well inside what a JavaScript Date can show. @default 7258118400000
 */
export const MAX_TIMESTAMP_MS = Date.UTC(2200, 0, 1)

/** Longest uptime a heartbeat may announce, in ms: 20 years. @default 631152000000 */
export const MAX_UPTIME_MS = 20 * 365.25 * 24 * 3_600_000

/**
 * How far ahead of the receiver's clock a heartbeat's `sentMs` may be, in ms. Clocks of devices
 * without a real-time clock lag (they boot in 1970), synced ones agree to seconds; a day covers a
 * local time zone set as UTC. A heartbeat from further ahead is rejected. @default 1 day
 */
export const MAX_CLOCK_AHEAD_MS = 24 * 3_600_000

/** Largest fleet a heartbeat may announce (`fleetSize`). @default 1000000 */
export const MAX_FLEET_SIZE = 1_000_000

/**
 * Properties a node measures itself that must read as numbers, with their range; a heartbeat
 * holding one outside it is rejected. Any other property may be any text except a non-finite
 * number (`NaN`, `Infinity`), which no selector can compare.
 */
export const NUMERIC_PROPS: Readonly<Record<string, { min: number, max: number, integer: boolean }>> = {
  battery: { min: 0, max: 100, integer: false },
  cpus: { min: 1, max: 65_536, integer: true },
  'mem.total': { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true },
  'mem.free': { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true }
}

/**
 * Gossip topic shard digests are published on (docs/HEARTBEATS.md, "Aggregation"): every node
 * subscribes, whatever the fleet size, so a node that does not shard yet still hears nodes that do.
 */
export const HEARTBEAT_DIGEST_TOPIC = 'tutti/heartbeat/1/digest'

/** Prefix of the shard topics: `tutti/heartbeat/1/s<bits>/<index>` (see `shardTopic`). */
export const HEARTBEAT_SHARD_TOPIC_PREFIX = 'tutti/heartbeat/1/s'

/** Schema revision of the digest this code writes; a receiver ignores a higher one. */
export const DIGEST_SCHEMA = 1

/**
 * Most bits of the peer-id hash a shard name uses: 2^10 = 1024 shards, 100,000-200,000 nodes at
 * 100-200 a shard. Bounds the shard topics a node may be asked to score. @default 10
 */
export const MAX_SHARD_BITS = 10

/**
 * Largest digest accepted, in bytes, checked before decoding. A shard holds at most about 250
 * nodes before it splits (node/membership/shards.ts); listed in full at a realistic 300 bytes
 * each that is 75 KB, and an aggregator that would go past this limit lists the rest by tag
 * (4 bytes + age) until its next digest. @default 262144
 */
export const MAX_DIGEST_BYTES = 256 * 1024

/** Most peers one digest lists, in full and by tag together. @default 2048 */
export const MAX_DIGEST_ENTRIES = 2048

/**
 * Longest digest interval an aggregator announces, in ms (a receiver rejects longer). The digest
 * interval stretches with the number of shards so that digest bytes per node stay under their
 * budget; at 100,000 nodes that is about 20 minutes (docs/HEARTBEATS.md). @default 30 minutes
 */
export const DIGEST_INTERVAL_MAX_MS = 30 * 60_000
