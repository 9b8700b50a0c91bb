/** Shared set-up of the model tests: temp dirs, a fleet, packaged synthetic models. */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createTestFleet } from '../sim/local-mesh.js'
import { pack } from '../node/models/pack.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PackChunking, PackResult } from '../node/models/pack.js'
import type { PrivateKey } from '@libp2p/interface'

export const SILERO_VAD = join(import.meta.dirname, '..', 'node_modules', '@ricky0123', 'vad-node', 'dist', 'silero_vad.onnx')

/** A fixed instant, so two packs of the same bytes give the same manifest. */
export const FIXED_CLOCK = { now: () => Date.parse('2026-01-02T03:04:05.000Z') }

export class TempDirs {
  private readonly dirs: string[] = []

  async make (prefix = 'tutti-models-'): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    this.dirs.push(dir)
    return dir
  }

  async cleanup (): Promise<void> {
    await Promise.all(this.dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
  }
}

export async function testFleet (): Promise<{ fleet: FleetConfig, adminKey: PrivateKey }> {
  return await createTestFleet('models')
}

export interface PackMatMulOptions {
  name?: string
  version?: string
  /** @default 'cdc' */
  chunking?: PackChunking
  /** The chunk size ('fixed') or average chunk size ('cdc'). @default 4096 */
  chunkBytes?: number
  /** Approximate weight bytes. @default 20_000 */
  weightsBytes?: number
  seed?: number
}

/** Builds a MatMul model, writes it to `dir/src-<version>.onnx`, packs it into `dir/pkg-<version>`. */
export async function packMatMul (dir: string, adminKey: PrivateKey, options: PackMatMulOptions = {}): Promise<PackResult> {
  const version = options.version ?? '1.0.0'
  const file = join(dir, `src-${version}-${options.seed ?? 1}.onnx`)
  await writeFile(file, buildMatMulModel({ inputSize: 16, weightsBytes: options.weightsBytes ?? 20_000, seed: options.seed ?? 1 }))
  return await pack(file, {
    name: options.name ?? 'mm',
    version,
    adminKey,
    chunking: options.chunking,
    chunkBytes: options.chunkBytes ?? 4096,
    outDir: join(dir, `pkg-${options.name ?? 'mm'}-${version}-${options.seed ?? 1}`),
    clock: FIXED_CLOCK
  })
}
