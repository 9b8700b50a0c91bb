import { TuttiError } from '../../core/errors.js'
import { formatBytes } from '../../core/quantity.js'

/** Codes the inference runtime raises. Match on these, never on messages. */
export const InferenceErrorCode = {
  /** A `cpu` or `memory` limit that is not a valid Kubernetes quantity for it. */
  InvalidLimit: 'ERR_INVALID_LIMIT',
  /** The model's estimated memory need exceeds the memory limit given for it. */
  MemoryLimit: 'ERR_MEMORY_LIMIT',
  /** The device does not have the free memory the model needs (plus the reserve). */
  InsufficientMemory: 'ERR_INSUFFICIENT_MEMORY',
  /** The operation needs an active version of the model (a shadow compares against it) and none is. */
  NoActiveVersion: 'ERR_NO_ACTIVE_VERSION',
  /** No such model, or no such version of it loaded here. */
  ModelNotFound: 'ERR_MODEL_NOT_FOUND',
  /** The request's tensors do not fit the model: missing, unknown, wrong type or shape. */
  InvalidInput: 'ERR_INVALID_INPUT',
  /** onnxruntime could not load the model file, or the file does not match its manifest. */
  ModelLoad: 'ERR_MODEL_LOAD',
  /** onnxruntime failed while running the model, or its worker died. */
  InferenceFailed: 'ERR_INFERENCE_FAILED',
  /** Too many requests already wait for this model version. */
  Overloaded: 'ERR_OVERLOADED',
  /** The runtime is stopped or stopping. */
  Stopped: 'ERR_RUNTIME_STOPPED',
  /** The request did not complete in time, or its caller aborted it. */
  Timeout: 'ERR_INFERENCE_TIMEOUT'
} as const

export type InferenceErrorCode = typeof InferenceErrorCode[keyof typeof InferenceErrorCode]

/** Every error the inference runtime raises on purpose. */
export class InferenceError extends TuttiError {
  declare readonly code: InferenceErrorCode

  constructor (code: InferenceErrorCode, message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super(code, message, options)
    this.name = 'InferenceError'
  }
}

/** A bad `cpu`/`memory` quantity. The message says what was wrong and what would be accepted. */
export class InvalidLimitError extends InferenceError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(InferenceErrorCode.InvalidLimit, message, options)
    this.name = 'InvalidLimitError'
  }
}

/** Refused before loading: the estimate exceeds the model's own memory limit. */
export class MemoryLimitError extends InferenceError {
  constructor (readonly neededBytes: number, readonly limitBytes: number, what: string) {
    super(InferenceErrorCode.MemoryLimit, `${what} needs an estimated ${formatBytes(neededBytes)}, more than its memory limit of ${formatBytes(limitBytes)}`)
    this.name = 'MemoryLimitError'
  }
}

/** Refused before loading: the device lacks the free memory. Retrying after others unload may help. */
export class InsufficientMemoryError extends InferenceError {
  constructor (readonly neededBytes: number, readonly availableBytes: number, what: string) {
    super(InferenceErrorCode.InsufficientMemory, `${what} needs an estimated ${formatBytes(neededBytes)} but the device has only ${formatBytes(availableBytes)} free after its reserve`, { retryable: true })
    this.name = 'InsufficientMemoryError'
  }
}
