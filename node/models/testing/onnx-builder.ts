/**
 * Tiny ONNX models built in code (onnx-proto), for tests, benchmarks and the demo: no file to
 * download, any size on demand. Weights come from a seeded generator, so two builds with the same
 * seed are byte-identical. {@link encodeModel} is the one builder; the catalog of models on top of
 * it lives here (package-sized models) and in node/inference/testing/models.ts (runtime models).
 */
import onnxProto from 'onnx-proto'
import { seededRandom } from '../../../core/random.js'
import type { TensorSpec } from '../types.js'

const { onnx } = onnxProto
const DT = onnx.TensorProto.DataType

/** Opset the builders stamp by default: old enough for any onnxruntime Tutti supports. */
export const BUILDER_DEFAULT_OPSET = 13
const IR_VERSION = 7

/** ONNX element type numbers by onnxruntime's type name. */
const ELEMENT_TYPES: Record<string, number> = {
  float32: DT.FLOAT,
  uint8: DT.UINT8,
  int8: DT.INT8,
  uint16: DT.UINT16,
  int16: DT.INT16,
  int32: DT.INT32,
  int64: DT.INT64,
  string: DT.STRING,
  bool: DT.BOOL,
  float64: DT.DOUBLE,
  uint32: DT.UINT32,
  uint64: DT.UINT64
}

/** A built model: its bytes and the input/output description a manifest would carry. */
export interface BuiltModel {
  bytes: Uint8Array
  inputs: TensorSpec[]
  outputs: TensorSpec[]
}

export type GraphInit = Omit<onnxProto.onnx.IGraphProto, 'input' | 'output'>

export interface EncodeOptions {
  /** @default BUILDER_DEFAULT_OPSET */
  opset?: number
  /** @default 7 */
  irVersion?: number
}

function valueInfo (spec: TensorSpec): onnxProto.onnx.IValueInfoProto {
  const elemType = ELEMENT_TYPES[spec.type]
  if (elemType === undefined) throw new Error(`unsupported element type ${spec.type}`)
  return {
    name: spec.name,
    type: { tensorType: { elemType, shape: { dim: spec.shape.map(d => typeof d === 'string' ? { dimParam: d } : { dimValue: d }) } } }
  }
}

/** A float32 initializer (a weight tensor) named `name`. */
export function floatInitializer (name: string, dims: number[], values: Float32Array): onnxProto.onnx.ITensorProto {
  return { name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(values.buffer, values.byteOffset, values.byteLength) }
}

/** `count` weights uniform in [-scale, scale) from a seeded generator. */
export function seededWeights (count: number, seed: number, scale: number): Float32Array {
  const random = seededRandom(seed)
  const values = new Float32Array(count)
  for (let i = 0; i < count; i++) values[i] = (random() * 2 - 1) * scale
  return values
}

/** Serializes a graph with its inputs and outputs as an ONNX ModelProto. */
export function encodeModel (graph: GraphInit, inputs: TensorSpec[], outputs: TensorSpec[], options: EncodeOptions = {}): BuiltModel {
  const bytes = onnx.ModelProto.encode({
    irVersion: options.irVersion ?? IR_VERSION,
    producerName: 'tutti-onnx-builder',
    opsetImport: [{ domain: '', version: options.opset ?? BUILDER_DEFAULT_OPSET }],
    graph: { ...graph, input: inputs.map(valueInfo), output: outputs.map(valueInfo) }
  }).finish()
  return { bytes, inputs, outputs }
}

type Dim = number | string

export interface AddModelOptions extends EncodeOptions {
  /** Shape of both inputs and the output. @default ['batch', 4] */
  dims?: Dim[]
}

/** `sum = a + b` on float32 tensors: inputs `a`, `b`, output `sum`. A few hundred bytes. */
export function buildAddModel (options: AddModelOptions = {}): Uint8Array {
  const shape = options.dims ?? ['batch', 4]
  const t = (name: string): TensorSpec => ({ name, type: 'float32', shape })
  return encodeModel({ name: 'add', node: [{ opType: 'Add', input: ['a', 'b'], output: ['sum'], name: 'add0' }] }, [t('a'), t('b')], [t('sum')], options).bytes
}

export interface MatMulModelOptions {
  /** Width of the input `x` (float32 ['batch', inputSize]). @default 64 */
  inputSize?: number
  /** Width of the output `y`. Ignored when `weightsBytes` is given. @default 16 */
  outputSize?: number
  /**
   * Approximate size of the weights in bytes: sets `outputSize` to `floor(weightsBytes / (4 * inputSize))`
   * (at least 1). The file is this plus a few hundred bytes.
   */
  weightsBytes?: number
  /** Seed of the pseudo-random weights, so two builds with the same seed are byte-identical. @default 1 */
  seed?: number
  /** @default BUILDER_DEFAULT_OPSET */
  opset?: number
}

/**
 * `y = x · W` with a float32 weight initializer W of chosen size, filled with seeded small values
 * in [-0.05, 0.05) (so fixed-size chunks of the file all differ). Input `x` ['batch', inputSize],
 * output `y` ['batch', outputSize]. A 50 MB model builds in well under a second.
 */
export function buildMatMulModel (options: MatMulModelOptions = {}): Uint8Array {
  const inputSize = options.inputSize ?? 64
  const outputSize = options.weightsBytes != null
    ? Math.max(1, Math.floor(options.weightsBytes / (4 * inputSize)))
    : options.outputSize ?? 16
  const weights = seededWeights(inputSize * outputSize, options.seed ?? 1, 0.05)
  return encodeModel({
    name: 'matmul',
    node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'], name: 'matmul0' }],
    initializer: [floatInitializer('W', [inputSize, outputSize], weights)]
  }, [{ name: 'x', type: 'float32', shape: ['batch', inputSize] }], [{ name: 'y', type: 'float32', shape: ['batch', outputSize] }], { opset: options.opset }).bytes
}

export interface MlpModelOptions {
  /** Width of every layer (input, hidden and output): each layer is `x · W + b` then Relu (none after the last). @default 256 */
  width?: number
  /** Number of layers. @default 8 */
  layers?: number
  /** Seed of each layer's weights, by layer index: a retrained layer is one with a new seed. @default layer => layer + 1 */
  seedOf?: (layer: number) => number
  /**
   * Prefix of every node's name. The nodes are serialized before the initializers, so a new
   * prefix (a re-export that names nodes differently) shifts every weight byte. @default ''
   */
  nodePrefix?: string
}

/** A built multi-layer model and where each weight tensor's bytes are. */
export interface MlpModel extends BuiltModel {
  /** Per layer, the bytes of its W and b (what a retrained layer changes). */
  layerBytes: number[]
}

/**
 * A multi-layer perceptron: float32 input `x` ['batch', width], `layers` dense layers of seeded
 * weights (W [width, width], b [width]), output `y` ['batch', width]. The initializers are
 * serialized in layer order, so a v2 that retrains the last layers (new seeds there) changes
 * the tail of the file and keeps the head byte for byte. 8 layers of width 256 are 2.0 MiB.
 */
export function buildMlpModel (options: MlpModelOptions = {}): MlpModel {
  const width = options.width ?? 256
  const layers = options.layers ?? 8
  const seedOf = options.seedOf ?? (l => l + 1)
  const node: onnxProto.onnx.INodeProto[] = []
  const initializer: onnxProto.onnx.ITensorProto[] = []
  const layerBytes: number[] = []
  const p = options.nodePrefix ?? ''
  let input = 'x'
  for (let l = 0; l < layers; l++) {
    const w = seededWeights(width * width, seedOf(l) * 7919, 1 / Math.sqrt(width))
    const b = seededWeights(width, seedOf(l) * 7919 + 1, 0.01)
    initializer.push(floatInitializer(`W${l}`, [width, width], w), floatInitializer(`b${l}`, [width], b))
    layerBytes.push(w.byteLength + b.byteLength)
    const last = l === layers - 1
    node.push({ opType: 'MatMul', input: [input, `W${l}`], output: [`m${l}`], name: `${p}matmul${l}` })
    node.push({ opType: 'Add', input: [`m${l}`, `b${l}`], output: [last ? 'y' : `a${l}`], name: `${p}add${l}` })
    if (!last) node.push({ opType: 'Relu', input: [`a${l}`], output: [`h${l}`], name: `${p}relu${l}` })
    input = `h${l}`
  }
  const built = encodeModel({ name: 'mlp', node, initializer },
    [{ name: 'x', type: 'float32', shape: ['batch', width] }], [{ name: 'y', type: 'float32', shape: ['batch', width] }])
  return { ...built, layerBytes }
}
