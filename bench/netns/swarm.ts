/**
 * When the swarm held every chunk: read from the downloaders' `chunk stored` records (the
 * fetcher's debug log, node/fetcher/download.ts), which name the peer each chunk came from. Each
 * downloader receives distinct bytes no faster than the origin puts them into the swarm, so the
 * moment the last chunk first reached any downloader bounds every device's completion, and what
 * follows it is the relay of the last chunks to the others.
 */

/** One `chunk stored` record: wall-clock ms, the storing node, the index and the peer it came from. */
export interface ChunkRecord {
  atMs: number
  node: string
  index: number
  from: string
}

export interface FirstCopies {
  /** Chunks seen (distinct indexes). */
  chunks: number
  /** When the last chunk first reached a downloader, ms after `t0`. */
  everyChunkAtMs: number
  /** Chunks whose first copy came from the origin. */
  fromOrigin: number
  /** When the origin's first copies reached the swarm: the time by which 50 % and 90 % of them had, ms after `t0`. */
  originHalfAtMs: number
  originNinetyAtMs: number
}

/** Parses one node.log line into a record, or undefined for any other line. */
export function parseChunkRecord (node: string, line: string): ChunkRecord | undefined {
  if (!line.includes('"chunk stored"')) return undefined
  let r: { msg?: unknown, ts?: unknown, index?: unknown, peer?: unknown }
  try {
    r = JSON.parse(line) as typeof r
  } catch {
    return undefined
  }
  if (r.msg !== 'chunk stored' || typeof r.ts !== 'string' || typeof r.index !== 'number' || typeof r.peer !== 'string') return undefined
  const atMs = Date.parse(r.ts)
  return Number.isFinite(atMs) ? { atMs, node, index: r.index, from: r.peer } : undefined
}

/** The swarm's first copy of each chunk, from every downloader's records; undefined without any. */
export function firstCopies (records: ChunkRecord[], originPeerId: string, t0: number): FirstCopies | undefined {
  const first = new Map<number, ChunkRecord>()
  for (const r of records) {
    const held = first.get(r.index)
    if (held === undefined || r.atMs < held.atMs) first.set(r.index, r)
  }
  if (first.size === 0) return undefined
  const times = [...first.values()].map(r => r.atMs - t0).sort((a, b) => a - b)
  const origin = [...first.values()].filter(r => r.from === originPeerId).map(r => r.atMs - t0).sort((a, b) => a - b)
  const at = (xs: number[], q: number): number => xs.length === 0 ? Number.NaN : xs[Math.min(xs.length - 1, Math.ceil(q * xs.length) - 1)]!
  return {
    chunks: first.size,
    everyChunkAtMs: times[times.length - 1]!,
    fromOrigin: origin.length,
    originHalfAtMs: at(origin, 0.5),
    originNinetyAtMs: at(origin, 0.9)
  }
}
