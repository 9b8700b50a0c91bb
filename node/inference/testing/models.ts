/**
 * Models for the inference runtime's tests and benchmarks, built with the one ONNX builder
 * (node/models/testing/onnx-builder.ts). A different seed gives a "new version" whose outputs
 * differ a little.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import onnxProto from 'onnx-proto'
import { seededRandom } from '../../../core/random.js'
import { encodeModel, floatInitializer, seededWeights } from '../../models/testing/onnx-builder.js'
import type { InferenceModel } from '../runtime.js'
import type { BuiltModel } from '../../models/testing/onnx-builder.js'

const { onnx } = onnxProto

export type { BuiltModel }
export { seededRandom }

export interface LinearClassifierOptions {
  /** @default 8 */
  features?: number
  /** @default 4 */
  classes?: number
  /** Weight seed; another seed is another "version". @default 1 */
  seed?: number
  /** Added to every weight, to make a version that differs by a known amount. @default 0 */
  offset?: number
  /**
   * A broken version: `sqrt(x)` before the matmul, so any negative input feature gives NaN
   * outputs while the packer's sample input (zeros or ones) still passes the smoke test.
   * @default false
   */
  sqrtInput?: boolean
}

/** `logits = x·W + b`, `probs = softmax(logits)`; x is float32 [batch, features]. */
export function linearClassifier (options: LinearClassifierOptions = {}): BuiltModel {
  const features = options.features ?? 8
  const classes = options.classes ?? 4
  const seed = options.seed ?? 1
  const w = seededWeights(features * classes, seed, 1).map(v => v + (options.offset ?? 0))
  const b = seededWeights(classes, seed + 1000, 0.1)
  return encodeModel({
    name: 'linear',
    initializer: [floatInitializer('W', [features, classes], w), floatInitializer('B', [classes], b)],
    node: [
      ...(options.sqrtInput === true ? [{ opType: 'Sqrt', input: ['x'], output: ['sx'] }] : []),
      { opType: 'MatMul', input: [options.sqrtInput === true ? 'sx' : 'x', 'W'], output: ['xw'] },
      { opType: 'Add', input: ['xw', 'B'], output: ['logits'] },
      { opType: 'Softmax', input: ['logits'], output: ['probs'], attribute: [{ name: 'axis', type: onnx.AttributeProto.AttributeType.INT, i: -1 }] }
    ]
  }, [{ name: 'x', type: 'float32', shape: ['batch', features] }], [
    { name: 'logits', type: 'float32', shape: ['batch', classes] },
    { name: 'probs', type: 'float32', shape: ['batch', classes] }
  ])
}

export interface MatMulChainOptions {
  /** Width of the square weight matrix. @default 256 */
  size?: number
  /** How many MatMul+Tanh layers (all share one weight matrix, so the file stays small). @default 32 */
  depth?: number
  /** @default 7 */
  seed?: number
}

/**
 * A compute-heavy model with a small file: `depth` layers of `tanh(h·W)` over x float32
 * [batch, size]. Cost grows as batch × size² × depth, so tests and benchmarks pick how slow it is.
 */
export function matMulChain (options: MatMulChainOptions = {}): BuiltModel {
  const size = options.size ?? 256
  const depth = options.depth ?? 32
  const w = seededWeights(size * size, options.seed ?? 7, 1 / Math.sqrt(size))
  const node: onnxProto.onnx.INodeProto[] = []
  let h = 'x'
  for (let i = 0; i < depth; i++) {
    const last = i === depth - 1
    node.push({ opType: 'MatMul', input: [h, 'W'], output: [`m${i}`] })
    node.push({ opType: 'Tanh', input: [`m${i}`], output: [last ? 'y' : `h${i}`] })
    h = `h${i}`
  }
  return encodeModel({ name: 'chain', initializer: [floatInitializer('W', [size, size], w)], node },
    [{ name: 'x', type: 'float32', shape: ['batch', size] }],
    [{ name: 'y', type: 'float32', shape: ['batch', size] }])
}

/** `y = sqrt(x)` elementwise on float32 [batch, 4]: negative inputs give NaN outputs. */
export function sqrtModel (): BuiltModel {
  return encodeModel({ name: 'sqrt', node: [{ opType: 'Sqrt', input: ['x'], output: ['y'] }] },
    [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    [{ name: 'y', type: 'float32', shape: ['batch', 4] }])
}

/** `y = x` for one element type and shape: round-trips every datatype through the runtime. */
export function identityModel (type: string, shape: Array<number | string> = ['n']): BuiltModel {
  return encodeModel({ name: 'identity', node: [{ opType: 'Identity', input: ['x'], output: ['y'] }] },
    [{ name: 'x', type, shape }],
    [{ name: 'y', type, shape }])
}

/**
 * Writes a built model to `dir/<name>-<version>.onnx` and returns what the runtime takes: the
 * path plus the manifest fields it reads.
 */
export async function writeTestModel (dir: string, name: string, version: string, built: BuiltModel, memoryEstimateBytes = 16 * 1024 * 1024): Promise<InferenceModel> {
  const path = join(dir, `${name}-${version}.onnx`)
  await writeFile(path, built.bytes)
  return { name, version, path, inputs: built.inputs, outputs: built.outputs, memoryEstimateBytes }
}
