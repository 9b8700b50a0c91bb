import { TuttiError } from '../../core/errors.js'

/**
 * Stable codes of the rollout protocol. Clients match on these, never on messages. Envelope
 * failures keep core/envelope's own codes (ERR_ENVELOPE_TOO_LARGE, ERR_ENVELOPE_INVALID,
 * ERR_ENVELOPE_TYPE, ERR_ENVELOPE_SIGNATURE).
 */
export const RolloutErrorCode = {
  /** The request does not decode or a field is out of range. */
  BadRequest: 'ERR_ROLLOUT_BAD_REQUEST',
  /** The request is larger than the device reads. */
  TooLarge: 'ERR_ROLLOUT_TOO_LARGE',
  /** A signed wave command or progress document whose payload is not canonical or not valid. */
  Document: 'ERR_ROLLOUT_DOCUMENT',
  /** A wave command or progress signed by someone other than the coordinator it names. */
  Signer: 'ERR_ROLLOUT_SIGNER',
  /** A wave command delivered by a peer other than the coordinator it names. */
  Sender: 'ERR_ROLLOUT_SENDER',
  /** The epoch rules refuse the command (the design's name for it). */
  StaleEpoch: 'ERR_STALE_EPOCH',
  /** The device failed to serve the request. */
  Internal: 'ERR_ROLLOUT_INTERNAL',
  /** The peer could not be reached, or the exchange broke. */
  Transport: 'ERR_ROLLOUT_TRANSPORT',
  /** The peer did not answer in time. */
  Timeout: 'ERR_ROLLOUT_TIMEOUT',
  /** The peer answered with something that is not a valid answer to the request. */
  Protocol: 'ERR_ROLLOUT_PROTOCOL'
} as const

/** A wave command or rollout progress document that cannot be accepted. Never retryable. */
export class RolloutDocumentError extends TuttiError {
  constructor (code: typeof RolloutErrorCode.Document | typeof RolloutErrorCode.Signer, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'RolloutDocumentError'
  }
}

/**
 * A request that cannot be served as asked: thrown by the client for a request it refuses to
 * send, and by an acceptor to answer with a specific code (the server sends it back as is).
 */
export class RolloutRequestError extends TuttiError {
  constructor (code: string, message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super(code, message, options)
    this.name = 'RolloutRequestError'
  }
}

/** The peer answered, and the answer is an error. */
export class RolloutRemoteError extends TuttiError {
  constructor (code: string, message: string) {
    super(code, message, { retryable: code === RolloutErrorCode.Internal })
    this.name = 'RolloutRemoteError'
  }
}

/** The exchange itself failed: no answer, a late answer, or one that makes no sense. */
export class RolloutTransportError extends TuttiError {
  constructor (code: typeof RolloutErrorCode.Transport | typeof RolloutErrorCode.Timeout | typeof RolloutErrorCode.Protocol, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: code !== RolloutErrorCode.Protocol })
    this.name = 'RolloutTransportError'
  }
}
