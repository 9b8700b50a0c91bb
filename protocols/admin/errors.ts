import { TuttiError } from '../../core/errors.js'

/** Error codes a peer may answer with. Clients match on these, never on messages. */
export const AdminErrorCode = {
  NotAuthorized: 'ERR_NOT_AUTHORIZED',
  UnknownMethod: 'ERR_UNKNOWN_METHOD',
  UnsupportedVersion: 'ERR_UNSUPPORTED_VERSION',
  BadRequest: 'ERR_BAD_REQUEST',
  NotFound: 'ERR_NOT_FOUND',
  /** The result is larger than an admin client reads (MAX_RESPONSE_BYTES). */
  ResponseTooLarge: 'ERR_RESPONSE_TOO_LARGE',
  Internal: 'ERR_INTERNAL'
} as const

/** The peer answered, and the answer is an error. */
export class AdminRemoteError extends TuttiError {
  constructor (code: string, message: string) {
    super(code, message)
    this.name = 'AdminRemoteError'
  }
}

/** A handler's way to answer with a specific error code (bad params, not found...). */
export class AdminRequestError extends TuttiError {
  constructor (code: string, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'AdminRequestError'
  }
}

/** The exchange itself failed: the peer could not be reached or did not answer sensibly. */
export class AdminTransportError extends TuttiError {
  constructor (message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super('ERR_ADMIN_TRANSPORT', message, { retryable: true, ...options })
    this.name = 'AdminTransportError'
  }
}
