/**
 * Durations as operators write them (`30s`, `2m`, `1h30m`, `500ms`, as Go and Kubernetes do) and
 * back, in whole milliseconds.
 */
import { TuttiError } from './errors.js'

/** A duration that cannot be parsed or is out of range. */
export class DurationError extends TuttiError {
  declare readonly code: 'ERR_DURATION'

  constructor (message: string) {
    super('ERR_DURATION', message)
    this.name = 'DurationError'
  }
}

/** Longest duration accepted, ms: 365 days. Longer is a typo, not a plan. */
export const MAX_DURATION_MS = 365 * 24 * 3_600_000
const MAX_DURATION_TEXT = 64

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
const PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y
const ORDER = ['d', 'h', 'm', 's', 'ms']
// As Go prints durations: hours are the largest unit (`48h`, never `2d`).
const FORMAT_ORDER = ['h', 'm', 's', 'ms']

/**
 * Milliseconds from `'500ms' | '30s' | '2m' | '1h' | '1h30m' | '1.5s' | '2d'`, or a number already
 * in ms (a non-negative finite number; a bare numeric string is refused because its unit is
 * ambiguous). Units appear at most once each, largest first. The result is rounded to whole ms.
 * Throws {@link DurationError}.
 */
export function parseDuration (input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new DurationError(`duration ${input} must be a non-negative number of milliseconds`)
    return checkedRange(Math.round(input), String(input))
  }
  if (typeof input !== 'string') throw new DurationError('a duration must be a string like "30s" or a number of milliseconds')
  const text = input.trim()
  if (text.length === 0 || text.length > MAX_DURATION_TEXT) throw new DurationError(`duration ${JSON.stringify(input.slice(0, MAX_DURATION_TEXT))} is not a duration like "30s", "2m" or "1h30m"`)
  if (text === '0') return 0
  let total = 0
  let pos = 0
  let lastUnit = -1
  PART_RE.lastIndex = 0
  while (pos < text.length) {
    PART_RE.lastIndex = pos
    const m = PART_RE.exec(text)
    if (m === null) throw new DurationError(`duration ${JSON.stringify(input)} is not a duration like "30s", "2m", "500ms" or "1h30m"`)
    const unit = ORDER.indexOf(m[2]!)
    if (unit <= lastUnit) throw new DurationError(`duration ${JSON.stringify(input)}: units must appear once each, largest first (d, h, m, s, ms)`)
    lastUnit = unit
    total += Number(m[1]) * UNIT_MS[m[2]!]!
    pos = PART_RE.lastIndex
  }
  return checkedRange(Math.round(total), input)
}

function checkedRange (ms: number, text: string): number {
  if (ms > MAX_DURATION_MS) throw new DurationError(`duration ${JSON.stringify(text)} is longer than 365 days`)
  return ms
}

/** The shortest text for whole ms: `150000` -> `'2m30s'`, `500` -> `'500ms'`, `0` -> `'0s'`; hours are the largest unit. */
export function formatDuration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) throw new DurationError(`duration ${ms} must be a non-negative number of milliseconds`)
  let rest = Math.round(ms)
  if (rest === 0) return '0s'
  let out = ''
  for (const unit of FORMAT_ORDER) {
    const size = UNIT_MS[unit]!
    const count = Math.floor(rest / size)
    if (count > 0) {
      out += `${count}${unit}`
      rest -= count * size
    }
  }
  return out
}
