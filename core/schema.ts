/**
 * Zod schemas for documents read from disk or the network, with errors that name the field:
 * `admins[0].peerId: does not match its public key`, as the rollout manifest reports them.
 */
import type { z } from 'zod'

/** One problem in a document: where (`spec.steps[2].setPercent`, `''` for the whole) and what. */
export interface SchemaIssue {
  path: string
  message: string
}

/** `['admins', 0, 'peerId']` -> `admins[0].peerId`. */
export function issuePath (path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else out += out === '' ? String(key) : `.${String(key)}`
  }
  return out
}

/** The issues of a failed parse, each with its field path. */
export function schemaIssues (error: z.ZodError): SchemaIssue[] {
  return error.issues.map(i => ({ path: issuePath(i.path), message: i.message }))
}

/** Issues as one line: `kind: must be "TuttiFleet"; networkKey: must be 64 hex characters`. */
export function formatIssues (issues: readonly SchemaIssue[]): string {
  return issues.map(i => i.path === '' ? i.message : `${i.path}: ${i.message}`).join('; ')
}
