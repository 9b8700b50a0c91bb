/** The admin protocol: an authorised operator's CLI asks any peer of the fleet. */
export const ADMIN_PROTOCOL = '/tutti/admin/1.0.0'

/** Envelope revision this code speaks. */
export const ADMIN_VERSION = 1

/** Largest request a peer reads, in bytes, checked before decoding. @default 64 KiB */
export const MAX_REQUEST_BYTES = 64 * 1024

/**
 * Largest request an admin may send to a method given a larger limit (`methodRequestBytes`), in
 * bytes: a peer reads up to this from an admin, and only `MAX_REQUEST_BYTES` from anyone else.
 * Fits a 1 MiB manifest envelope in base64 (1.4 MiB) with room to spare. @default 2 MiB
 */
export const MAX_LARGE_REQUEST_BYTES = 2 * 1024 * 1024

/** Bytes a length prefix adds in front of a message (a varint of up to 16 MiB). */
export const LENGTH_PREFIX_BYTES = 4

/** Largest response a client reads, in bytes, checked before decoding. @default 16 MiB */
export const MAX_RESPONSE_BYTES = 16 * 1024 * 1024

/** How long a client waits for a whole exchange when the caller gives no signal. @default 30 s */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** How long a server waits for a request to arrive on a new stream. @default 10 s */
export const REQUEST_READ_TIMEOUT_MS = 10_000
