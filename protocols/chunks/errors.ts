import { TuttiError } from '../../core/errors.js'

/** Error codes a chunk server answers with. Clients match on these, never on messages. */
export const ChunkErrorCode = {
  /** The request could not be read or makes no sense (unknown kind, malformed CID...). */
  BadRequest: 'ERR_CHUNKS_BAD_REQUEST',
  /** The request is larger than MAX_REQUEST_BYTES; refused before decoding. */
  RequestTooLarge: 'ERR_CHUNKS_REQUEST_TOO_LARGE',
  /** The request asks for more chunks than MAX_CHUNKS_PER_REQUEST. */
  TooManyChunks: 'ERR_CHUNKS_TOO_MANY',
  UnsupportedVersion: 'ERR_CHUNKS_UNSUPPORTED_VERSION',
  /** The server does not hold that manifest. */
  NotFound: 'ERR_CHUNKS_NOT_FOUND',
  /** The server is at its stream or upload limit; try again later or elsewhere. */
  Busy: 'ERR_CHUNKS_BUSY',
  Internal: 'ERR_CHUNKS_INTERNAL'
} as const

/** The peer answered, and the answer is an error (`code` is the peer's, see {@link ChunkErrorCode}). */
export class ChunkRemoteError extends TuttiError {
  constructor (code: string, message: string) {
    super(code, message, { retryable: code === ChunkErrorCode.Busy || code === ChunkErrorCode.Internal })
    this.name = 'ChunkRemoteError'
  }
}

/** The exchange failed: the peer could not be reached, reset the stream, or went quiet. */
export class ChunkTransportError extends TuttiError {
  /** The peer does not speak the chunk protocol at all (an admin client, a tool on the mesh). */
  readonly unsupported: boolean

  constructor (message: string, options: { cause?: unknown, unsupported?: boolean } = {}) {
    super('ERR_CHUNKS_TRANSPORT', message, { ...(options.cause !== undefined ? { cause: options.cause } : {}), retryable: true })
    this.name = 'ChunkTransportError'
    this.unsupported = options.unsupported ?? false
  }
}

/** The peer sent nothing for longer than the idle timeout. */
export class ChunkTimeoutError extends TuttiError {
  constructor (message: string) {
    super('ERR_CHUNKS_TIMEOUT', message, { retryable: true })
    this.name = 'ChunkTimeoutError'
  }
}

/**
 * The peer's answer breaks the protocol: a frame out of order, a chunk of the wrong size, a
 * bitfield of the wrong length. A peer that does this is not asked again in the same download.
 */
export class ChunkProtocolError extends TuttiError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('ERR_CHUNKS_PROTOCOL', message, options)
    this.name = 'ChunkProtocolError'
  }
}
