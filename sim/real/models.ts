/**
 * Real model packages for a scenario's versions, for the real-node modes: an ONNX file of the
 * version's size and behaviour built with the one ONNX builder (node/models/testing/onnx-builder.ts),
 * packed and signed with the fleet's admin key exactly as `tutti model pack` does.
 *
 * - `good`: `y = x . W` (x float32 [batch, 64]); W fills the file to the version's size.
 * - `nan`: `y = sqrt(x) . W`: any negative input feature gives NaN, while the packer's sample
 *   (zeros) passes the smoke test, so only traffic reveals it (the nonFiniteRate gate).
 * - `slow`: `good` followed by a chain of 48 [256 x 256] MatMul + Tanh layers: real compute, so
 *   its latency percentiles are well above `good`'s (how far depends on the machine).
 * - `failing`: `y = (x / x) . W`. It loads and runs, so `pack` (which loads every model it packs
 *   and runs a sample of zeros, without judging the outputs) packs it; but 0 / 0 makes the
 *   sample's outputs NaN, so every device fails it at its smoke test, the last step of loading
 *   (`Failed: ... failed its sample input: an output holds NaN or infinity`) and never reaches
 *   Active, as with the DES's `failing` version (which fails one step earlier, at load). A model
 *   that does not load at all could not be packed.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import { encodeModel, floatInitializer, seededWeights } from '../../node/models/testing/onnx-builder.js'
import { pack } from '../../node/models/pack.js'
import type { ModelBehaviour, ScenarioModel } from '../scenario.js'
import type { PrivateKey } from '@libp2p/interface'

/** Input width of every simulated model. */
export const SIM_MODEL_FEATURES = 64

type Node = onnxProto.onnx.INodeProto

/** The ONNX bytes of one version: about `sizeBytes`, behaving as `behaviour`. */
export function buildSimModel (sizeBytes: number, behaviour: ModelBehaviour, seed: number): Uint8Array {
  const inputSize = SIM_MODEL_FEATURES
  const outputSize = Math.max(1, Math.floor(sizeBytes / (4 * inputSize)))
  const initializer = [floatInitializer('W', [inputSize, outputSize], seededWeights(inputSize * outputSize, seed, 0.05))]
  const node: Node[] = []
  let x = 'x'
  if (behaviour === 'nan') {
    node.push({ opType: 'Sqrt', input: ['x'], output: ['sx'] })
    x = 'sx'
  }
  if (behaviour === 'failing') {
    node.push({ opType: 'Div', input: ['x', 'x'], output: ['ones'] })
    x = 'ones'
  }
  if (behaviour === 'slow') {
    const width = 256
    initializer.push(floatInitializer('H', [width, width], seededWeights(width * width, seed + 1, 1 / Math.sqrt(width))))
    initializer.push(floatInitializer('P', [inputSize, width], seededWeights(inputSize * width, seed + 2, 0.1)))
    node.push({ opType: 'MatMul', input: [x, 'P'], output: ['h0'] })
    let h = 'h0'
    for (let k = 0; k < 48; k++) {
      node.push({ opType: 'MatMul', input: [h, 'H'], output: [`m${k}`] }, { opType: 'Tanh', input: [`m${k}`], output: [`h${k + 1}`] })
      h = `h${k + 1}`
    }
    node.push({ opType: 'ReduceMean', input: [h], output: ['r'], attribute: [{ name: 'axes', type: onnxProto.onnx.AttributeProto.AttributeType.INTS, ints: [1] }, { name: 'keepdims', type: onnxProto.onnx.AttributeProto.AttributeType.INT, i: 1 }] })
    node.push({ opType: 'MatMul', input: [x, 'W'], output: ['y0'] }, { opType: 'Add', input: ['y0', 'r'], output: ['y'] })
  } else {
    node.push({ opType: 'MatMul', input: [x, 'W'], output: ['y'] })
  }
  return encodeModel({ name: `sim-${behaviour}`, node, initializer },
    [{ name: 'x', type: 'float32', shape: ['batch', inputSize] }],
    [{ name: 'y', type: 'float32', shape: ['batch', outputSize] }]).bytes
}

/** One packed version: its package directory and manifest CID. */
export interface PackedVersion {
  model: string
  version: string
  dir: string
  cid: string
}

/** Builds and packs every version of every model under `dir`. */
export async function packScenarioModels (models: ScenarioModel[], adminKey: PrivateKey, dir: string): Promise<PackedVersion[]> {
  await mkdir(dir, { recursive: true })
  const out: PackedVersion[] = []
  let seed = 1
  for (const m of models) {
    for (const v of m.versions) {
      const file = join(dir, `${m.name}-${v.version}.onnx`)
      await writeFile(file, buildSimModel(v.sizeBytes, v.behaviour, seed++))
      const result = await pack(file, { name: m.name, version: v.version, adminKey, outDir: join(dir, `${m.name}-${v.version}`) })
      out.push({ model: m.name, version: v.version, dir: result.dir, cid: result.cid })
    }
  }
  return out
}

/** An inference request for a simulated model: features uniform in [-1, 1) (negatives make `nan` answer NaN). */
export function simRequest (random: () => number): Array<{ name: string, datatype: string, shape: number[], data: number[] }> {
  return [{ name: 'x', datatype: 'FP32', shape: [1, SIM_MODEL_FEATURES], data: Array.from({ length: SIM_MODEL_FEATURES }, () => random() * 2 - 1) }]
}
