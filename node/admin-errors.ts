/**
 * The one mapping from the node's errors to admin-protocol errors: bad input and unknown models
 * get the admin protocol's own codes (the CLI exits on them the same way whoever raised them),
 * every other Tutti error keeps its stable code. Non-Tutti errors pass through (the protocol
 * reports them as internal).
 */
import { AdminErrorCode, AdminRequestError } from '../protocols/admin/index.js'
import { isTuttiError } from '../core/errors.js'
import { InferenceErrorCode } from './inference/errors.js'
import { ModelErrorCode } from './models/errors.js'

const BAD_REQUEST = new Set<string>([InferenceErrorCode.InvalidInput, InferenceErrorCode.InvalidLimit])
const NOT_FOUND = new Set<string>([InferenceErrorCode.ModelNotFound, ModelErrorCode.ModelNotFound])

export interface AdminErrorOptions {
  /** Appended to the message of a not-found error: what was searched. */
  notFoundHint?: string
}

export function asAdminError (err: unknown, options: AdminErrorOptions = {}): unknown {
  if (!isTuttiError(err) || err instanceof AdminRequestError) return err
  if (BAD_REQUEST.has(err.code)) return new AdminRequestError(AdminErrorCode.BadRequest, err.message, { cause: err })
  if (NOT_FOUND.has(err.code)) return new AdminRequestError(AdminErrorCode.NotFound, `${err.message}${options.notFoundHint ?? ''}`, { cause: err })
  return new AdminRequestError(err.code, err.message, { cause: err })
}
