/**
 * Progress for long work: a redrawn bar on a terminal, a line every few seconds elsewhere (logs,
 * CI), so both humans and scripts see that something is moving.
 */
import { bytes, duration } from './format.js'
import type { CliIO } from './io.js'

export interface ProgressBar {
  update(done: number, total: number, detail?: string): void
  finish(text?: string): void
}

export function progressBar (io: CliIO, label: string, options: { width?: number, plainEveryMs?: number } = {}): ProgressBar {
  const width = options.width ?? 30
  const plainEvery = options.plainEveryMs ?? 2000
  const started = Date.now()
  let lastPlain = 0
  let drawn = false
  let pending: string | undefined
  const render = (done: number, total: number, detail?: string): string => {
    const frac = total > 0 ? Math.min(1, done / total) : 0
    const fill = Math.round(frac * width)
    const pct = `${Math.floor(frac * 100)}`.padStart(3)
    return `${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${pct}% ${bytes(done)}/${bytes(total)}${detail != null ? ` ${detail}` : ''}`
  }
  return {
    update (done, total, detail) {
      if (io.isTTY) {
        io.out(`\r\x1b[2K${render(done, total, detail)}`)
        drawn = true
      } else if (Date.now() - lastPlain >= plainEvery) {
        lastPlain = Date.now()
        io.out(render(done, total, detail) + '\n')
        pending = undefined
      } else {
        pending = render(done, total, detail)
      }
    },
    finish (text) {
      if (drawn) io.out('\n')
      if (pending != null) io.out(pending + '\n')
      pending = undefined
      drawn = false
      if (text != null) io.out(`${text} (${duration(Date.now() - started)})\n`)
    }
  }
}
