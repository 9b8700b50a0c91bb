/**
 * Delta updates (content-defined chunks): a node that holds v1 of a model fetches only v2's new
 * chunks, the assembled v2 matches its digest, old fixed-chunk packages still go the same path,
 * and retention never deletes a chunk a kept model still needs. Real nodes on the memory
 * transport, real stores on disk, real ONNX models; bytes are counted, nothing is timed.
 */
import { createHash } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { deltaModels, runDelta } from '../bench/lib/delta.js'
import { pack } from '../node/models/pack.js'
import { ModelStore } from '../node/models/store.js'
import { buildMlpModel } from '../node/models/testing/onnx-builder.js'
import { FIXED_CLOCK, TempDirs, testFleet } from './models-helpers.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PackResult } from '../node/models/pack.js'
import type { PrivateKey } from '@libp2p/interface'

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

describe('delta updates over real nodes', () => {
  const dirs = new TempDirs()
  let fleet: FleetConfig
  let adminKey: PrivateKey

  beforeAll(async () => { ({ fleet, adminKey } = await testFleet()) })
  afterAll(async () => { await dirs.cleanup() })

  it('moves only the chunks of the retrained layers: <= 1.2x their bytes, with the default content-defined chunks', async () => {
    const models = deltaModels('retrain-head')
    const r = await runDelta({ fleet, adminKey, dir: await dirs.make('tutti-delta-'), models, chunking: 'cdc' })
    expect(r.sha256Matches).toBe(true)
    expect(r.chunksAlreadyHeld + r.chunksFetched).toBe(r.chunks)
    expect(r.chunksAlreadyHeld).toBeGreaterThan(r.chunks / 2)
    expect(r.bytesReceived).toBeGreaterThanOrEqual(r.changedBytes)
    expect(r.bytesReceived / r.changedBytes).toBeLessThanOrEqual(1.2)
  })

  it('moves <= 1.05x the file for a version with nothing in common (manifest included)', async () => {
    const models = deltaModels('unrelated')
    const r = await runDelta({ fleet, adminKey, dir: await dirs.make('tutti-delta-'), models, chunking: 'cdc' })
    expect(r.sha256Matches).toBe(true)
    expect(r.chunksAlreadyHeld).toBe(0)
    expect((r.bytesReceived + r.manifestBytes) / r.fileBytes).toBeLessThanOrEqual(1.05)
  })

  it('keeps sharing when every byte shifts (nodes renamed): content-defined chunks do, fixed-size ones fetch the whole file', async () => {
    const models = deltaModels('retrain-head-renamed')
    const dir = await dirs.make('tutti-delta-')
    const cdc = await runDelta({ fleet, adminKey, dir, models, chunking: 'cdc' })
    const fixed = await runDelta({ fleet, adminKey, dir, models, chunking: 'fixed', chunkBytes: 64 * 1024 })
    expect(cdc.sha256Matches && fixed.sha256Matches).toBe(true)
    expect(cdc.bytesReceived / cdc.changedBytes).toBeLessThanOrEqual(1.3)
    expect(fixed.chunksAlreadyHeld).toBe(0)
    expect(fixed.bytesReceived).toBe(models.v2.bytes.byteLength)
  })

  it('shares chunks across models: a node holding model A fetches only what model B does not share with it', async () => {
    const models = deltaModels('retrain-head')
    const r = await runDelta({ fleet, adminKey, dir: await dirs.make('tutti-delta-'), models, chunking: 'cdc', v2Name: 'mlp-tuned' })
    expect(r.sha256Matches).toBe(true)
    expect(r.chunksAlreadyHeld).toBeGreaterThan(r.chunks / 2)
    expect(r.bytesReceived / r.changedBytes).toBeLessThanOrEqual(1.2)
  })

  it('pulls an old fixed-chunk (schema 1) package the same way: only the changed chunks move', async () => {
    const models = deltaModels('retrain-head')
    const r = await runDelta({ fleet, adminKey, dir: await dirs.make('tutti-delta-'), models, chunking: 'fixed', chunkBytes: 64 * 1024 })
    expect(r.sha256Matches).toBe(true)
    // 1.13 MiB of retrained tensors at 64 KiB: 19 chunks (the last one ends the file), the 54 before are held.
    expect(r.chunksFetched).toBe(19)
    expect(r.chunksAlreadyHeld).toBe(54)
    expect(r.bytesReceived / r.changedBytes).toBeLessThanOrEqual(1.2)
  })
})

describe('retention with chunks shared across versions', () => {
  const dirs = new TempDirs()
  let fleet: FleetConfig
  let adminKey: PrivateKey

  beforeAll(async () => { ({ fleet, adminKey } = await testFleet()) })
  afterAll(async () => { await dirs.cleanup() })

  async function packVersion (dir: string, version: string, seedOf: (l: number) => number): Promise<PackResult> {
    const file = join(dir, `mlp-${version}.onnx`)
    await writeFile(file, buildMlpModel({ width: 128, layers: 6, seedOf }).bytes)
    return await pack(file, { name: 'mlp', version, adminKey, chunkBytes: 4096, outDir: join(dir, `pkg-${version}`), clock: FIXED_CLOCK })
  }

  it('does not delete a chunk an incomplete kept version still needs when the version holding it goes', async () => {
    const dir = await dirs.make('tutti-delta-gc-')
    const v1 = await packVersion(dir, '1.0.0', l => l + 1)
    const v3 = await packVersion(dir, '3.0.0', l => l + 500)
    const v2 = await packVersion(dir, '2.0.0', l => l >= 4 ? l + 100 : l + 1)
    const shared = v2.manifest.chunks.filter(c => v1.manifest.chunks.includes(c))
    expect(shared.length).toBeGreaterThan(v2.manifest.chunks.length / 2)

    const store = await ModelStore.open({ root: join(dir, 'store'), fleet, retainVersions: 1 })
    try {
      await store.importPackage(v1.dir)
      await store.setActive('mlp', '1.0.0')
      await store.importPackage(v3.dir)
      await store.setActive('mlp', '3.0.0')
      // v2 arrives after 3.0.0's activation (staged for a rollout): only its new chunks are missing.
      await store.putManifest(v2.envelope)
      const missing = store.missingChunks(v2.cid)
      expect(new Set(missing)).toEqual(new Set(v2.manifest.chunks.filter(c => !v1.manifest.chunks.includes(c) && !v3.manifest.chunks.includes(c))))

      // Keep 1: v1 goes, and with it the file v2's shared chunks were served from.
      const gc = await store.gc()
      expect(gc.removed).toEqual([v1.cid])
      expect(store.missingChunks(v2.cid)).toEqual(missing)
      for (const c of shared) expect(await store.hasChunk(c)).toBe(true)

      // Fetching the missing chunks completes v2, byte for byte.
      const bytes = new Uint8Array(await readFile(v2.files.model))
      const offsets = new Map<string, [number, number]>()
      let at = 0
      v2.manifest.chunks.forEach((c, i) => { offsets.set(c, [at, v2.manifest.chunkSizes![i]!]); at += v2.manifest.chunkSizes![i]! })
      for (const c of missing) {
        const [o, n] = offsets.get(c)!
        await store.putChunk(c, bytes.subarray(o, o + n))
      }
      const path = await store.assemble(v2.cid)
      expect(sha256(new Uint8Array(await readFile(path)))).toBe(sha256(bytes))
    } finally {
      await store.close()
    }
  })
})
