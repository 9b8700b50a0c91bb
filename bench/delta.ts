/**
 * Delta updates: how many bytes a device that holds v1 of a model fetches for v2, over real
 * Tutti nodes (memory transport, real stores on disk; two fresh nodes per run), by chunking and
 * average chunk size.
 *
 *   npm run bench -- delta [--sizes 16,64,256,1024] [--width 384] [--layers 8]
 *
 * The model is an MLP built in code (8 layers of 384 x 384 float32: 4.5 MiB). Changes:
 * - retrain-head: the last 2 layers get new weights (1.13 MiB of tensors), same shapes;
 * - retrain-head-renamed: the same, and every node renamed, which shifts every weight byte;
 * - unrelated: every layer new.
 * Reported: chunk bytes received for v2 / bytes of the changed tensors (goal <= 1.2), and for the
 * unrelated version (chunk bytes + manifest) / F (goal <= 1.05). Bytes only: the machine's load
 * cannot change them. See docs/BENCHMARKS.md.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { createTestFleet } from '../sim/local-mesh.js'
import { DELTA_CHANGES, deltaModels, runDelta } from './lib/delta.js'
import { fmt, machine, print, table, writeResults } from './lib/stats.js'
import type { DeltaChange, DeltaResult } from './lib/delta.js'
import type { PackChunking } from '../node/models/pack.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '16,64,256,1024' },
    width: { type: 'string', default: '384' },
    layers: { type: 'string', default: '8' }
  }
})
const sizesKiB = values.sizes.split(',').map(Number)
const shape = { width: Number(values.width), layers: Number(values.layers) }

const work = await mkdtemp(join(tmpdir(), 'tutti-bench-delta-'))
const { fleet, adminKey } = await createTestFleet('bench-delta')
const rows: Array<{ change: DeltaChange, chunking: PackChunking, avgKiB: number } & DeltaResult> = []
try {
  for (const change of Object.keys(DELTA_CHANGES) as DeltaChange[]) {
    const models = deltaModels(change, shape)
    for (const chunking of ['cdc', 'fixed'] as const) {
      for (const kib of sizesKiB) {
        const r = await runDelta({ fleet, adminKey, dir: work, models, chunking, chunkBytes: kib * 1024 })
        if (!r.sha256Matches) throw new Error(`${change} ${chunking} ${kib} KiB: the assembled v2 does not match`)
        rows.push({ change, chunking, avgKiB: kib, ...r })
      }
    }
  }
} finally {
  await rm(work, { recursive: true, force: true })
}

const first = rows[0]!
print(`Delta updates: v2 pulled by a node holding v1, ${shape.layers} layers of ${shape.width} (F = ${first.fileBytes} bytes)\n`)
for (const change of Object.keys(DELTA_CHANGES) as DeltaChange[]) {
  const mine = rows.filter(r => r.change === change)
  print(`${change}: ${DELTA_CHANGES[change]}; changed tensors ${mine[0]!.changedBytes} bytes`)
  print(table(['chunking', 'chunk KiB', 'chunks', 'held', 'fetched', 'chunk bytes', 'manifest', '/ changed', '(chunks+manifest) / F'],
    mine.map(r => [r.chunking, String(r.avgKiB), String(r.chunks), String(r.chunksAlreadyHeld), String(r.chunksFetched), String(r.bytesReceived), String(r.manifestBytes),
      change === 'unrelated' ? '-' : fmt(r.bytesReceived / r.changedBytes, 3), fmt((r.bytesReceived + r.manifestBytes) / r.fileBytes, 3)])))
  print()
}
print('chunk KiB: the average for cdc (min a quarter, max 4x), the size for fixed. Every assembled v2 matched its sha2-256.')
print(`results: ${await writeResults('delta', { shape, rows, machine: machine() })}`)
