import { TuttiError } from '../core/errors.js'

/** Wrong flags or arguments: exit code 2, with a pointer to the command's help. */
export class UsageError extends TuttiError {
  constructor (message: string) {
    super('ERR_USAGE', message)
    this.name = 'UsageError'
  }
}

/** A failure the CLI explains in one line: exit code 1. */
export class CliError extends TuttiError {
  constructor (message: string, options: { cause?: unknown, code?: string } = {}) {
    super(options.code ?? 'ERR_CLI', message, options)
    this.name = 'CliError'
  }
}

/**
 * The user pressed Ctrl-C while the CLI followed work that goes on without it (a pull on a
 * node): the message says so. Exit code 130, as a shell reports an interrupted command.
 */
export class InterruptedError extends TuttiError {
  readonly exitCode = 130
  constructor (message: string) {
    super('ERR_INTERRUPTED', message)
    this.name = 'InterruptedError'
  }
}
