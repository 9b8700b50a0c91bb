/**
 * What a downloading node's disk calls cost per chunk, as the model store makes them
 * (node/models/store.ts `putChunk`, node/models/assemble.ts `PartialModel.write`), in CPU seconds
 * of this process (user + system, the libuv threads included) per MiB stored:
 *
 * - `floor`: each chunk written once, to its offset in the model's temp file, no flush: the least
 *   any store can do;
 * - `durable`: what the store did before 2026-12-07, three flushes per chunk: the chunk file as
 *   temp file, fsync, rename and directory fsync, then the model file's write and a datasync;
 * - `now`: the chunk file as temp file and rename (no fsync; open re-hashes chunk files), the
 *   model file's write, a datasync every FLUSH_EVERY_BYTES.
 *
 * Set-ups alternate within a trial, each on a fresh directory under the data directory's disk.
 *
 *   npm run bench -- chunk-writes [--mib 20] [--chunk-kib 64] [--trials 5] [--dir DIR]
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, open, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { writeFileAtomic, writeFileUnsynced } from '../node/fs.js'
import { FLUSH_EVERY_BYTES } from '../node/models/assemble.js'
import { fmt, machine, median, print, ratio, table, writeResults } from './lib/stats.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '20' },
    'chunk-kib': { type: 'string', default: '64' },
    trials: { type: 'string', default: '5' },
    dir: { type: 'string' }
  }
})
const mib = Number(values.mib)
const chunkKiB = Number(values['chunk-kib'])
const trials = Number(values.trials)
if (!Number.isInteger(mib) || mib < 1 || !Number.isInteger(chunkKiB) || chunkKiB < 1 || chunkKiB > 1024 || !Number.isInteger(trials) || trials < 1) {
  process.stderr.write('usage: npm run bench -- chunk-writes [--mib N >= 1] [--chunk-kib 1..1024] [--trials K >= 1] [--dir DIR]\n')
  process.exit(2)
}

type SetUp = 'floor' | 'durable' | 'now'
const SETUPS: SetUp[] = ['floor', 'durable', 'now']
interface Trial { setUp: SetUp, cpuS: number, wallS: number }

const chunkBytes = chunkKiB * 1024
const count = Math.ceil(mib * 1024 * 1024 / chunkBytes)
const chunks = Array.from({ length: Math.min(count, 64) }, () => new Uint8Array(randomBytes(chunkBytes)))

async function run (setUp: SetUp, base: string): Promise<Trial> {
  const dir = await mkdtemp(join(base, `${setUp}-`))
  const model = await open(join(dir, '.model.onnx.tmp'), 'wx+', 0o644)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let unflushed = 0
  for (let i = 0; i < count; i++) {
    const bytes = chunks[i % chunks.length]!
    if (setUp === 'durable') await writeFileAtomic(join(dir, `c${i}`), bytes)
    if (setUp === 'now') await writeFileUnsynced(join(dir, `c${i}`), bytes)
    for (let done = 0; done < bytes.byteLength;) done += (await model.write(bytes, done, bytes.byteLength - done, i * chunkBytes + done)).bytesWritten
    if (setUp === 'durable') await model.datasync()
    if (setUp === 'now' && (unflushed += bytes.byteLength) >= FLUSH_EVERY_BYTES) {
      unflushed = 0
      await model.datasync()
    }
  }
  // Every set-up ends as assembly does: the model file fsynced.
  await model.sync()
  const wallS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  await model.close()
  await rm(dir, { recursive: true, force: true })
  return { setUp, cpuS: (cpu.user + cpu.system) / 1e6, wallS }
}

const base = await mkdtemp(join(values.dir ?? tmpdir(), 'tutti-chunk-writes-'))
const mibStored = count * chunkBytes / (1024 * 1024)
print(`chunk-writes: ${count} chunks of ${chunkKiB} KiB (${fmt(mibStored, 1)} MiB) per set-up, ${trials} trial(s), set-ups alternating, in ${base}`)
const results: Trial[] = []
try {
  for (let t = 0; t < trials; t++) {
    for (const setUp of SETUPS) {
      const r = await run(setUp, base)
      results.push(r)
      print(`  trial ${t + 1} ${setUp}: ${fmt(r.cpuS * 1000, 0)} CPU ms, ${fmt(r.wallS * 1000, 0)} ms wall`)
    }
  }
} finally {
  await rm(base, { recursive: true, force: true })
}
const cpuPerMiB = (s: SetUp): number => median(results.filter(r => r.setUp === s).map(r => r.cpuS)) / mibStored
const wallPerMiB = (s: SetUp): number => median(results.filter(r => r.setUp === s).map(r => r.wallS)) / mibStored
print()
print(table(['set-up', 'CPU ms / MiB (median)', 'wall ms / MiB (median)', 'CPU / floor'], SETUPS.map(s => [
  s, fmt(cpuPerMiB(s) * 1000, 2), fmt(wallPerMiB(s) * 1000, 2), fmt(ratio(cpuPerMiB(s), cpuPerMiB('floor')), 2)
])))
print(`\nnow / durable: CPU ${fmt(ratio(cpuPerMiB('now'), cpuPerMiB('durable')), 2)}x, wall ${fmt(ratio(wallPerMiB('now'), wallPerMiB('durable')), 2)}x`)
const out = await writeResults('chunk-writes', {
  benchmark: 'chunk-writes', date: new Date().toISOString(), machine: machine(), options: { mib, chunkKiB, trials, flushEveryBytes: FLUSH_EVERY_BYTES }, results,
  summary: Object.fromEntries(SETUPS.map(s => [s, { cpuMsPerMiB: cpuPerMiB(s) * 1000, wallMsPerMiB: wallPerMiB(s) * 1000 }]))
})
print(`results: ${out}`)
