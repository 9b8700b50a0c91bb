/**
 * The base of every error Tutti raises on purpose. Each has a stable `code` to match on (never
 * the message), an optional `cause`, and says whether trying again could help.
 */
export class TuttiError extends Error {
  readonly code: string
  readonly retryable: boolean

  constructor (code: string, message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'TuttiError'
    this.code = code
    this.retryable = options.retryable ?? false
  }
}

/** Bad configuration: a file, a flag or an init object that cannot be used as given. */
export class ConfigError extends TuttiError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super('ERR_CONFIG', message, options)
    this.name = 'ConfigError'
  }
}

export function isTuttiError (err: unknown): err is TuttiError {
  return err instanceof TuttiError
}

/** The message of anything thrown, for logs and one-line CLI errors. */
export function errorMessage (err: unknown): string {
  if (err instanceof Error) return err.message
  return String(err)
}
