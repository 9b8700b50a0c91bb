/** KServe v2 JSON tensors (sample inputs) to onnxruntime tensors. Loads onnxruntime-node. */
import { Tensor } from 'onnxruntime-node'
import { DATATYPE_TO_TYPE } from './sample.js'
import type { SampleInput, SampleTensor } from './sample.js'

/** An onnxruntime tensor from a KServe v2 JSON tensor. Throws TypeError on an unknown datatype. */
export function toOrtTensor (t: SampleTensor): Tensor {
  const type = DATATYPE_TO_TYPE[t.datatype]
  const dims = t.shape
  const nums = t.data as number[]
  switch (type) {
    case 'float32': return new Tensor('float32', Float32Array.from(nums), dims)
    case 'float64': return new Tensor('float64', Float64Array.from(nums), dims)
    case 'float16': return new Tensor('float16', Uint16Array.from(nums, toHalfBits), dims)
    case 'int8': return new Tensor('int8', Int8Array.from(nums), dims)
    case 'int16': return new Tensor('int16', Int16Array.from(nums), dims)
    case 'int32': return new Tensor('int32', Int32Array.from(nums), dims)
    case 'int64': return new Tensor('int64', BigInt64Array.from(nums, n => BigInt(n)), dims)
    case 'uint8': return new Tensor('uint8', Uint8Array.from(nums), dims)
    case 'uint16': return new Tensor('uint16', Uint16Array.from(nums), dims)
    case 'uint32': return new Tensor('uint32', Uint32Array.from(nums), dims)
    case 'uint64': return new Tensor('uint64', BigUint64Array.from(nums, n => BigInt(n)), dims)
    case 'bool': return new Tensor('bool', Uint8Array.from(t.data as boolean[], b => b ? 1 : 0), dims)
    case 'string': return new Tensor('string', t.data as string[], dims)
    default: throw new TypeError(`unsupported sample datatype ${t.datatype}`)
  }
}

/** onnxruntime feeds for a sample input. */
export function toOrtFeeds (sample: SampleInput): Record<string, Tensor> {
  return Object.fromEntries(Object.entries(sample).map(([name, t]) => [name, toOrtTensor(t)]))
}

// IEEE 754 half precision bits of a number (round toward zero; enough for sample values).
function toHalfBits (value: number): number {
  const f = new Float32Array([value])
  const x = new Uint32Array(f.buffer)[0]!
  const sign = (x >>> 16) & 0x8000
  const exp = ((x >>> 23) & 0xff) - 127 + 15
  const mant = (x >>> 13) & 0x3ff
  if (((x >>> 23) & 0xff) === 0) return sign
  if (exp <= 0) return sign
  if (exp >= 31) return sign | 0x7c00
  return sign | (exp << 10) | mant
}
