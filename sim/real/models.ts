/**
 * Real ONNX models for a scenario's versions, at the sizes and with the behaviours it names, packed
 * and signed with the fleet's admin key exactly as `tutti model pack` does. Every version is a
 * linear classifier over float32 [batch, 8] (what the traffic sends) padded to its size with an
 * initializer the graph does not use:
 *
 * - `good`: a version-seeded classifier;
 * - `nan`: `sqrt(x)` before the matmul, so the traffic's negative inputs give NaN (the packer's
 *   sample input, zeros, still passes) and a `nonFiniteRate` gate trips;
 * - `slow`: about 10^9 multiply-adds per inference (a chain of 1024-wide matmuls sharing one
 *   weight), a second or so on one core, so a `latencyP95` gate can trip;
 * - `failing`: not buildable as a real model that packs (the packer runs the sample input) yet
 *   fails on the device; refused with {@link UnsupportedBehaviourError}.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import { encodeModel, floatInitializer, seededWeights } from '../../node/models/testing/onnx-builder.js'
import { pack } from '../../node/models/pack.js'
import { TuttiError } from '../../core/errors.js'
import type { PrivateKey } from '@libp2p/interface'
import type { ModelBehaviour, ScenarioModel } from '../scenario.js'

const { onnx } = onnxProto

/** Input features of every scenario model (the traffic sends [1, FEATURES]). */
export const FEATURES = 8
const CLASSES = 4
/** Width and depth of the slow version's chain: 1024² × 1000 ≈ 10^9 multiply-adds. */
const SLOW_WIDTH = 1024
const SLOW_DEPTH = 1000

export class UnsupportedBehaviourError extends TuttiError {
  constructor (message: string) {
    super('ERR_SIM_UNSUPPORTED', message)
    this.name = 'UnsupportedBehaviourError'
  }
}

/** The ONNX bytes of one version: `behaviour`, padded to at least `sizeBytes`. */
export function buildVersionModel (behaviour: ModelBehaviour, sizeBytes: number, seed: number): Uint8Array {
  if (behaviour === 'failing') {
    throw new UnsupportedBehaviourError('behaviour "failing" has no real model in multihost mode: a model that passes `pack` (which runs its sample input) also loads on the device')
  }
  const w = seededWeights(FEATURES * CLASSES, seed, 1)
  const b = seededWeights(CLASSES, seed + 1000, 0.1)
  const initializer: onnxProto.onnx.ITensorProto[] = [floatInitializer('W', [FEATURES, CLASSES], w), floatInitializer('B', [CLASSES], b)]
  const node: onnxProto.onnx.INodeProto[] = []
  let h = 'x'
  if (behaviour === 'nan') {
    node.push({ opType: 'Sqrt', input: ['x'], output: ['sx'] })
    h = 'sx'
  }
  if (behaviour === 'slow') {
    // x·Win -> depth x tanh(h·Wc) -> ·Wout: a [1, 8] input, a [1, 8] result fed to the classifier.
    initializer.push(floatInitializer('Win', [FEATURES, SLOW_WIDTH], seededWeights(FEATURES * SLOW_WIDTH, seed + 1, 0.1)))
    initializer.push(floatInitializer('Wc', [SLOW_WIDTH, SLOW_WIDTH], seededWeights(SLOW_WIDTH * SLOW_WIDTH, seed + 2, 1 / Math.sqrt(SLOW_WIDTH))))
    initializer.push(floatInitializer('Wout', [SLOW_WIDTH, FEATURES], seededWeights(SLOW_WIDTH * FEATURES, seed + 3, 0.1)))
    node.push({ opType: 'MatMul', input: [h, 'Win'], output: ['c0'] })
    for (let i = 0; i < SLOW_DEPTH; i++) {
      node.push({ opType: 'MatMul', input: [`c${i}`, 'Wc'], output: [`m${i}`] })
      node.push({ opType: 'Tanh', input: [`m${i}`], output: [`c${i + 1}`] })
    }
    node.push({ opType: 'MatMul', input: [`c${SLOW_DEPTH}`, 'Wout'], output: ['slowOut'] })
    h = 'slowOut'
  }
  node.push({ opType: 'MatMul', input: [h, 'W'], output: ['xw'] })
  node.push({ opType: 'Add', input: ['xw', 'B'], output: ['logits'] })
  node.push({ opType: 'Softmax', input: ['logits'], output: ['probs'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] })
  const base = (): Uint8Array => encodeModel({ name: 'scenario', initializer, node }, [{ name: 'x', type: 'float32', shape: ['batch', FEATURES] }], [
    { name: 'logits', type: 'float32', shape: ['batch', CLASSES] },
    { name: 'probs', type: 'float32', shape: ['batch', CLASSES] }
  ]).bytes
  const without = base().byteLength
  if (without < sizeBytes) {
    // An initializer nothing reads: onnxruntime drops it at load, the file (and every transfer) keeps it.
    const floats = Math.ceil((sizeBytes - without) / 4)
    initializer.push(floatInitializer('padding', [floats], seededWeights(floats, seed + 7, 1)))
  }
  return base()
}

export interface PackedVersion {
  model: string
  version: string
  behaviour: ModelBehaviour
  /** The manifest CID (what a rollout pins). */
  cid: string
  /** The package directory (envelope, manifest, model). */
  dir: string
  sizeBytes: number
}

/** Builds and packs every version of every model under `dir`; signed by `adminKey`. */
export async function packScenarioModels (models: readonly ScenarioModel[], dir: string, adminKey: PrivateKey): Promise<PackedVersion[]> {
  const out: PackedVersion[] = []
  let seed = 1
  for (const m of models) {
    for (const v of m.versions) {
      const bytes = buildVersionModel(v.behaviour, v.sizeBytes, seed++)
      const base = join(dir, `${m.name}-${v.version}`)
      await mkdir(base, { recursive: true })
      const file = join(base, 'source.onnx')
      await writeFile(file, bytes)
      const packed = await pack(file, { name: m.name, version: v.version, adminKey, outDir: join(base, 'package'), force: true })
      out.push({ model: m.name, version: v.version, behaviour: v.behaviour, cid: packed.cid, dir: packed.dir, sizeBytes: bytes.byteLength })
    }
  }
  return out
}
