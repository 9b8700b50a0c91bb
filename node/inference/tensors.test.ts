import { describe, expect, it } from 'vitest'
import { compareOutputs } from './compare.js'
import { InferenceErrorCode } from './errors.js'
import { VersionMetrics } from './metrics.js'
import { parseOipRequest } from './oip.js'
import { hasNonFinite, oipShape, tensorFromOip, tensorToOip, validateInputs } from './tensors.js'
import { thrownCode } from './testing/errors.js'
import type { Tensor } from './tensors.js'
import type { TensorSpec } from '../models/types.js'

const f32 = (dims: number[], values: number[]): Tensor => ({ type: 'float32', dims, data: Float32Array.from(values) })

describe('OIP tensors', () => {
  it('reads flat and nested data into the same typed tensor', () => {
    const flat = tensorFromOip({ name: 'x', shape: [2, 3], datatype: 'FP32', data: [1, 2, 3, 4, 5, 6] }, 0)
    const nested = tensorFromOip({ name: 'x', shape: [2, 3], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] }, 0)
    expect(flat.tensor.data).toEqual(Float32Array.from([1, 2, 3, 4, 5, 6]))
    expect(nested.tensor).toEqual(flat.tensor)
  })

  it.each([
    ['INT64', [5, -7], BigInt64Array.from([5n, -7n])],
    ['INT32', [1, -2], Int32Array.from([1, -2])],
    ['UINT8', [0, 255], Uint8Array.from([0, 255])],
    ['FP64', [0.5, 1e300], Float64Array.from([0.5, 1e300])],
    ['BOOL', [true, false], Uint8Array.from([1, 0])],
    ['BYTES', ['a', 'bc'], ['a', 'bc']]
  ])('reads %s data', (datatype, data, expected) => {
    const { tensor } = tensorFromOip({ name: 'x', shape: [2], datatype, data }, 0)
    expect(tensor.data).toEqual(expected)
    expect(tensorToOip('x', tensor)).toEqual({ name: 'x', shape: [2], datatype, data })
  })

  it('reads a scalar (shape [])', () => {
    const { tensor } = tensorFromOip({ name: 'sr', shape: [], datatype: 'INT64', data: [16000] }, 0)
    expect(tensor).toEqual({ type: 'int64', dims: [], data: BigInt64Array.from([16000n]) })
  })

  it.each([
    [{ name: 'x', shape: [2], datatype: 'FP32', data: [1] }, /needs 2 elements, data has 1/],
    [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 'a'] }, /finite numbers/],
    [{ name: 'x', shape: [2], datatype: 'FP32', data: [1, 1e300] }, /FP32 element 1 \(1e\+300\) is out of the float32 range/],
    [{ name: 'x', shape: [1], datatype: 'FP32', data: [-3.5e38] }, /out of the float32 range/],
    [{ name: 'x', shape: [1], datatype: 'INT8', data: [300] }, /not an integer in \[-128, 127\]/],
    [{ name: 'x', shape: [1], datatype: 'INT64', data: [1.5] }, /not an integer/],
    [{ name: 'x', shape: [1], datatype: 'FP16', data: [1] }, /not supported/],
    [{ name: 'x', shape: [1], datatype: 'BOOL', data: ['yes'] }, /true\/false/],
    [{ name: 'x', shape: [-1], datatype: 'FP32', data: [1] }, /non-negative integers/],
    [{ name: 'x', shape: [1], datatype: 'FP32', data: [[[1]]] }, /nested deeper/],
    [{ name: 'x', shape: [1e6, 1e6], datatype: 'FP32', data: [] }, /more than/],
    [{ name: '', shape: [1], datatype: 'FP32', data: [1] }, /name/],
    [{ name: 'x', shape: [1], datatype: 'FP32' }, /data is missing/],
    ['x', /must be an object/]
  ])('refuses a malformed input tensor (%j)', (input, message) => {
    expect(() => tensorFromOip(input, 0)).toThrow(message)
    expect(thrownCode(() => tensorFromOip(input, 0))).toBe(InferenceErrorCode.InvalidInput)
  })

  it('parses a whole request: id, inputs, requested outputs; refuses duplicates', () => {
    const req = parseOipRequest({ id: 'r1', inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{ name: 'probs' }] })
    expect(req.id).toBe('r1')
    expect(req.outputs).toEqual(['probs'])
    expect(Object.keys(req.inputs)).toEqual(['x'])
    expect(thrownCode(() => parseOipRequest({ inputs: [] }))).toBe(InferenceErrorCode.InvalidInput)
    expect(thrownCode(() => parseOipRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }, { name: 'x', shape: [1], datatype: 'FP32', data: [1] }] }))).toBe(InferenceErrorCode.InvalidInput)
    expect(thrownCode(() => parseOipRequest({ inputs: [{ name: 'x', shape: [1], datatype: 'FP32', data: [1] }], outputs: [{}] }))).toBe(InferenceErrorCode.InvalidInput)
    expect(thrownCode(() => parseOipRequest([1]))).toBe(InferenceErrorCode.InvalidInput)
  })

  it('reports symbolic and unknown dimensions as -1', () => {
    expect(oipShape(['batch', 8, -1, 3])).toEqual([-1, 8, -1, 3])
  })
})

describe('input validation against the model', () => {
  const specs: TensorSpec[] = [{ name: 'x', type: 'float32', shape: ['batch', 3] }, { name: 'sr', type: 'int64', shape: [] }]
  const sr: Tensor = { type: 'int64', dims: [], data: BigInt64Array.from([16000n]) }

  it('accepts any size on a symbolic dimension', () => {
    expect(() => { validateInputs({ x: f32([5, 3], new Array(15).fill(0)), sr }, specs) }).not.toThrow()
  })

  it.each([
    [{ x: f32([1, 3], [1, 2, 3]) }, /missing input "sr"/],
    [{ x: f32([1, 3], [1, 2, 3]), sr, y: sr }, /unknown input "y"/],
    [{ x: f32([1, 4], [1, 2, 3, 4]), sr }, /at dimension 1/],
    [{ x: f32([3], [1, 2, 3]), sr }, /has 1 dimensions, the model expects 2/],
    [{ x: { type: 'float64', dims: [1, 3], data: Float64Array.from([1, 2, 3]) }, sr }, /datatype FP64 does not match the model's FP32/],
    [{ x: f32([2, 3], [1, 2, 3]), sr }, /needs 6 elements/],
    [{ x: { type: 'float32', dims: [1, 3], data: Float64Array.from([1, 2, 3]) }, sr }, /not the array type/]
  ])('refuses tensors that do not fit (%#)', (inputs, message) => {
    expect(() => { validateInputs(inputs as Record<string, Tensor>, specs) }).toThrow(message)
  })
})

describe('output checks and shadow comparison', () => {
  it('spots NaN and infinity in floating-point outputs only', () => {
    expect(hasNonFinite({ y: f32([2], [1, 2]) })).toBe(false)
    expect(hasNonFinite({ y: f32([2], [1, Number.NaN]) })).toBe(true)
    expect(hasNonFinite({ y: f32([1], [Number.NEGATIVE_INFINITY]) })).toBe(true)
    expect(hasNonFinite({ y: { type: 'int32', dims: [1], data: Int32Array.from([1]) } })).toBe(false)
  })

  it('measures the largest difference and whether each row picks the same class', () => {
    const active = { probs: f32([2, 3], [0.1, 0.7, 0.2, 0.5, 0.3, 0.2]) }
    const close = { probs: f32([2, 3], [0.15, 0.65, 0.2, 0.45, 0.35, 0.2]) }
    const flipped = { probs: f32([2, 3], [0.1, 0.7, 0.2, 0.3, 0.5, 0.2]) }
    const c1 = compareOutputs(active, close)
    expect(c1.comparable).toBe(true)
    expect(c1.top1Agree).toBe(true)
    expect(c1.maxAbsDiff).toBeCloseTo(0.05, 6)
    const c2 = compareOutputs(active, flipped)
    expect(c2.top1Agree).toBe(false)
    expect(c2.maxAbsDiff).toBeCloseTo(0.2, 6)
  })

  it('compares single-score outputs by which side of 0.5 they fall on', () => {
    expect(compareOutputs({ p: f32([1, 1], [0.9]) }, { p: f32([1, 1], [0.6]) }).top1Agree).toBe(true)
    expect(compareOutputs({ p: f32([1, 1], [0.9]) }, { p: f32([1, 1], [0.4]) }).top1Agree).toBe(false)
  })

  it('treats a shape mismatch or a NaN against a number as incomparable or infinitely far', () => {
    expect(compareOutputs({ y: f32([2], [1, 2]) }, { y: f32([1, 2], [1, 2]) }).comparable).toBe(false)
    expect(compareOutputs({ y: f32([2], [1, 2]) }, {}).comparable).toBe(false)
    expect(compareOutputs({ y: f32([2], [1, Number.NaN]) }, { y: f32([2], [1, 2]) }).maxAbsDiff).toBe(Infinity)
    expect(compareOutputs({ y: f32([2], [1, Number.NaN]) }, { y: f32([2], [1, Number.NaN]) }).maxAbsDiff).toBe(0)
  })
})

describe('version summary', () => {
  it('fits a busy version into a few dozen bytes of JSON', () => {
    const m = new VersionMetrics({ name: 'kws', version: '1.2.0', estimateBytes: 48 * 2 ** 20, intraOpThreads: 1, throttled: true })
    for (let i = 0; i < 123_456; i++) m.request()
    for (let i = 0; i < 1000; i++) m.success(0.5 + (i % 97) * 1.37, i % 500 === 0)
    for (let i = 0; i < 12; i++) m.error()
    m.shadowCompared({ comparable: true, maxAbsDiff: 0.01, top1Agree: true })
    m.shadowCompared({ comparable: true, maxAbsDiff: 0.2, top1Agree: false })
    const s = { ...m.summary(), fr: 0.1 } // the runtime adds the shadow's fraction
    expect(s).toMatchObject({ n: 123_456, e: 12, nf: 2, mb: 48, ag: 0.5, sc: 2 })
    expect(s.p50).toBeLessThanOrEqual(s.p95)
    expect(s.p95).toBeLessThanOrEqual(s.p99)
    expect(JSON.stringify(s).length).toBeLessThanOrEqual(88)
    const snap = m.snapshot()
    expect(snap.shadow).toMatchObject({ compared: 2, agreed: 1, agreementRate: 0.5, maxAbsDiff: 0.2 })
  })
})
