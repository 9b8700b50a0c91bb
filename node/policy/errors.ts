import { TuttiError } from '../../core/errors.js'

/** Why a policy was not accepted. Match on these, never on messages. */
export const PolicyErrorCode = {
  /** The envelope is over MAX_POLICY_BYTES (refused before decoding). */
  TooLarge: 'ERR_POLICY_TOO_LARGE',
  /** The envelope's signature does not verify over the bytes received. */
  Signature: 'ERR_POLICY_SIGNATURE',
  /** Validly signed, but not by an admin of this fleet. */
  NotAdmin: 'ERR_POLICY_NOT_ADMIN',
  /** Signed by an admin, but not a valid policy: not an envelope, not canonical, a bad field or spec. */
  Invalid: 'ERR_POLICY_INVALID',
  /** Not newer than the version held: a replay, or an older copy arriving late. */
  Stale: 'ERR_POLICY_STALE',
  /** The store holds as many policies as a digest can list; a new name is refused. */
  Limit: 'ERR_POLICY_LIMIT'
} as const

export type PolicyErrorCodeValue = typeof PolicyErrorCode[keyof typeof PolicyErrorCode]

/** Every policy error code, in a stable order (for stats). */
export const POLICY_ERROR_CODES: readonly PolicyErrorCodeValue[] = Object.values(PolicyErrorCode)

/** A policy that cannot be accepted. Never retryable: the same bytes fail the same way. */
export class PolicyError extends TuttiError {
  declare readonly code: PolicyErrorCodeValue

  constructor (code: PolicyErrorCodeValue, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'PolicyError'
  }
}
