/**
 * Errors of the model subsystem. Match on `code`, never on the message. Every one of them means
 * the input was refused and nothing was stored (unless the message says otherwise).
 */
import { TuttiError } from '../../core/errors.js'

/** Stable codes of the model subsystem. */
export const ModelErrorCode = {
  NotOnnx: 'ERR_NOT_ONNX',
  OnnxTruncated: 'ERR_ONNX_TRUNCATED',
  UnsupportedOpset: 'ERR_UNSUPPORTED_OPSET',
  UnsupportedModel: 'ERR_UNSUPPORTED_MODEL',
  SampleInput: 'ERR_SAMPLE_INPUT',
  InvalidPackOptions: 'ERR_INVALID_PACK_OPTIONS',
  InvalidManifest: 'ERR_INVALID_MANIFEST',
  ManifestTooLarge: 'ERR_MANIFEST_TOO_LARGE',
  ManifestSignature: 'ERR_MANIFEST_SIGNATURE',
  NotAdminSigner: 'ERR_NOT_ADMIN_SIGNER',
  ManifestCidMismatch: 'ERR_MANIFEST_CID_MISMATCH',
  VersionConflict: 'ERR_MODEL_VERSION_CONFLICT',
  VersionAmbiguous: 'ERR_MODEL_VERSION_AMBIGUOUS',
  ModelMismatch: 'ERR_MODEL_MISMATCH',
  ChunkMismatch: 'ERR_CHUNK_MISMATCH',
  ChunkUnknown: 'ERR_CHUNK_UNKNOWN',
  ChunksMissing: 'ERR_CHUNKS_MISSING',
  DigestMismatch: 'ERR_DIGEST_MISMATCH',
  ModelNotFound: 'ERR_MODEL_NOT_FOUND',
  ModelIncomplete: 'ERR_MODEL_INCOMPLETE',
  InvalidPackage: 'ERR_INVALID_PACKAGE',
  NotStarted: 'ERR_MODELS_NOT_STARTED',
  JobNotFound: 'ERR_JOB_NOT_FOUND'
} as const

export type ModelErrorCodeValue = typeof ModelErrorCode[keyof typeof ModelErrorCode]

/** Base class of the model subsystem's errors. */
export class ModelError extends TuttiError {
  constructor (code: ModelErrorCodeValue, message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super(code, message, options)
    this.name = 'ModelError'
  }
}

/** The file is not an ONNX model onnxruntime can load (not protobuf, no graph, rejected by onnxruntime). */
export class NotOnnxError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.NotOnnx, message, options)
    this.name = 'NotOnnxError'
  }
}

/** The file starts as an ONNX model but ends early: a partial copy or download. */
export class OnnxTruncatedError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.OnnxTruncated, message, options)
    this.name = 'OnnxTruncatedError'
  }
}

/** The model declares an opset of the default ONNX domain outside what this onnxruntime runs. */
export class UnsupportedOpsetError extends ModelError {
  constructor (readonly opset: number | undefined, message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.UnsupportedOpset, message, options)
    this.name = 'UnsupportedOpsetError'
  }
}

/** The model loads but Tutti cannot serve it (e.g. an input that is not a tensor). */
export class UnsupportedModelError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.UnsupportedModel, message, options)
    this.name = 'UnsupportedModelError'
  }
}

/** No sample input could be generated that runs on the model, or a given one does not run. */
export class SampleInputError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.SampleInput, message, options)
    this.name = 'SampleInputError'
  }
}

/** `pack()` was called with options it cannot use (name, version, labels, chunk size...). */
export class InvalidPackOptionsError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.InvalidPackOptions, message, options)
    this.name = 'InvalidPackOptionsError'
  }
}

/** An envelope or manifest that does not decode or does not describe a valid model. */
export class InvalidManifestError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.InvalidManifest, message, options)
    this.name = 'InvalidManifestError'
  }
}

/** An envelope larger than the limit, refused before decoding. */
export class ManifestTooLargeError extends ModelError {
  constructor (readonly bytes: number, readonly maxBytes: number) {
    super(ModelErrorCode.ManifestTooLarge, `manifest envelope is ${bytes} bytes, at most ${maxBytes}`)
    this.name = 'ManifestTooLargeError'
  }
}

/** The envelope's signature does not verify over the manifest bytes it carries. */
export class ManifestSignatureError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.ManifestSignature, message, options)
    this.name = 'ManifestSignatureError'
  }
}

/** The envelope is signed by a key that is not one of the fleet's admins. */
export class NotAdminSignerError extends ModelError {
  constructor (readonly signer: string) {
    super(ModelErrorCode.NotAdminSigner, `manifest is signed by ${signer}, which is not an admin of this fleet`)
    this.name = 'NotAdminSignerError'
  }
}

/** The manifest bytes do not hash to the CID they were asked for under. */
export class ManifestCidMismatchError extends ModelError {
  constructor (readonly expected: string, readonly actual: string) {
    super(ModelErrorCode.ManifestCidMismatch, `manifest has CID ${actual}, expected ${expected}`)
    this.name = 'ManifestCidMismatchError'
  }
}

/** Another manifest with the same name@version is already held: versions are immutable. */
export class VersionConflictError extends ModelError {
  constructor (readonly ref: string, readonly existingCid: string, readonly cid: string) {
    super(ModelErrorCode.VersionConflict, `${ref} is already held as ${existingCid}; a different manifest (${cid}) cannot reuse the version: bump it`)
    this.name = 'VersionConflictError'
  }
}

/**
 * NAME@VERSION names more than one signed manifest in the fleet (the same name and version packed
 * twice and pushed to different peers): nothing is chosen for the operator. Lists every CID.
 */
export class AmbiguousVersionError extends ModelError {
  constructor (readonly ref: string, readonly cids: string[]) {
    super(ModelErrorCode.VersionAmbiguous, `${ref} names ${cids.length} different manifests in the fleet: ${cids.join(' and ')}; give the CID of the one you mean, and pack the other under a new version`)
    this.name = 'AmbiguousVersionError'
  }
}

/** A manifest CID turned out to be signed under another name or version than the one asked for. */
export class ModelMismatchError extends ModelError {
  constructor (readonly cid: string, readonly actual: string, readonly wanted: string) {
    super(ModelErrorCode.ModelMismatch, `${cid} is ${actual}, not the ${wanted} it was asked for`)
    this.name = 'ModelMismatchError'
  }
}

/** Chunk bytes do not hash to the CID they were offered under (or the CID is not a chunk CID). */
export class ChunkVerificationError extends ModelError {
  constructor (readonly cid: string, message = `chunk bytes do not match CID ${cid}`, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.ChunkMismatch, message, options)
    this.name = 'ChunkVerificationError'
  }
}

/** A chunk that no manifest held by this store refers to: refused so the disk holds only wanted bytes. */
export class ChunkUnknownError extends ModelError {
  constructor (readonly cid: string) {
    super(ModelErrorCode.ChunkUnknown, `chunk ${cid} belongs to no manifest this store holds (put the manifest first)`)
    this.name = 'ChunkUnknownError'
  }
}

/** Assembly needs chunks this store does not hold yet. Retry after fetching them. */
export class ChunksMissingError extends ModelError {
  constructor (readonly manifestCid: string, readonly missing: number) {
    super(ModelErrorCode.ChunksMissing, `model ${manifestCid} is missing ${missing} chunk(s)`, { retryable: true })
    this.name = 'ChunksMissingError'
  }
}

/** The assembled or packaged file does not match the manifest's whole-file digest or size. */
export class DigestMismatchError extends ModelError {
  constructor (message: string) {
    super(ModelErrorCode.DigestMismatch, message)
    this.name = 'DigestMismatchError'
  }
}

/** No model matches the reference (name, name@version or manifest CID). */
export class ModelNotFoundError extends ModelError {
  constructor (readonly ref: string) {
    super(ModelErrorCode.ModelNotFound, `no model ${ref} in this store`)
    this.name = 'ModelNotFoundError'
  }
}

/** The operation needs the assembled, verified model file, and this store does not have it yet. */
export class ModelIncompleteError extends ModelError {
  constructor (readonly ref: string) {
    super(ModelErrorCode.ModelIncomplete, `model ${ref} is not complete on this node (fetch and assemble it first)`, { retryable: true })
    this.name = 'ModelIncompleteError'
  }
}

/** A package directory (written by `pack`) that is missing files or does not match its manifest. */
export class InvalidPackageError extends ModelError {
  constructor (message: string, options: { cause?: unknown } = {}) {
    super(ModelErrorCode.InvalidPackage, message, options)
    this.name = 'InvalidPackageError'
  }
}
