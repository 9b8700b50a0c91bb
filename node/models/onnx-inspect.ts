/**
 * What `pack` learns about an ONNX file: the ModelProto header (onnx-proto) for the opsets, and
 * onnxruntime for loading, the IO signature and a run of the sample input. Every failure becomes
 * a typed error with a message a user can act on, never a raw protobuf or C++ trace.
 */
import onnxProto from 'onnx-proto'
import { InferenceSession } from 'onnxruntime-node'
import { MIN_OPSET } from './constants.js'
import {
  NotOnnxError, OnnxTruncatedError, SampleInputError, UnsupportedModelError, UnsupportedOpsetError
} from './errors.js'
import { toOrtFeeds } from './ort-feeds.js'
import { checkSampleTensor, sampleBytes, sampleCandidates, TENSOR_TYPES } from './sample.js'
import type { SampleInput } from './sample.js'
import type { TensorSpec } from './types.js'

const { onnx } = onnxProto

/** The header facts of a ModelProto. */
export interface OnnxHeader {
  irVersion: number
  /** Opset of the default domain ('' or 'ai.onnx'). */
  opset: number
  /** Every imported operator set, domain -> version ('' for the default domain). */
  opsets: Record<string, number>
  producer: string
}

// ModelProto field 1 (ir_version, varint) has tag byte 0x08: every exporter writes it first.
const IR_VERSION_TAG = 0x08

function toNumber (v: number | { toNumber: () => number } | null | undefined): number {
  if (v == null) return 0
  return typeof v === 'number' ? v : v.toNumber()
}

/**
 * Parses the ModelProto enough to know it is an ONNX model and which opsets it uses. Throws
 * {@link NotOnnxError}, {@link OnnxTruncatedError} or {@link UnsupportedOpsetError} (below MIN_OPSET).
 */
export function readOnnxHeader (bytes: Uint8Array, source = 'file'): OnnxHeader {
  const looksOnnx = bytes.byteLength > 0 && bytes[0] === IR_VERSION_TAG
  let model: onnxProto.onnx.ModelProto
  try {
    model = onnx.ModelProto.decode(bytes)
  } catch (err) {
    if (looksOnnx && err instanceof RangeError) {
      throw new OnnxTruncatedError(`${source} starts like an ONNX model but ends early after ${bytes.byteLength} bytes: truncated (an incomplete copy or download?)`, { cause: err })
    }
    throw new NotOnnxError(`${source} is not an ONNX model (it does not parse as an ONNX ModelProto)`, { cause: err })
  }
  const irVersion = toNumber(model.irVersion)
  if (model.graph == null) {
    if (looksOnnx && irVersion > 0) throw new OnnxTruncatedError(`${source} starts like an ONNX model but has no graph: truncated?`)
    throw new NotOnnxError(`${source} is not an ONNX model (no graph)`)
  }
  if (irVersion <= 0) throw new NotOnnxError(`${source} is not an ONNX model (no IR version)`)
  const opsets: Record<string, number> = {}
  for (const o of model.opsetImport ?? []) {
    const domain = o.domain === 'ai.onnx' ? '' : o.domain ?? ''
    opsets[domain] = toNumber(o.version)
  }
  // IR version 2 and below predate opset_import and mean opset 1.
  const opset = opsets[''] ?? (irVersion <= 2 ? 1 : undefined)
  if (opset == null) throw new NotOnnxError(`${source} imports no opset of the default ONNX domain`)
  if (opset < MIN_OPSET) {
    throw new UnsupportedOpsetError(opset, `${source} uses ONNX opset ${opset}; onnxruntime runs opset ${MIN_OPSET} and later: convert the model (onnx.version_converter)`)
  }
  return { irVersion, opset, opsets, producer: model.producerName ?? '' }
}

const ORT_MAX_OPSET_RE = /support for domain ai\.onnx is till opset (\d+)/
const ORT_OPSET_RE = /Opset (\d+) is under development|ValidateOpsetForDomain/

/** The last, human part of an onnxruntime message, without the C++ source location prefix. */
function ortMessage (err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err)
  const stripped = msg.replace(/^\/onnxruntime_src\/\S+ [^)]*\)\s*/, '').trim()
  return stripped.length > 400 ? `${stripped.slice(0, 400)}...` : stripped
}

/**
 * Loads the model in onnxruntime (the CPU provider, as every node runs it). Throws
 * {@link UnsupportedOpsetError}, {@link UnsupportedModelError} or {@link NotOnnxError}.
 */
export async function loadOrtSession (bytes: Uint8Array, header: OnnxHeader, source = 'file'): Promise<InferenceSession> {
  try {
    return await InferenceSession.create(bytes, { logSeverityLevel: 3, executionProviders: ['cpu'] })
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err)
    if (ORT_OPSET_RE.test(msg)) {
      const max = ORT_MAX_OPSET_RE.exec(msg)?.[1]
      throw new UnsupportedOpsetError(header.opset, `${source} uses ONNX opset ${header.opset}; this onnxruntime supports opsets ${MIN_OPSET}-${max ?? '?'}`, { cause: err })
    }
    if (/Could not find an implementation for/.test(msg)) {
      throw new UnsupportedModelError(`onnxruntime (CPU) cannot run ${source}: ${ortMessage(err)}`, { cause: err })
    }
    if (/protobuf parsing failed/i.test(msg) && bytes[0] === IR_VERSION_TAG) {
      throw new OnnxTruncatedError(`${source} starts like an ONNX model but onnxruntime cannot parse it: truncated?`, { cause: err })
    }
    throw new NotOnnxError(`onnxruntime cannot load ${source}: ${ortMessage(err)}`, { cause: err })
  }
}

/** Input and output specs of a loaded session. Throws {@link UnsupportedModelError} for non-tensor IO. */
export function sessionSignature (session: InferenceSession): { inputs: TensorSpec[], outputs: TensorSpec[] } {
  const specs = (what: string, meta: readonly InferenceSession.ValueMetadata[]): TensorSpec[] => meta.map(m => {
    if (!m.isTensor) throw new UnsupportedModelError(`${what} ${m.name} is not a tensor (sequences and maps are not supported)`)
    if (TENSOR_TYPES[m.type] == null) throw new UnsupportedModelError(`${what} ${m.name} has element type ${m.type}, which Tutti does not serve`)
    return { name: m.name, type: m.type, shape: m.shape.map(d => typeof d === 'number' ? d : d === '' ? -1 : d) }
  })
  const inputs = specs('input', session.inputMetadata)
  const outputs = specs('output', session.outputMetadata)
  if (inputs.length === 0) throw new UnsupportedModelError('the model has no inputs')
  if (outputs.length === 0) throw new UnsupportedModelError('the model has no outputs')
  return { inputs, outputs }
}

/** A sample input that ran, and the bytes of its inputs plus outputs. */
export interface SampleRun {
  sample: SampleInput
  ioBytes: number
}

function outputBytes (result: InferenceSession.ReturnType): number {
  let n = 0
  for (const v of Object.values(result)) {
    const data = (v as { data?: unknown }).data
    if (ArrayBuffer.isView(data)) n += data.byteLength
    else if (Array.isArray(data)) n += data.length * 16
  }
  return n
}

export interface FindSampleOptions {
  /** Use this sample input (it must still run). */
  sampleInput?: SampleInput
  /** Sizes for named symbolic dimensions, e.g. { sequence: 512 }. */
  dimHints?: Record<string, number>
}

/**
 * Runs the given sample input, or generated candidates until one runs (see `sampleCandidates`).
 * Throws {@link SampleInputError} when none does.
 */
export async function findRunnableSample (session: InferenceSession, inputs: TensorSpec[], options: FindSampleOptions = {}): Promise<SampleRun> {
  let candidates: SampleInput[]
  if (options.sampleInput != null) {
    const given = options.sampleInput
    const names = Object.keys(given)
    if (names.length !== inputs.length || inputs.some(s => !Object.hasOwn(given, s.name))) {
      throw new SampleInputError(`the sample input must hold exactly the inputs ${inputs.map(s => s.name).join(', ')}`)
    }
    for (const spec of inputs) {
      const problem = checkSampleTensor(spec, given[spec.name])
      if (problem != null) throw new SampleInputError(`sample input ${problem}`)
    }
    candidates = [given]
  } else {
    candidates = sampleCandidates(inputs, options.dimHints)
    if (candidates.length === 0) throw new SampleInputError('no sample input small enough can be generated for this model: give one')
  }
  let lastError: unknown
  for (const sample of candidates) {
    try {
      const result = await session.run(toOrtFeeds(sample), { logSeverityLevel: 4 })
      return { sample, ioBytes: sampleBytes(sample) + outputBytes(result) }
    } catch (err) {
      lastError = err
    }
  }
  const hint = options.sampleInput != null ? '' : ' (give a sample input, or sizes for its symbolic dimensions)'
  throw new SampleInputError(`no sample input ran on the model${hint}: ${ortMessage(lastError)}`, { cause: lastError })
}
