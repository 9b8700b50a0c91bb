/**
 * Local inference: onnxruntime sessions in worker threads, held to Kubernetes-style CPU and
 * memory limits, hot-swapped between versions without dropping a request, shadow-tested, measured
 * per version, and served over the Open Inference Protocol (KServe v2 REST) and the admin protocol.
 * See docs/INFERENCE.md.
 */

/** The runtime: `start()`, `activate(model, limits)`, `infer(name, version, inputs)`, `metrics()`, `stop()`. */
export { InferenceRuntime } from './runtime.js'
export type {
  InferenceModel, InferenceRuntimeInit, InferenceRuntimeComponents, InferOptions, InferResult,
  ShadowOptions, VersionStatus, ModelStatus, RuntimeStatus, ModelDescription
} from './runtime.js'

/** OIP REST endpoints on the node's ApiRouter, and the request/response codecs they use. */
export { registerOipRoutes, parseOipBody, parseOipRequest, oipResponse, oipStatus } from './oip.js'
export type { OipRequest, OipResponse, OipOutput, OipRoutesInit } from './oip.js'

/** Parses OIP request bodies, large ones in a worker thread off the event loop. */
export { OipBodyParser } from './body-parser.js'
export type { OipBodyParserInit, OipBodyParserComponents, OipBodyParserEvents, ParseEventDetail } from './body-parser.js'

/** Admin-protocol methods `infer` and `inference.status`. */
export { inferenceAdminHandlers } from './admin.js'

/** Limits as Kubernetes writes them, and the pure decisions made from them. */
export { parseCpu, parseMemory, resolveLimits, planCpu, throttleDelayMs, chargedCpuMs, checkMemory, DutyCycle } from './limits.js'
export type { ResourceLimits, ResolvedLimits, CpuPlan, RunCost, MemoryBudget } from './limits.js'

/** Typed tensors and their OIP JSON form. */
export { oipDatatype, tensorTypeFromOip, tensorFromOip, tensorToOip, validateInputs, hasNonFinite } from './tensors.js'
export type { Tensor, TensorMap, TensorType, TensorData } from './tensors.js'

/** Per-version measurements and the compact heartbeat summary. */
export { LatencyHistogram } from './histogram.js'
export type { HistogramSnapshot } from './histogram.js'
export type { VersionMetricsSnapshot, VersionSummary, VersionRole, ShadowSnapshot } from './metrics.js'
export { compareOutputs } from './compare.js'
export type { Comparison } from './compare.js'

/** Typed errors; match on `code`. */
export { InferenceError, InferenceErrorCode, InvalidLimitError, MemoryLimitError, InsufficientMemoryError } from './errors.js'

export * from './constants.js'
