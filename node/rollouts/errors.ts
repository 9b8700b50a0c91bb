import { TuttiError } from '../../core/errors.js'

/** One problem in a rollout manifest or spec: the field path and what is wrong there. */
export interface ManifestIssue {
  /** Dotted path with list indices: `spec.strategy.steps[2].setPercent`; `(document)` for the whole text. */
  path: string
  message: string
}

/** Most issues listed in an error message (all of them stay in `.issues`). */
const MAX_MESSAGE_ISSUES = 20

/**
 * A rollout manifest (YAML) or a normalized spec (from a signed policy) that is not valid. Every
 * issue found is in `.issues`, each naming its field; the message lists them one per line as
 * `path: reason`. Retrying the same input cannot help.
 */
export class ManifestValidationError extends TuttiError {
  declare readonly code: 'ERR_ROLLOUT_MANIFEST'
  readonly issues: ManifestIssue[]

  constructor (issues: ManifestIssue[], options: { cause?: unknown, what?: string } = {}) {
    const lines = issues.slice(0, MAX_MESSAGE_ISSUES).map(i => `${i.path}: ${i.message}`)
    if (issues.length > MAX_MESSAGE_ISSUES) lines.push(`(${issues.length - MAX_MESSAGE_ISSUES} more)`)
    super('ERR_ROLLOUT_MANIFEST', `invalid ${options.what ?? 'rollout manifest'}:\n${lines.join('\n')}`, options)
    this.name = 'ManifestValidationError'
    this.issues = issues
  }
}
