/**
 * Admin-protocol methods of the inference runtime, for `tutti infer` and `tutti describe` from any
 * peer: `infer` (an OIP inference request plus `model` and optional `version`) and
 * `inference.status`. Activation needs the model store and is registered where both meet.
 */
import { AdminErrorCode, AdminRequestError } from '../../protocols/admin/index.js'
import { isTuttiError } from '../../core/errors.js'
import { InferenceErrorCode } from './errors.js'
import { oipResponse, parseOipRequest } from './oip.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { InferenceRuntime } from './runtime.js'

/**
 * Turns Tutti errors into admin errors with a stable code (bad input and unknown models get the
 * admin protocol's own; the model store uses the same ERR_MODEL_NOT_FOUND). Others pass through.
 */
export function asAdminError (err: unknown): unknown {
  if (!isTuttiError(err) || err instanceof AdminRequestError) return err
  if (err.code === InferenceErrorCode.InvalidInput || err.code === InferenceErrorCode.InvalidLimit) return new AdminRequestError(AdminErrorCode.BadRequest, err.message, { cause: err })
  if (err.code === InferenceErrorCode.ModelNotFound) return new AdminRequestError(AdminErrorCode.NotFound, err.message, { cause: err })
  return new AdminRequestError(err.code, err.message, { cause: err })
}

export function inferenceAdminHandlers (runtime: InferenceRuntime): Record<string, AdminHandler> {
  return {
    /** params: `{ model, version?, id?, inputs: [OIP tensors], outputs?: [{ name }] }` -> an OIP response. */
    infer: async (params, context) => {
      const model = params.model
      const version = params.version
      if (typeof model !== 'string' || model.length === 0 || model.length > 256) throw new AdminRequestError(AdminErrorCode.BadRequest, 'model must be a model name')
      if (version !== undefined && (typeof version !== 'string' || version.length === 0 || version.length > 128)) throw new AdminRequestError(AdminErrorCode.BadRequest, 'version must be a version string')
      try {
        const request = parseOipRequest({ id: params.id, inputs: params.inputs, outputs: params.outputs })
        const result = await runtime.infer(model, version, request.inputs, { outputs: request.outputs, signal: context.signal })
        return oipResponse(result, request.id)
      } catch (err) {
        throw asAdminError(err)
      }
    },
    'inference.status': async () => ({ status: runtime.status(), metrics: runtime.metrics(), summary: runtime.summary() })
  }
}
