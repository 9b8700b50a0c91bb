/** kubectl-style output: aligned columns, upper-case headers, human durations and sizes. */
import { createRequire } from 'node:module'
import { formatBytes } from '../core/quantity.js'

/** yaml, loaded the first time `-o yaml` asks for it (a CLI start loads only what it uses). */
const require = createRequire(import.meta.url)

export interface TableOptions {
  /** Spaces between columns. @default 3 */
  gap?: number
  /** Alignment per column. @default every column left */
  align?: Array<'left' | 'right'>
  /** A line of dashes under the headers. @default false */
  rule?: boolean
}

/** Aligned columns under headers, ending in a newline; the last column is not padded when left-aligned. */
export function table (headers: string[], rows: string[][], options: TableOptions = {}): string {
  const gap = ' '.repeat(options.gap ?? 3)
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const cell = (c: string, i: number): string => options.align?.[i] === 'right' ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)
  const line = (cells: string[]): string => cells.map(cell).join(gap).trimEnd()
  const rule = options.rule === true ? [widths.map(w => '-'.repeat(w)).join(gap)] : []
  return [line(headers), ...rule, ...rows.map(line)].join('\n') + '\n'
}

/** `text`, a table, without its header line when the command was given --no-headers. */
export function withoutHeaders (command: { opts: () => Record<string, unknown> }, text: string): string {
  return command.opts().headers === false ? text.slice(text.indexOf('\n') + 1) : text
}

/**
 * The admin API's epoch-millisecond timestamps and the RFC 3339 fields `-o json|yaml` prints
 * instead, as Kubernetes does (`lastHeartbeatTime`). Durations (`ageMs`, `uptimeMs`) stay numbers.
 */
export const TIME_FIELDS: Readonly<Record<string, string>> = {
  bootMs: 'bootTime',
  lastSeenMs: 'lastSeenTime',
  firstSeenMs: 'firstSeenTime',
  stepStartedAt: 'stepStartedTime',
  at: 'time'
}

/** `value` with every {@link TIME_FIELDS} number replaced by its RFC 3339 field, in place of it. */
export function withTimes (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withTimes)
  if (value == null || typeof value !== 'object') return value
  const out: Record<string, unknown> = {}
  for (const [key, v] of Object.entries(value)) {
    const name = TIME_FIELDS[key]
    if (name != null && typeof v === 'number' && Number.isFinite(v)) out[name] = new Date(v).toISOString()
    else out[key] = withTimes(v)
  }
  return out
}

/** A value as JSON or YAML, for `-o json` and `-o yaml`, timestamps as RFC 3339. */
export function structured (value: unknown, format: 'json' | 'yaml'): string {
  const shown = withTimes(value)
  if (format === 'json') return JSON.stringify(shown, null, 2) + '\n'
  return (require('yaml') as typeof import('yaml')).stringify(shown)
}

/** 45s, 3m12s, 2h5m, 4d3h: as kubectl shows ages. */
export function duration (ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '<unknown>'
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s}s`
  const m = Math.floor(s / 60)
  if (m < 60) return s % 60 === 0 ? `${m}m` : `${m}m${s % 60}s`
  const h = Math.floor(m / 60)
  if (h < 24) return m % 60 === 0 ? `${h}h` : `${h}h${m % 60}m`
  const d = Math.floor(h / 24)
  return h % 24 === 0 ? `${d}d` : `${d}d${h % 24}h`
}

/** Bytes as Ki/Mi/Gi, like Kubernetes quantities. */
export const bytes = formatBytes

/** A peer id (or CID) shortened to its tail, which `describe` accepts as a unique suffix. */
export function shortPeer (id: string, keep = 12): string {
  return id.length <= keep ? id : `…${id.slice(-keep)}`
}

/** The tail a shortened id stands for (`…N6xikrKoGFf6`, or `...N6xikrKoGFf6` as typed), or undefined for any other text. */
export function shortenedTail (id: string): string | undefined {
  const m = /^(?:…|\.\.\.)(\S+)$/.exec(id.trim())
  return m?.[1]
}

export function labelList (labels: Record<string, string>): string {
  const entries = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b))
  return entries.length === 0 ? '<none>' : entries.map(([k, v]) => `${k}=${v}`).join(',')
}

/** `Key:   value` blocks as in `kubectl describe`; multi-line values are indented. */
export function describeBlock (rows: Array<[string, string | string[]]>): string {
  const width = Math.max(...rows.map(([k]) => k.length)) + 2
  const out: string[] = []
  for (const [k, v] of rows) {
    const lines = Array.isArray(v) ? (v.length === 0 ? ['<none>'] : v) : [v]
    out.push(`${(k + ':').padEnd(width)}${lines[0]}`)
    for (const extra of lines.slice(1)) out.push(`${' '.repeat(width)}${extra}`)
  }
  return out.join('\n') + '\n'
}
