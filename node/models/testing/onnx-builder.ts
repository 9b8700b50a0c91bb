/**
 * Tiny ONNX models built in code (onnx-proto), for tests and benchmarks: no file to download, any
 * size on demand. Every builder returns the serialized ModelProto bytes.
 */
import onnxProto from 'onnx-proto'

const { onnx } = onnxProto

/** Opset the builders stamp by default: old enough for any onnxruntime Tutti supports. */
export const BUILDER_DEFAULT_OPSET = 13
const IR_VERSION = 7
const FLOAT = 1

type Dim = number | string

function tensorValueInfo (name: string, dims: Dim[]): onnxProto.onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: FLOAT,
        shape: { dim: dims.map(d => typeof d === 'number' ? { dimValue: d } : { dimParam: d }) }
      }
    }
  }
}

function modelBytes (graph: onnxProto.onnx.IGraphProto, opset: number, irVersion: number): Uint8Array {
  return onnx.ModelProto.encode({
    irVersion,
    producerName: 'tutti-onnx-builder',
    opsetImport: [{ domain: '', version: opset }],
    graph
  }).finish()
}

export interface AddModelOptions {
  /** @default BUILDER_DEFAULT_OPSET */
  opset?: number
  /** Shape of both inputs and the output. @default ['batch', 4] */
  dims?: Dim[]
  /** @default 7 */
  irVersion?: number
}

/** `sum = a + b` on float32 tensors: inputs `a`, `b`, output `sum`. A few hundred bytes. */
export function buildAddModel (options: AddModelOptions = {}): Uint8Array {
  const dims = options.dims ?? ['batch', 4]
  return modelBytes({
    name: 'add',
    node: [{ opType: 'Add', input: ['a', 'b'], output: ['sum'], name: 'add0' }],
    input: [tensorValueInfo('a', dims), tensorValueInfo('b', dims)],
    output: [tensorValueInfo('sum', dims)]
  }, options.opset ?? BUILDER_DEFAULT_OPSET, options.irVersion ?? IR_VERSION)
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
 * `y = x · W` with a float32 weight initializer W of chosen size, filled with seeded pseudo-random
 * small values (so fixed-size chunks of the file all differ). Input `x` ['batch', inputSize],
 * output `y` ['batch', outputSize]. A 50 MB model builds in well under a second.
 */
export function buildMatMulModel (options: MatMulModelOptions = {}): Uint8Array {
  const inputSize = options.inputSize ?? 64
  const outputSize = options.weightsBytes != null
    ? Math.max(1, Math.floor(options.weightsBytes / (4 * inputSize)))
    : options.outputSize ?? 16
  const weights = seededWeights(inputSize * outputSize, options.seed ?? 1)
  return modelBytes({
    name: 'matmul',
    node: [{ opType: 'MatMul', input: ['x', 'W'], output: ['y'], name: 'matmul0' }],
    initializer: [{
      name: 'W',
      dataType: FLOAT,
      dims: [inputSize, outputSize],
      rawData: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength)
    }],
    input: [tensorValueInfo('x', ['batch', inputSize])],
    output: [tensorValueInfo('y', ['batch', outputSize])]
  }, options.opset ?? BUILDER_DEFAULT_OPSET, IR_VERSION)
}

/** Values in [-0.05, 0.05) from xorshift32: deterministic, fast, never NaN. */
function seededWeights (count: number, seed: number): Float32Array {
  const out = new Float32Array(count)
  let s = (seed | 0) === 0 ? 0x9e3779b9 : seed | 0
  for (let i = 0; i < count; i++) {
    s ^= s << 13
    s ^= s >>> 17
    s ^= s << 5
    out[i] = ((s >>> 0) / 4294967296 - 0.5) * 0.1
  }
  return out
}
