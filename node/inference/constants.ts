/** Defaults of the inference runtime. Every one can be changed through `InferenceRuntimeInit`. */

/** Memory kept free for the OS and the node itself; a load that would use it is refused. @default 256 MiB */
export const DEFAULT_MEMORY_RESERVE_BYTES = 256 * 1024 * 1024

/** Requests that may wait per model version before more are refused with ERR_OVERLOADED. @default 256 */
export const DEFAULT_MAX_QUEUE = 256

/** Per-request timeout when the caller gives none, ms. @default 30 s */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000

/** How long a session may take to load, ms. @default 60 s */
export const DEFAULT_LOAD_TIMEOUT_MS = 60_000

/** How long a swap waits for the old version's requests before failing the rest, ms. @default 30 s */
export const DEFAULT_DRAIN_TIMEOUT_MS = 30_000

/** Shadow runs that may be waiting at once; further samples are skipped. @default 4 */
export const DEFAULT_MAX_SHADOW_PENDING = 4

/** Metrics of unloaded versions kept per model (so a rollback can still be explained). @default 4 */
export const RETIRED_METRICS_PER_MODEL = 4

/** Largest OIP request body the HTTP API reads, bytes; larger ones get 413. @default 16 MiB */
export const MAX_OIP_BODY_BYTES = 16 * 1024 * 1024

/** The `platform` the OIP metadata reports. */
export const OIP_PLATFORM = 'onnxruntime'

/** A spare inference worker started for an activation that does not come is ended after this long, ms. @default 60000 */
export const SPARE_TTL_MS = 60_000

/**
 * OIP request bodies of at least this many bytes are parsed in the request parser's worker thread,
 * smaller ones on the main thread (where parsing them costs less than the hand-over). @default 64 KiB
 */
export const DEFAULT_PARSE_OFF_THREAD_BYTES = 64 * 1024

/** The request parser's worker ends after this long without a body to parse, ms. @default 60000 */
export const DEFAULT_PARSE_IDLE_MS = 60_000

/**
 * How long a retired inference thread keeps the process alive while onnxruntime finishes the
 * native call it is in (a session still being created, a run); see InferenceThreads. @default 30 s
 */
export const RETIRE_GRACE_MS = 30_000
