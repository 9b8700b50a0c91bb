import { TuttiError } from '../../core/errors.js'

/** Error codes of the sync exchange. Match on these, never on messages. */
export const PolicySyncErrorCode = {
  /** The peer could not be reached, or the stream broke. Retrying later helps. */
  Transport: 'ERR_POLICY_SYNC_TRANSPORT',
  /** A message did not arrive in time. Retrying later helps. */
  Timeout: 'ERR_POLICY_SYNC_TIMEOUT',
  /** A message was too large, did not decode or broke the protocol's rules. */
  Invalid: 'ERR_POLICY_SYNC_INVALID',
  /** The listener serves as many exchanges as it will; retrying later helps. */
  Busy: 'ERR_POLICY_SYNC_BUSY',
  /** The listener does not speak this revision of the exchange. */
  Unsupported: 'ERR_POLICY_SYNC_UNSUPPORTED'
} as const

export type PolicySyncErrorCodeValue = typeof PolicySyncErrorCode[keyof typeof PolicySyncErrorCode]

const RETRYABLE = new Set<string>([PolicySyncErrorCode.Transport, PolicySyncErrorCode.Timeout, PolicySyncErrorCode.Busy])

/** A sync exchange that failed. Nothing a failed exchange received was lost: what was offered stays offered. */
export class PolicySyncError extends TuttiError {
  constructor (code: PolicySyncErrorCodeValue, message: string, options: { cause?: unknown } = {}) {
    super(code, message, { ...options, retryable: RETRYABLE.has(code) })
    this.name = 'PolicySyncError'
  }
}
