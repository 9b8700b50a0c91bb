/** Stream protocol a coordinator uses to ask a target device: prepare, command, report. */
export const ROLLOUT_PROTOCOL = '/tutti/rollout/1.0.0'

/** Gossip topic signed rollout progress travels on. The trailing number is the topic version. */
export const ROLLOUT_PROGRESS_TOPIC = 'tutti/rollout/1'

/** Envelope payload type of a coordinator-signed wave command (canonical JSON). */
export const WAVE_COMMAND_PAYLOAD_TYPE = 'tutti/wave-command/1'

/** Envelope payload type of coordinator-signed rollout progress (canonical JSON). */
export const ROLLOUT_PROGRESS_PAYLOAD_TYPE = 'tutti/rollout-progress/1'

/**
 * Largest wave command envelope accepted, in bytes, checked before decoding. A command is about
 * 250 bytes of JSON; with the public key (36), signature (64) and framing it is under 400.
 * @default 1024
 */
export const MAX_WAVE_COMMAND_BYTES = 1024

/**
 * Largest rollout progress envelope accepted, in bytes, checked before decoding. Progress is
 * about 300 bytes of JSON plus a message and a trip description of up to 500 characters each
 * (1000 bytes of ASCII, 3000 of other UTF-8 at worst); with key and signature that stays under 4 KiB.
 * @default 4096
 */
export const MAX_PROGRESS_BYTES = 4096

/**
 * Largest request a device reads, in bytes, checked before decoding: a command envelope and its
 * framing, with room to answer an oversized envelope with ERR_ENVELOPE_TOO_LARGE rather than a
 * bare ERR_ROLLOUT_TOO_LARGE. @default 2048
 */
export const MAX_REQUEST_BYTES = 2 * MAX_WAVE_COMMAND_BYTES

/**
 * Largest response a coordinator reads, in bytes, checked before decoding: a progress envelope
 * and a device report (reason and two CIDs). @default 8192
 */
export const MAX_RESPONSE_BYTES = 2 * MAX_PROGRESS_BYTES

/** Longest rollout name, in characters: a DNS label, as metadata.name. @default 63 */
export const MAX_ROLLOUT_NAME_LENGTH = 63

/** Longest peer id accepted in a document or answer, in characters (an Ed25519 one is 52). @default 128 */
export const MAX_PEER_ID_LENGTH = 128

/** Longest device state kind (`Pending`, `SmokeTest`, `RolledBack`...), in characters. @default 24 */
export const MAX_STATE_LENGTH = 24

/** Longest reason in a device report, in characters. @default 500 */
export const MAX_REASON_LENGTH = 500

/** Longest manifest CID in a device report, in characters. @default 100 */
export const MAX_CID_LENGTH = 100

/** Longest human-readable text (an ack's or progress's message, a trip), in characters. @default 500 */
export const MAX_MESSAGE_LENGTH = 500

/** Longest error code on the wire, in characters. @default 64 */
export const MAX_CODE_LENGTH = 64

/** How long a client waits for a whole exchange when the caller gives no timeout. @default 10 s */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000

/** How long a device waits for the request to arrive on a new stream. @default 5 s */
export const REQUEST_READ_TIMEOUT_MS = 5_000

/** How long a device gives its acceptor to answer one request. @default 10 s */
export const HANDLER_TIMEOUT_MS = 10_000

/** Concurrent inbound rollout streams per connection libp2p lets through. @default 16 */
export const MAX_INBOUND_STREAMS = 16
