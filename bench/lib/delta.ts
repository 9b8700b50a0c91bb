/**
 * Delta updates measured on real nodes: a holder has both versions of a model, a device pulls
 * the old one and then the new one over /tutti/chunks from the holder; the second pull counts. What counts
 * is bytes (the fetcher's), not time, so the numbers do not depend on the machine's load. Used by
 * bench/delta.ts (the table in docs/BENCHMARKS.md) and test/models-delta.test.ts (the property).
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pack } from '../../node/models/pack.js'
import { buildMlpModel } from '../../node/models/testing/onnx-builder.js'
import { fullyConverged, startLocalMesh, waitFor } from '../../sim/local-mesh.js'
import type { FleetConfig } from '../../node/fleet/fleet.js'
import type { PackChunking } from '../../node/models/pack.js'
import type { MlpModel, MlpModelOptions } from '../../node/models/testing/onnx-builder.js'
import type { LocalMesh } from '../../sim/local-mesh.js'
import type { PrivateKey } from '@libp2p/interface'

/** How v2 differs from v1. */
export type DeltaChange = 'retrain-head' | 'retrain-head-renamed' | 'unrelated'

export const DELTA_CHANGES: Record<DeltaChange, string> = {
  'retrain-head': 'last 2 of 8 layers retrained (same shapes)',
  'retrain-head-renamed': 'same, and every node renamed (shifts all weight bytes)',
  unrelated: 'every layer new: nothing in common'
}

export interface DeltaModels {
  v1: MlpModel
  v2: MlpModel
  /** Bytes of the weight tensors that differ between v1 and v2. */
  changedBytes: number
}

/** v1 and v2 of an 8-layer MLP (width 384: 4.5 MiB), v2 changed as `change` says. */
export function deltaModels (change: DeltaChange, shape: Pick<MlpModelOptions, 'width' | 'layers'> = { width: 384, layers: 8 }): DeltaModels {
  const layers = shape.layers ?? 8
  const retrained = change === 'unrelated' ? 0 : layers - 2
  const v1 = buildMlpModel(shape)
  const v2 = buildMlpModel({
    ...shape,
    seedOf: l => l >= retrained ? l + 1001 : l + 1,
    nodePrefix: change === 'retrain-head-renamed' ? 'model/' : ''
  })
  return { v1, v2, changedBytes: v2.layerBytes.slice(retrained).reduce((a, b) => a + b, 0) }
}

export interface DeltaResult {
  fileBytes: number
  changedBytes: number
  chunks: number
  /** Chunks of v2 the device already held (in v1's file). */
  chunksAlreadyHeld: number
  chunksFetched: number
  /** Chunk bytes the device received for v2 (duplicates included). */
  bytesReceived: number
  /** The v2 envelope (the manifest the device fetched first). */
  manifestBytes: number
  /** The device's assembled v2 file has v2's sha2-256. */
  sha256Matches: boolean
}

export interface DeltaRun {
  fleet: FleetConfig
  adminKey: PrivateKey
  /** Packages and the two nodes' data go under it. */
  dir: string
  models: DeltaModels
  chunking: PackChunking
  chunkBytes?: number
  /** Pack v2 as another model (chunks shared across models, not versions). @default 'mlp', as v1 */
  v2Name?: string
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/**
 * Starts two fresh nodes (memory transport, stores under `dir`), packs v1 and v2, gives node 0
 * both, has node 1 pull v1 and then v2 (what is measured), and stops the nodes.
 */
export async function runDelta (run: DeltaRun): Promise<DeltaResult> {
  const { fleet, adminKey, models } = run
  const dir = await mkdtemp(join(run.dir, 'run-'))
  const mesh = await startLocalMesh({ size: 2, fleet, node: i => ({ dataDir: join(dir, `n${i}`) }) })
  try {
    await waitFor('a full mesh view', () => fullyConverged(mesh.nodes), 60_000)
    return await measure(mesh, dir, adminKey, models, run)
  } finally {
    await mesh.stop()
  }
}

async function measure (mesh: LocalMesh, dir: string, adminKey: PrivateKey, models: DeltaModels, run: DeltaRun): Promise<DeltaResult> {
  const [holder, device] = [mesh.nodes[0]!.models!, mesh.nodes[1]!.models!]
  const packed = []
  for (const [name, version, m] of [['mlp', '1.0.0', models.v1], [run.v2Name ?? 'mlp', '2.0.0', models.v2]] as const) {
    const file = join(dir, `${name}-${version}.onnx`)
    await writeFile(file, m.bytes)
    packed.push(await pack(file, { name, version, adminKey, chunking: run.chunking, chunkBytes: run.chunkBytes, outDir: join(dir, `${name}-${version}`) }))
  }
  const [p1, p2] = packed as [typeof packed[0], typeof packed[0]]
  await holder.store.importPackage(p1.dir)
  await holder.store.importPackage(p2.dir)
  await holder.announceAll()
  await device.pull(p1.cid)
  const pulled = await device.pull(p2.cid)
  return {
    fileBytes: models.v2.bytes.byteLength,
    changedBytes: models.changedBytes,
    chunks: p2.manifest.chunks.length,
    chunksAlreadyHeld: pulled.fetch.chunksAlreadyHeld,
    chunksFetched: pulled.fetch.chunksFetched,
    bytesReceived: pulled.fetch.bytesReceived,
    manifestBytes: p2.envelope.byteLength,
    sha256Matches: sha256(new Uint8Array(await readFile(pulled.path))) === sha256(models.v2.bytes)
  }
}
