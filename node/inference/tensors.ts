/**
 * Tensors as the runtime passes them around (typed arrays, the shape onnxruntime uses), their
 * Open Inference Protocol JSON form, and the checks a request must pass before it reaches a
 * session. Pure: nothing here touches onnxruntime or the network.
 */
import { InferenceError, InferenceErrorCode } from './errors.js'
import type { TensorSpec } from '../models/types.js'

/** Element types the runtime accepts, as onnxruntime names them. */
export type TensorType =
  | 'float32' | 'float64' | 'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32'
  | 'int64' | 'uint64' | 'bool' | 'string'

export type TensorData =
  | Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array
  | Uint32Array | BigInt64Array | BigUint64Array | string[]

/** A tensor: element type, dimensions, row-major data. An `ort.Tensor` fits this shape too. */
export interface Tensor {
  type: TensorType
  dims: readonly number[]
  data: TensorData
}

export type TensorMap = Record<string, Tensor>

interface TypeInfo {
  oip: string
  make: (n: number) => TensorData
  integer?: { min: number, max: number }
  big?: 'signed' | 'unsigned'
}

const TYPES: Record<TensorType, TypeInfo> = {
  float32: { oip: 'FP32', make: n => new Float32Array(n) },
  float64: { oip: 'FP64', make: n => new Float64Array(n) },
  int8: { oip: 'INT8', make: n => new Int8Array(n), integer: { min: -128, max: 127 } },
  uint8: { oip: 'UINT8', make: n => new Uint8Array(n), integer: { min: 0, max: 255 } },
  int16: { oip: 'INT16', make: n => new Int16Array(n), integer: { min: -32768, max: 32767 } },
  uint16: { oip: 'UINT16', make: n => new Uint16Array(n), integer: { min: 0, max: 65535 } },
  int32: { oip: 'INT32', make: n => new Int32Array(n), integer: { min: -(2 ** 31), max: 2 ** 31 - 1 } },
  uint32: { oip: 'UINT32', make: n => new Uint32Array(n), integer: { min: 0, max: 2 ** 32 - 1 } },
  int64: { oip: 'INT64', make: n => new BigInt64Array(n), integer: { min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }, big: 'signed' },
  uint64: { oip: 'UINT64', make: n => new BigUint64Array(n), integer: { min: 0, max: Number.MAX_SAFE_INTEGER }, big: 'unsigned' },
  bool: { oip: 'BOOL', make: n => new Uint8Array(n) },
  string: { oip: 'BYTES', make: n => new Array<string>(n).fill('') }
}

const FROM_OIP: Record<string, TensorType> = Object.fromEntries(
  Object.entries(TYPES).map(([type, info]) => [info.oip, type as TensorType])
)

/** Most dimensions a request tensor may have. */
export const MAX_RANK = 16
/** Most elements one request tensor may hold (a 16 MiB body cannot carry more anyway). */
export const MAX_ELEMENTS = 64 * 1024 * 1024

function invalid (message: string): InferenceError {
  return new InferenceError(InferenceErrorCode.InvalidInput, message)
}

export function isTensorType (type: string): type is TensorType {
  return Object.hasOwn(TYPES, type)
}

/** The OIP datatype name for an onnxruntime element type (`float32` -> `FP32`); unknown types upper-cased. */
export function oipDatatype (type: string): string {
  if (type === 'float16') return 'FP16'
  return isTensorType(type) ? TYPES[type].oip : type.toUpperCase()
}

/** The onnxruntime element type for an OIP datatype, or undefined when the runtime cannot take it. */
export function tensorTypeFromOip (datatype: string): TensorType | undefined {
  return Object.hasOwn(FROM_OIP, datatype) ? FROM_OIP[datatype] : undefined
}

/** OIP metadata shape: fixed dimensions as numbers, symbolic or unknown ones as -1. */
export function oipShape (shape: Array<number | string>): number[] {
  return shape.map(d => typeof d === 'number' && d >= 0 ? d : -1)
}

export function elementCount (dims: readonly number[]): number {
  let n = 1
  for (const d of dims) n *= d
  return n
}

function checkDims (dims: unknown, what: string): number[] {
  if (!Array.isArray(dims)) throw invalid(`${what}: shape must be an array of non-negative integers`)
  if (dims.length > MAX_RANK) throw invalid(`${what}: shape has ${dims.length} dimensions, more than ${MAX_RANK}`)
  for (const d of dims) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) throw invalid(`${what}: shape must be an array of non-negative integers`)
  }
  const n = elementCount(dims as number[])
  if (n > MAX_ELEMENTS) throw invalid(`${what}: shape ${JSON.stringify(dims)} holds more than ${MAX_ELEMENTS} elements`)
  return dims as number[]
}

/** Flattens flat or nested JSON data (row-major), refusing nesting deeper than the shape allows. */
function flatten (data: unknown, rank: number, what: string): unknown[] {
  if (!Array.isArray(data)) return [data]
  const out: unknown[] = []
  const walk = (v: unknown[], depth: number): void => {
    if (depth > Math.max(1, rank)) throw invalid(`${what}: data is nested deeper than its shape`)
    for (const x of v) {
      if (Array.isArray(x)) walk(x, depth + 1)
      else out.push(x)
    }
  }
  walk(data, 1)
  return out
}

function fill (type: TensorType, values: unknown[], what: string): TensorData {
  const info = TYPES[type]
  const data = info.make(values.length)
  if (type === 'string') {
    const strings = data as string[]
    values.forEach((v, i) => {
      if (typeof v !== 'string') throw invalid(`${what}: BYTES data must be strings (element ${i})`)
      strings[i] = v
    })
    return data
  }
  if (type === 'bool') {
    const bytes = data as Uint8Array
    values.forEach((v, i) => {
      if (typeof v === 'boolean') bytes[i] = v ? 1 : 0
      else if (v === 0 || v === 1) bytes[i] = v
      else throw invalid(`${what}: BOOL data must be true/false (element ${i})`)
    })
    return data
  }
  const limits = info.integer
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    if (typeof v !== 'number' || !Number.isFinite(v)) throw invalid(`${what}: ${info.oip} data must be finite numbers (element ${i})`)
    // A float32 cannot hold it: Float32Array would store Infinity without a word.
    if (type === 'float32' && !Number.isFinite(Math.fround(v))) throw invalid(`${what}: FP32 element ${i} (${v}) is out of the float32 range`)
    if (limits != null && (!Number.isInteger(v) || v < limits.min || v > limits.max)) {
      throw invalid(`${what}: ${info.oip} element ${i} (${v}) is not an integer in [${limits.min}, ${limits.max}]`)
    }
    if (info.big != null) (data as BigInt64Array | BigUint64Array)[i] = BigInt(v)
    else (data as Float32Array)[i] = v
  }
  return data
}

/** A tensor from an OIP request input (`{ name, shape, datatype, data }`). Throws ERR_INVALID_INPUT. */
export function tensorFromOip (input: unknown, index: number): { name: string, tensor: Tensor } {
  if (typeof input !== 'object' || input == null || Array.isArray(input)) throw invalid(`inputs[${index}] must be an object`)
  const { name, shape, datatype, data } = input as Record<string, unknown>
  if (typeof name !== 'string' || name.length === 0 || name.length > 256) throw invalid(`inputs[${index}].name must be a non-empty string`)
  const what = `input "${name}"`
  if (typeof datatype !== 'string') throw invalid(`${what}: datatype must be a string such as "FP32"`)
  const type = tensorTypeFromOip(datatype)
  if (type === undefined) throw invalid(`${what}: datatype "${datatype.slice(0, 32)}" is not supported (use one of ${Object.keys(FROM_OIP).join(', ')})`)
  const dims = checkDims(shape, what)
  if (data === undefined) throw invalid(`${what}: data is missing`)
  const values = flatten(data, dims.length, what)
  const expected = elementCount(dims)
  if (values.length !== expected) throw invalid(`${what}: shape ${JSON.stringify(dims)} needs ${expected} elements, data has ${values.length}`)
  return { name, tensor: { type, dims, data: fill(type, values, what) } }
}

/** JSON numbers/strings/booleans for a tensor's data (int64 as numbers; NaN and ±Inf become null in JSON). */
export function oipData (tensor: Tensor): Array<number | string | boolean> {
  const d = tensor.data
  if (tensor.type === 'bool') return Array.from(d as Uint8Array, v => v !== 0)
  if (Array.isArray(d)) return d
  if (d instanceof BigInt64Array || d instanceof BigUint64Array) return Array.from(d, v => Number(v))
  return Array.from(d as Float32Array)
}

/** An OIP response output (`{ name, shape, datatype, data }`, data flat). */
export function tensorToOip (name: string, tensor: Tensor): { name: string, shape: number[], datatype: string, data: Array<number | string | boolean> } {
  return { name, shape: [...tensor.dims], datatype: oipDatatype(tensor.type), data: oipData(tensor) }
}

function dataMatches (tensor: Tensor): boolean {
  const d = tensor.data
  switch (tensor.type) {
    case 'float32': return d instanceof Float32Array
    case 'float64': return d instanceof Float64Array
    case 'int8': return d instanceof Int8Array
    case 'uint8': case 'bool': return d instanceof Uint8Array
    case 'int16': return d instanceof Int16Array
    case 'uint16': return d instanceof Uint16Array
    case 'int32': return d instanceof Int32Array
    case 'uint32': return d instanceof Uint32Array
    case 'int64': return d instanceof BigInt64Array
    case 'uint64': return d instanceof BigUint64Array
    case 'string': return Array.isArray(d) && d.every(s => typeof s === 'string')
  }
}

/**
 * Checks a request's tensors against the model's inputs: every input present, none unknown, and
 * each with the model's element type, rank and fixed dimensions (symbolic ones take any size).
 * Throws ERR_INVALID_INPUT naming the first problem.
 */
export function validateInputs (inputs: TensorMap, specs: readonly TensorSpec[]): void {
  const known = new Set(specs.map(s => s.name))
  for (const name of Object.keys(inputs)) {
    if (!known.has(name)) throw invalid(`unknown input "${name.slice(0, 64)}" (the model takes ${specs.map(s => s.name).join(', ')})`)
  }
  for (const spec of specs) {
    const t = Object.hasOwn(inputs, spec.name) ? inputs[spec.name] : undefined
    if (t == null) throw invalid(`missing input "${spec.name}"`)
    const what = `input "${spec.name}"`
    if (t.type !== spec.type) throw invalid(`${what}: datatype ${oipDatatype(t.type)} does not match the model's ${oipDatatype(spec.type)}`)
    checkDims(t.dims, what)
    if (t.dims.length !== spec.shape.length) {
      throw invalid(`${what}: shape ${JSON.stringify(t.dims)} has ${t.dims.length} dimensions, the model expects ${spec.shape.length} (${JSON.stringify(oipShape(spec.shape))})`)
    }
    spec.shape.forEach((d, i) => {
      if (typeof d === 'number' && d >= 0 && t.dims[i] !== d) {
        throw invalid(`${what}: shape ${JSON.stringify(t.dims)} does not match the model's ${JSON.stringify(oipShape(spec.shape))} at dimension ${i}`)
      }
    })
    if (!dataMatches(t)) throw invalid(`${what}: data is not the array type for ${t.type}`)
    if (t.data.length !== elementCount(t.dims)) throw invalid(`${what}: shape ${JSON.stringify(t.dims)} needs ${elementCount(t.dims)} elements, data has ${t.data.length}`)
  }
}

/** Whether any floating-point output holds NaN or ±Infinity. */
export function hasNonFinite (outputs: TensorMap): boolean {
  for (const t of Object.values(outputs)) {
    if (t.type !== 'float32' && t.type !== 'float64') continue
    const d = t.data as Float32Array | Float64Array
    for (let i = 0; i < d.length; i++) {
      if (!Number.isFinite(d[i])) return true
    }
  }
  return false
}
