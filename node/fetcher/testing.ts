/**
 * Test and benchmark fixtures for model distribution: a model of any size from seeded bytes, sealed
 * by a fleet admin, and stores that hold it. The bytes are opaque to distribution, so they need
 * not be a real ONNX file.
 */
import { rawCid } from '../../core/cid.js'
import { DEFAULT_CHUNK_BYTES } from '../models/constants.js'
import { openEnvelope, sealManifest } from '../models/manifest.js'
import { MemoryChunkStore } from '../models/memory-chunk-store.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { SealedManifest } from '../models/manifest.js'
import type { ModelManifest } from '../models/types.js'
import type { PrivateKey } from '@libp2p/interface'

export interface TestModel {
  sealed: SealedManifest
  bytes: Uint8Array
  chunks: Array<{ cid: string, bytes: Uint8Array }>
}

export interface TestModelOptions {
  /** @default DEFAULT_CHUNK_BYTES */
  chunkBytes?: number
  /** @default 'test-model' */
  name?: string
  /** @default '1.0.0' */
  version?: string
}

/** Deterministic pseudo-random bytes (xorshift32), fast enough for 50 MB. */
export function seededBytes (length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  const words = new Uint32Array(out.buffer, 0, Math.floor(length / 4))
  let x = (seed >>> 0) || 0x9e3779b9
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words[i] = x
  }
  for (let i = words.length * 4; i < length; i++) out[i] = (seed + i) & 0xff
  return out
}

/** A manifest over `bytes`, signed by `adminKey`. */
export async function makeTestModel (bytes: Uint8Array, adminKey: PrivateKey, options: TestModelOptions = {}): Promise<TestModel> {
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
  const chunks: TestModel['chunks'] = []
  for (let offset = 0; offset < bytes.byteLength; offset += chunkBytes) {
    const part = bytes.subarray(offset, offset + chunkBytes)
    chunks.push({ cid: rawCid(part), bytes: part })
  }
  const manifest: ModelManifest = {
    kind: 'TuttiModel',
    schema: 1,
    name: options.name ?? 'test-model',
    version: options.version ?? '1.0.0',
    labels: {},
    size: bytes.byteLength,
    chunkBytes,
    chunks: chunks.map(c => c.cid),
    digest: rawCid(bytes),
    opset: 13,
    inputs: [{ name: 'x', type: 'float32', shape: [1, 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: [1, 4] }],
    sampleInput: { x: { datatype: 'FP32', shape: [1, 4], data: [0, 1, 2, 3] } },
    memoryEstimateBytes: bytes.byteLength * 2,
    createdAt: '2025-01-01T00:00:00.000Z'
  }
  return { sealed: await sealManifest(manifest, adminKey), bytes, chunks }
}

/** An empty in-memory store that accepts manifests signed by `fleet`'s admins. */
export function fleetMemoryStore (fleet: FleetConfig): MemoryChunkStore {
  return new MemoryChunkStore({ verify: async (envelope, options) => await openEnvelope(envelope, fleet, options) })
}

/** Puts the manifest and the chunks at `indexes` (default: all) into `store`. */
export async function seedStore (store: MemoryChunkStore, model: TestModel, indexes?: Iterable<number>): Promise<void> {
  await store.putManifest(model.sealed.envelope)
  const which = indexes == null ? model.chunks.keys() : indexes
  for (const i of which) await store.putChunk(model.chunks[i]!.cid, model.chunks[i]!.bytes)
}
