/**
 * Params of admin requests, checked by zod schemas before a handler acts on them: a bad field is
 * an `ERR_BAD_REQUEST` naming it (`name: must be a rollout name`), and changes nothing. Objects
 * are not strict: a newer CLI may send a field this node does not know yet.
 */
import { z } from 'zod'
import { base64 } from 'multiformats/bases/base64'
import { AdminErrorCode, AdminRequestError } from '../protocols/admin/index.js'
import { MAX_NAME_LENGTH } from '../protocols/policy/constants.js'
import { formatIssues, schemaIssues } from '../core/schema.js'

/** Most issues named in one error message. */
const MAX_MESSAGE_ISSUES = 10

/** `params` checked against `schema`, parsed; throws AdminRequestError(ERR_BAD_REQUEST, `field: reason; ...`). */
export function adminParams<S extends z.ZodType> (schema: S, params: Record<string, unknown>): z.output<S> {
  const parsed = schema.safeParse(params)
  if (!parsed.success) {
    const issues = schemaIssues(parsed.error)
    const more = issues.length > MAX_MESSAGE_ISSUES ? `; (${issues.length - MAX_MESSAGE_ISSUES} more)` : ''
    throw new AdminRequestError(AdminErrorCode.BadRequest, formatIssues(issues.slice(0, MAX_MESSAGE_ISSUES)) + more)
  }
  return parsed.data
}

/** A string of 1..`maxLength` characters; every issue reads `must be WHAT` (with the bound when it is the length). */
export function boundedString (what: string, maxLength: number): z.ZodString {
  return z.string({ error: `must be ${what}` })
    .min(1, `must be ${what}, not empty`)
    .max(maxLength, `must be ${what} of at most ${maxLength} characters`)
}

/** A rollout name as policies carry it (1..63 characters). */
export const rolloutName = boundedString('a rollout name', MAX_NAME_LENGTH)

/** A model reference: NAME, NAME@VERSION or a manifest CID. */
export const modelRef = boundedString('NAME, NAME@VERSION or a manifest CID', 200)

/**
 * Base64 text (standard alphabet, padding optional) of at most `maxBytes` decoded bytes, decoded.
 * The length is checked before decoding.
 */
export function base64Bytes (what: string, maxBytes: number): z.ZodType<Uint8Array> {
  return boundedString(`a base64 ${what}`, Math.ceil(maxBytes / 3) * 4)
    .transform((text, ctx): Uint8Array => {
      try {
        return base64.baseDecode(text)
      } catch {
        ctx.addIssue({ code: 'custom', message: `must be a base64 ${what}` })
        return z.NEVER
      }
    })
}
