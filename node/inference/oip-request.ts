/**
 * Parsing an Open Inference Protocol inference request body into typed tensors, with every check
 * a request must pass before it reaches a session (sizes, shapes, element ranges). Pure, and
 * imports nothing but the tensor codecs and the error type: the request parser worker
 * (parse-worker.js) runs this very module, so a body parsed there fails exactly as it would here.
 */
import { InferenceError, InferenceErrorCode } from './errors.js'
import { tensorFromOip } from './tensors.js'
import type { TensorMap } from './tensors.js'

/** Most input tensors one request may carry. */
const MAX_INPUTS = 256

/** A parsed OIP inference request. */
export interface OipRequest {
  id?: string
  inputs: TensorMap
  outputs?: string[]
}

function invalid (message: string): InferenceError {
  return new InferenceError(InferenceErrorCode.InvalidInput, message)
}

/** Parses an OIP inference request body (already JSON-decoded). Throws ERR_INVALID_INPUT. */
export function parseOipRequest (body: unknown): OipRequest {
  if (typeof body !== 'object' || body == null || Array.isArray(body)) throw invalid('the request must be a JSON object with "inputs"')
  const { id, inputs, outputs } = body as Record<string, unknown>
  if (id !== undefined && (typeof id !== 'string' || id.length > 256)) throw invalid('"id" must be a string of at most 256 characters')
  if (!Array.isArray(inputs) || inputs.length === 0) throw invalid('"inputs" must be a non-empty array')
  if (inputs.length > MAX_INPUTS) throw invalid(`"inputs" has more than ${MAX_INPUTS} tensors`)
  const map: TensorMap = {}
  inputs.forEach((input, i) => {
    const { name, tensor } = tensorFromOip(input, i)
    if (Object.hasOwn(map, name)) throw invalid(`input "${name}" appears twice`)
    map[name] = tensor
  })
  let names: string[] | undefined
  if (outputs !== undefined) {
    if (!Array.isArray(outputs) || outputs.length > MAX_INPUTS) throw invalid('"outputs" must be an array of { "name": ... }')
    names = outputs.map((o, i) => {
      const name = typeof o === 'object' && o != null ? (o as Record<string, unknown>).name : undefined
      if (typeof name !== 'string' || name.length === 0) throw invalid(`outputs[${i}].name must be a non-empty string`)
      return name
    })
  }
  return { id, inputs: map, outputs: names }
}

/** Parses an OIP inference request body as received. Throws ERR_INVALID_INPUT. */
export function parseOipBody (raw: Uint8Array): OipRequest {
  let json: unknown
  try {
    json = JSON.parse(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8'))
  } catch {
    throw invalid('the request body is not valid JSON')
  }
  return parseOipRequest(json)
}
