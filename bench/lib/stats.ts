/**
 * Small helpers every benchmark shares: a seeded random source, percentiles, a plain-text table
 * and writing results to bench/results/<name>.json.
 */
import { seededRandom } from '../../core/random.js'
import { mkdir } from 'node:fs/promises'
import os from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { writeFileAtomic } from '../../node/fs.js'
import { table as formatTable } from '../../cli/format.js'
import { exactPercentile } from '../../node/inference/histogram.js'

export { seededRandom }

export function randomBytesFrom (random: () => number, length: number): Uint8Array {
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) out[i] = Math.floor(random() * 256)
  return out
}

/** Nearest-rank percentile of `values` (need not be sorted); NaN for no values. */
export function percentile (values: number[], p: number): number {
  return exactPercentile(values, p / 100) ?? Number.NaN
}

export function median (values: number[]): number {
  return percentile(values, 50)
}

export function sum (values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}

export function mean (values: number[]): number {
  if (values.length === 0) return Number.NaN
  return values.reduce((a, b) => a + b, 0) / values.length
}

/** A ratio, or NaN when the denominator is zero or missing. */
export function ratio (a: number, b: number): number {
  return Number.isFinite(a) && Number.isFinite(b) && b !== 0 ? a / b : Number.NaN
}

export function fmt (value: number, digits = 1): string {
  return Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
}

/** Renders rows as a left-aligned first column and right-aligned other columns, under a rule. */
export function table (header: string[], rows: string[][]): string {
  return formatTable(header, rows, { gap: 2, rule: true, align: header.map((_, c) => c === 0 ? 'left' : 'right') }).trimEnd()
}

/** The machine a result was measured on. */
export function machine (): Record<string, unknown> {
  const cpus = os.cpus()
  return {
    node: process.version,
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model ?? 'unknown',
    memTotalBytes: os.totalmem(),
    loadAvg: os.loadavg()
  }
}

/** Writes `bench/results/<name>.json` and returns its path. */
export async function writeResults (name: string, result: unknown): Promise<string> {
  const dir = join(dirname(fileURLToPath(import.meta.url)), '..', 'results')
  await mkdir(dir, { recursive: true })
  const file = join(dir, `${name}.json`)
  await writeFileAtomic(file, JSON.stringify(result, null, 2) + '\n')
  return file
}

export function print (text = ''): void {
  process.stdout.write(text + '\n')
}
