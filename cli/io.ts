/** Where the CLI writes. Tests pass their own to capture output. */
export interface CliIO {
  out: (text: string) => void
  err: (text: string) => void
  env: Record<string, string | undefined>
  /** Whether stdout is a terminal (progress bars, colours). */
  isTTY: boolean
}

export const processIO: CliIO = {
  out: text => { process.stdout.write(text) },
  err: text => { process.stderr.write(text) },
  env: process.env,
  isTTY: process.stdout.isTTY === true
}
