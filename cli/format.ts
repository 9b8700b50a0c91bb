/** kubectl-style output: aligned columns, upper-case headers, human durations and sizes. */

export function table (headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3)).join('').trimEnd()
  return [line(headers), ...rows.map(line)].join('\n') + '\n'
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
export function bytes (n: number): string {
  if (!Number.isFinite(n) || n < 0) return '<unknown>'
  const units = ['', 'Ki', 'Mi', 'Gi', 'Ti']
  let v = n
  let u = 0
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024
    u++
  }
  return u === 0 ? `${n}` : `${v >= 10 ? Math.round(v) : v.toFixed(1)}${units[u]}`
}

/** A peer id shortened to its tail, which `describe` accepts as a unique suffix. */
export function shortPeer (id: string, keep = 12): string {
  return id.length <= keep ? id : `…${id.slice(-keep)}`
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
