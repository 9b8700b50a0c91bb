/**
 * The Open Inference Protocol (KServe v2, REST) on the node's local HTTP API. Errors use the
 * protocol's own shape, `{ "error": "message" }`: 400 for a request that does not fit the model,
 * 404 for an unknown model or version, 413 for a body over the limit, 503 when overloaded.
 */
import { ApiError } from '../api/http.js'
import { NODE_VERSION } from '../version.js'
import { OipBodyParser } from './body-parser.js'
import { MAX_OIP_BODY_BYTES, OIP_PLATFORM } from './constants.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import { oipDatatype, oipShape, tensorToOip } from './tensors.js'
import type { ApiRequest, ApiResult, ApiRouter } from '../api/http.js'
import type { InferenceRuntime, InferResult } from './runtime.js'
import type { TensorSpec } from '../models/types.js'

export { parseOipBody, parseOipRequest } from './oip-request.js'
export type { OipRequest } from './oip-request.js'

export interface OipOutput {
  name: string
  shape: number[]
  datatype: string
  data: Array<number | string | boolean>
}

export interface OipResponse {
  model_name: string
  model_version: string
  id?: string
  outputs: OipOutput[]
}

/** The OIP response for a result: outputs in the order the session returned them, data flat. */
export function oipResponse (result: InferResult, id?: string): OipResponse {
  const response: OipResponse = { model_name: result.modelName, model_version: result.modelVersion, outputs: [] }
  if (id !== undefined) response.id = id
  response.outputs = Object.entries(result.outputs).map(([n, t]) => tensorToOip(n, t))
  return response
}

/** The HTTP status for an error, as the protocol expects it. */
export function oipStatus (err: unknown): number {
  if (err instanceof ApiError) return err.status
  if (err instanceof InferenceError) {
    switch (err.code) {
      case InferenceErrorCode.InvalidInput: return 400
      case InferenceErrorCode.ModelNotFound: return 404
      case InferenceErrorCode.Overloaded:
      case InferenceErrorCode.Stopped:
      case InferenceErrorCode.InsufficientMemory: return 503
      case InferenceErrorCode.Timeout: return 504
      default: return 500
    }
  }
  return 500
}

function fail (err: unknown): ApiResult {
  return { status: oipStatus(err), body: { error: err instanceof Error ? err.message : String(err) } }
}

function metadataTensor (t: TensorSpec): { name: string, datatype: string, shape: number[] } {
  return { name: t.name, datatype: oipDatatype(t.type), shape: oipShape(t.shape) }
}

export interface OipRoutesInit {
  /** Largest inference request body, bytes. @default 16 MiB */
  maxBodyBytes?: number
  /** Server name in `GET /v2`. @default 'tutti' */
  serverName?: string
  /**
   * Parses request bodies, large ones in a worker thread. The caller owns it (closes it when the
   * API stops). @default a new OipBodyParser, returned by registerOipRoutes
   */
  parser?: OipBodyParser
}

/**
 * Adds the OIP endpoints to a router: `GET /v2`, `GET /v2/health/live`, `GET /v2/health/ready`,
 * `GET /v2/models/{name}[/versions/{v}]`, `GET .../ready`, `POST .../infer`. Returns the body
 * parser the routes use (`init.parser` or a new one): close it when the API stops.
 */
export function registerOipRoutes (router: ApiRouter, runtime: InferenceRuntime, init: OipRoutesInit = {}): OipBodyParser {
  const maxBodyBytes = init.maxBodyBytes ?? MAX_OIP_BODY_BYTES
  const parser = init.parser ?? new OipBodyParser()
  const guard = (fn: (r: ApiRequest) => Promise<ApiResult> | ApiResult) => async (r: ApiRequest): Promise<ApiResult> => {
    try {
      return await fn(r)
    } catch (err) {
      return fail(err)
    }
  }

  const metadata = guard(({ params }) => {
    const d = runtime.describe(params.name ?? '', params.version)
    return {
      body: {
        name: d.name,
        versions: d.versions,
        platform: OIP_PLATFORM,
        inputs: d.inputs.map(metadataTensor),
        outputs: d.outputs.map(metadataTensor)
      }
    }
  })

  const ready = guard(({ params }) => {
    const d = runtime.describe(params.name ?? '', params.version)
    if (!d.ready) return { status: 400, body: { error: `model ${d.name} version ${d.version} is not ready` } }
    return { body: { name: d.name, ready: true } }
  })

  const infer = guard(async (r) => {
    // An unknown model or version is answered before a byte of the body is read.
    runtime.describe(r.params.name ?? '', r.params.version)
    // Off the event loop when the body is large: the node's heartbeats do not wait behind it.
    const request = await parser.parse(await r.body(maxBodyBytes))
    const name = r.params.name ?? ''
    const result = await runtime.infer(name, r.params.version, request.inputs, { outputs: request.outputs })
    return { body: oipResponse(result, request.id), pretty: false }
  })

  router.add('GET', '/v2', () => ({ body: { name: init.serverName ?? 'tutti', version: NODE_VERSION, extensions: [] } }))
  router.add('GET', '/v2/health/live', () => ({ body: { live: true } }))
  router.add('GET', '/v2/health/ready', () => runtime.isRunning
    ? { body: { ready: true } }
    : { status: 400, body: { error: 'the inference runtime is not running' } })
  router.add('GET', '/v2/models/:name', metadata)
  router.add('GET', '/v2/models/:name/versions/:version', metadata)
  router.add('GET', '/v2/models/:name/ready', ready)
  router.add('GET', '/v2/models/:name/versions/:version/ready', ready)
  router.add('POST', '/v2/models/:name/infer', infer)
  router.add('POST', '/v2/models/:name/versions/:version/infer', infer)
  return parser
}
