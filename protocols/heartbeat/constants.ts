/** Gossip topic every node publishes its heartbeat on. The trailing number is the topic version. */
export const HEARTBEAT_TOPIC = 'tutti/heartbeat/1'

/** Schema revision this code writes; a receiver rejects a heartbeat whose schema is higher than it knows. */
export const HEARTBEAT_SCHEMA = 1

/**
 * Largest heartbeat accepted from the network, in bytes, checked before decoding. A heartbeat as
 * this version writes it is 150-400 bytes; the rest is headroom for model and inference state.
 * @default 2048
 */
export const MAX_HEARTBEAT_BYTES = 2048

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
