/**
 * Admin-protocol methods of the inference runtime, for `tutti infer` and `tutti describe` from any
 * peer: `infer` (an OIP inference request plus `model` and optional `version`) and
 * `inference.status`. Activation needs the model store and is registered where both meet.
 */
import { z } from 'zod'
import { asAdminError } from '../admin-errors.js'
import { adminParams, boundedString } from '../admin-params.js'
import { oipResponse, parseOipRequest } from './oip.js'
import { InferenceError, InferenceErrorCode } from './errors.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { InferenceRuntime } from './runtime.js'

// The OIP body (id, inputs, outputs) is parseOipRequest's to check, with its own bounds.
const inferParams = z.object({
  model: boundedString('a model name', 256),
  version: boundedString('a version string', 128).optional(),
  id: z.unknown().optional(),
  inputs: z.unknown().optional(),
  outputs: z.unknown().optional()
})

export interface InferenceAdminOptions {
  /**
   * What to add to a "not loaded" answer for a model this node holds but does not serve: how to
   * activate it. Undefined when there is nothing to say.
   */
  notServedHint?: (model: string, version: string | undefined) => string | undefined
}

export function inferenceAdminHandlers (runtime: InferenceRuntime, options: InferenceAdminOptions = {}): Record<string, AdminHandler> {
  return {
    /** params: `{ model, version?, id?, inputs: [OIP tensors], outputs?: [{ name }] }` -> an OIP response. */
    infer: async (params, context) => {
      const { model, version, ...oip } = adminParams(inferParams, params)
      try {
        const request = parseOipRequest(oip)
        const result = await runtime.infer(model, version, request.inputs, { outputs: request.outputs, signal: context.signal })
        return oipResponse(result, request.id)
      } catch (err) {
        const hint = (err as { code?: string }).code === InferenceErrorCode.ModelNotFound ? options.notServedHint?.(model, version) : undefined
        throw asAdminError(hint == null ? err : new InferenceError(InferenceErrorCode.ModelNotFound, `${(err as Error).message}: ${hint}`, { cause: err }))
      }
    },
    'inference.status': async () => ({ status: runtime.status(), metrics: runtime.metrics(), summary: runtime.summary() })
  }
}
