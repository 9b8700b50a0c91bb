/**
 * Sample inputs: KServe v2 JSON tensors generated from a model's input specs and checked against
 * them. A sample input is what a node runs to smoke-test a model it has just assembled, so `pack`
 * only records one it has seen run. No onnxruntime here (see ort-feeds.ts): the manifest code that
 * the chunk protocol and the simulator load must not pull in the native runtime.
 */
import { MAX_SAMPLE_ELEMENTS } from './constants.js'
import type { ModelManifest, TensorSpec } from './types.js'

export type SampleInput = ModelManifest['sampleInput']
export type SampleTensor = SampleInput[string]

/** onnxruntime element type -> KServe v2 datatype, and bytes per element. */
export const TENSOR_TYPES: Readonly<Record<string, { datatype: string, bytes: number }>> = {
  float32: { datatype: 'FP32', bytes: 4 },
  float64: { datatype: 'FP64', bytes: 8 },
  float16: { datatype: 'FP16', bytes: 2 },
  int8: { datatype: 'INT8', bytes: 1 },
  int16: { datatype: 'INT16', bytes: 2 },
  int32: { datatype: 'INT32', bytes: 4 },
  int64: { datatype: 'INT64', bytes: 8 },
  uint8: { datatype: 'UINT8', bytes: 1 },
  uint16: { datatype: 'UINT16', bytes: 2 },
  uint32: { datatype: 'UINT32', bytes: 4 },
  uint64: { datatype: 'UINT64', bytes: 8 },
  bool: { datatype: 'BOOL', bytes: 1 },
  string: { datatype: 'BYTES', bytes: 16 }
}

export const DATATYPE_TO_TYPE: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries(TENSOR_TYPES).map(([type, t]) => [t.datatype, type])
)

/** KServe v2 datatypes a sample input may use. */
export const SAMPLE_DATATYPES: readonly string[] = Object.keys(DATATYPE_TO_TYPE)

/** Symbolic dimension names taken for the batch: always 1 in generated samples. */
const BATCH_DIM_RE = /^(batch|batch_size|batchsize|bs|n|N|b|B)$|batch/i

/**
 * Sizes tried, in order, for non-batch symbolic dimensions: 1 first, then larger, for models that
 * need a minimum length (Silero VAD needs at least 256 samples).
 */
export const SYMBOLIC_DIM_LADDER = [1, 16, 256, 1024] as const

/** Fill values tried, in order. Zeros first; ones for models that divide or take logs. */
const FILL_LADDER = [0, 1] as const

function elementCount (shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1)
}

/** Concrete shape for a spec: fixed dims kept, symbolic/unknown ones from hints, batch dims 1, others `size`. */
export function concreteShape (spec: TensorSpec, size: number, dimHints: Record<string, number> = {}): number[] {
  return spec.shape.map(d => {
    if (typeof d === 'number' && d >= 0) return d
    if (typeof d === 'string' && d !== '') {
      const hint = dimHints[d]
      if (hint != null) return hint
      return BATCH_DIM_RE.test(d) ? 1 : size
    }
    return size
  })
}

function fillData (type: string, count: number, fill: number): number[] | string[] | boolean[] {
  if (type === 'string') return new Array<string>(count).fill(fill === 0 ? '' : 'a')
  if (type === 'bool') return new Array<boolean>(count).fill(fill !== 0)
  return new Array<number>(count).fill(fill)
}

/** One sample input for all `inputs`, or undefined if it would exceed {@link MAX_SAMPLE_ELEMENTS}. */
export function generateSampleInput (inputs: TensorSpec[], size: number, fill: number, dimHints: Record<string, number> = {}): SampleInput | undefined {
  const sample: SampleInput = {}
  let total = 0
  for (const spec of inputs) {
    const t = TENSOR_TYPES[spec.type]
    if (t == null) return undefined
    const shape = concreteShape(spec, size, dimHints)
    const count = elementCount(shape)
    total += count
    if (total > MAX_SAMPLE_ELEMENTS) return undefined
    sample[spec.name] = { datatype: t.datatype, shape, data: fillData(spec.type, count, fill) }
  }
  return sample
}

/**
 * The candidates `pack` tries, in order, until one runs: each size of the ladder, each fill value.
 * Duplicates (a model without symbolic dims) are dropped.
 */
export function sampleCandidates (inputs: TensorSpec[], dimHints: Record<string, number> = {}): SampleInput[] {
  const seen = new Set<string>()
  const out: SampleInput[] = []
  for (const size of SYMBOLIC_DIM_LADDER) {
    for (const fill of FILL_LADDER) {
      const sample = generateSampleInput(inputs, size, fill, dimHints)
      if (sample == null) continue
      const key = JSON.stringify(Object.values(sample).map(t => [t.shape, t.data[0]]))
      if (seen.has(key)) continue
      seen.add(key)
      out.push(sample)
    }
  }
  return out
}

/** Why a sample tensor is malformed for `spec`, or undefined when it fits. */
export function checkSampleTensor (spec: TensorSpec, t: unknown): string | undefined {
  if (typeof t !== 'object' || t == null) return `${spec.name}: not a tensor`
  const { datatype, shape, data } = t as Record<string, unknown>
  const type = TENSOR_TYPES[spec.type]
  if (type == null) return `${spec.name}: unsupported element type ${spec.type}`
  if (datatype !== type.datatype) return `${spec.name}: datatype ${String(datatype)}, the model wants ${type.datatype}`
  if (!Array.isArray(shape) || shape.length !== spec.shape.length) return `${spec.name}: shape must have ${spec.shape.length} dimension(s)`
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as unknown
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return `${spec.name}: shape[${i}] is not a size`
    const want = spec.shape[i]
    if (typeof want === 'number' && want >= 0 && want !== d) return `${spec.name}: shape[${i}] is ${d}, the model fixes it to ${want}`
  }
  const count = elementCount(shape as number[])
  if (count > MAX_SAMPLE_ELEMENTS) return `${spec.name}: ${count} elements, at most ${MAX_SAMPLE_ELEMENTS}`
  if (!Array.isArray(data) || data.length !== count) return `${spec.name}: data must hold ${count} element(s)`
  const kind = spec.type === 'string' ? 'string' : spec.type === 'bool' ? 'boolean' : 'number'
  for (const v of data as unknown[]) {
    if (typeof v !== kind || (kind === 'number' && !Number.isFinite(v))) return `${spec.name}: data must be ${kind}s`
    if (kind === 'number' && !spec.type.startsWith('float') && !Number.isSafeInteger(v)) return `${spec.name}: data must be integers`
  }
  return undefined
}

/** Total elements of a sample input. */
export function sampleElements (sample: SampleInput): number {
  return Object.values(sample).reduce((n, t) => n + elementCount(t.shape), 0)
}

/** Bytes the sample's tensors occupy in memory. */
export function sampleBytes (sample: SampleInput): number {
  return Object.values(sample).reduce((n, t) => {
    const type = DATATYPE_TO_TYPE[t.datatype]
    return n + elementCount(t.shape) * (type == null ? 8 : TENSOR_TYPES[type]!.bytes)
  }, 0)
}
