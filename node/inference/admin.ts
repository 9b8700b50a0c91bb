/**
 * Admin-protocol methods of the inference runtime, for `tutti infer` and `tutti describe` from any
 * peer: `infer` (an OIP inference request plus `model` and optional `version`) and
 * `inference.status`. Activation needs the model store and is registered where both meet.
 */
import { AdminErrorCode, AdminRequestError } from '../../protocols/admin/index.js'
import { asAdminError } from '../admin-errors.js'
import { oipResponse, parseOipRequest } from './oip.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { InferenceRuntime } from './runtime.js'

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
