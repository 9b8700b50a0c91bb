/**
 * Manifests and their envelopes.
 *
 * - The manifest is canonical JSON (core/canonical-json.ts): UTF-8, object keys sorted, no
 *   whitespace; keys whose value is undefined are left out.
 * - The envelope is Tutti's one signed envelope (core/envelope.ts) with payload type
 *   {@link MANIFEST_PAYLOAD_TYPE}: those exact bytes, the signer's public key and an Ed25519
 *   signature over the domain-separated type and payload.
 * - The manifest CID is CIDv1(json 0x0200, sha2-256(manifestBytes)): over the signed bytes, not
 *   the envelope, so the same manifest has one CID whoever signed it.
 *
 * A receiver checks the envelope size before decoding, then the payload type and the signature
 * over the bytes exactly as received, then the signer (a fleet admin), then that the bytes are
 * canonical and describe a valid manifest. Nothing is re-serialized before verification. The
 * envelope's errors are raised as this subsystem's (ManifestTooLargeError, InvalidManifestError,
 * ManifestSignatureError), with the envelope error as `cause`.
 */
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { checkKeyValue } from '../../protocols/heartbeat/heartbeat.js'
import { isAdmin } from '../fleet/fleet.js'
import { canonicalBytes, parseCanonical } from '../../core/canonical-json.js'
import { isRawCid, manifestCid } from '../../core/cid.js'
import { checkCdcParams, FASTCDC_METHOD } from '../../core/cdc.js'
import { EnvelopeError, EnvelopeErrorCode, openEnvelope as openSignedEnvelope, sealEnvelope } from '../../core/envelope.js'
import {
  MANIFEST_PAYLOAD_TYPE, MANIFEST_SCHEMA, MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_ENVELOPE_BYTES, MAX_MODEL_LABELS,
  MAX_RANK, MAX_SAMPLE_ELEMENTS, MAX_TENSORS, MIN_CHUNK_BYTES
} from './constants.js'
import {
  InvalidManifestError, ManifestCidMismatchError, ManifestSignatureError, ManifestTooLargeError, NotAdminSignerError
} from './errors.js'
import { checkSampleTensor, sampleElements, TENSOR_TYPES } from './sample.js'
import { parse as parseSemver } from 'semver'
import type { FleetConfig } from '../fleet/fleet.js'
import type { ModelManifest, TensorSpec, VerifiedManifest } from './types.js'
import type { OpenedEnvelope } from '../../core/envelope.js'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'

const NAME_RE = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$/
const MAX_TENSOR_NAME = 256
const MAX_DIM_NAME = 128

/** True when `name` can name a model: 1-64 letters, digits, '.', '_', '-', starting and ending alphanumeric. */
export function isModelName (name: unknown): name is string {
  return typeof name === 'string' && NAME_RE.test(name)
}

/** A model version: semver 2.0.0 exactly as written (no `v` prefix, no spaces), at most 64 characters. */
export function isModelVersion (version: unknown): version is string {
  if (typeof version !== 'string' || version.length > 64) return false
  // semver's parser also takes `v1.2.3` and surrounding spaces: only its canonical form is a version.
  const v = parseSemver(version)
  return v != null && `${v.version}${v.build.length > 0 ? `+${v.build.join('.')}` : ''}` === version
}

/** The canonical bytes of a manifest, after checking it is valid. */
export function encodeManifest (manifest: ModelManifest): Uint8Array {
  validateManifest(manifest)
  return canonicalBytes(manifest)
}

function checkTensorSpecs (what: string, specs: unknown, fail: (why: string) => never): TensorSpec[] {
  if (!Array.isArray(specs) || specs.length === 0 || specs.length > MAX_TENSORS) fail(`${what} must list 1-${MAX_TENSORS} tensors`)
  const names = new Set<string>()
  for (const [i, s] of (specs as unknown[]).entries()) {
    const spec = s as Record<string, unknown>
    if (typeof spec !== 'object' || spec == null) fail(`${what}[${i}] is not an object`)
    if (typeof spec.name !== 'string' || spec.name.length === 0 || spec.name.length > MAX_TENSOR_NAME) fail(`${what}[${i}].name must be 1-${MAX_TENSOR_NAME} characters`)
    if (names.has(spec.name as string)) fail(`${what}[${i}].name "${spec.name as string}" is not unique`)
    names.add(spec.name as string)
    if (typeof spec.type !== 'string' || TENSOR_TYPES[spec.type] == null) fail(`${what}[${i}].type ${String(spec.type)} is not a supported element type`)
    if (!Array.isArray(spec.shape) || spec.shape.length > MAX_RANK) fail(`${what}[${i}].shape must be an array of at most ${MAX_RANK} dimensions`)
    for (const d of spec.shape as unknown[]) {
      const ok = (typeof d === 'number' && Number.isSafeInteger(d) && d >= -1) || (typeof d === 'string' && d.length <= MAX_DIM_NAME)
      if (!ok) fail(`${what}[${i}].shape holds an invalid dimension`)
    }
  }
  return specs as TensorSpec[]
}

/**
 * Schema 2: `chunking` names a known method with sane sizes, `chunkBytes` is its `maxBytes`, and
 * `chunkSizes` lists one size per chunk, each in [minBytes, maxBytes] (the last in [1, maxBytes]),
 * adding up to `size`.
 */
function checkChunkLayout (m: Record<string, unknown>, count: number, fail: (why: string) => never): void {
  const c = m.chunking as Record<string, unknown>
  if (typeof c !== 'object' || c == null || Array.isArray(c)) fail('schema 2 needs chunking')
  if (c.method !== FASTCDC_METHOD) fail(`chunking.method ${JSON.stringify(c.method)} is not ${FASTCDC_METHOD}`)
  const keys = Object.keys(c)
  if (keys.length !== 4) fail('chunking holds method, minBytes, avgBytes and maxBytes only')
  const params = { minBytes: c.minBytes as number, avgBytes: c.avgBytes as number, maxBytes: c.maxBytes as number }
  const problem = checkCdcParams(params)
  if (problem != null) fail(`chunking: ${problem}`)
  if (params.maxBytes > MAX_CHUNK_BYTES) fail(`chunking.maxBytes must be at most ${MAX_CHUNK_BYTES}`)
  if (m.chunkBytes !== params.maxBytes) fail('chunkBytes must equal chunking.maxBytes')
  const sizes = m.chunkSizes as unknown[]
  if (!Array.isArray(sizes) || sizes.length !== count) fail(`chunkSizes must list ${count} sizes, one per chunk`)
  let total = 0
  for (const [i, s] of sizes.entries()) {
    const least = i === sizes.length - 1 ? 1 : params.minBytes
    if (typeof s !== 'number' || !Number.isSafeInteger(s) || s < least || s > params.maxBytes) fail(`chunkSizes[${i}] must be an integer in [${least}, ${params.maxBytes}]`)
    total += s as number
  }
  if (total !== m.size) fail(`chunkSizes add up to ${total} bytes; size is ${m.size as number}`)
}

/**
 * Checks a parsed manifest document field by field and returns it typed. Unknown top-level fields
 * are allowed (a later packer may add optional ones) and kept. Throws {@link InvalidManifestError}.
 */
export function validateManifest (doc: unknown): ModelManifest {
  const fail = (why: string): never => { throw new InvalidManifestError(`invalid manifest: ${why}`) }
  if (typeof doc !== 'object' || doc == null || Array.isArray(doc)) fail('not an object')
  const m = doc as Record<string, unknown>
  if (m.kind !== 'TuttiModel') fail('kind must be "TuttiModel"')
  if (typeof m.schema !== 'number' || !Number.isInteger(m.schema) || m.schema < 1) fail('schema is missing')
  if ((m.schema as number) > MANIFEST_SCHEMA) fail(`schema ${m.schema as number} is newer than the supported ${MANIFEST_SCHEMA}`)
  if (!isModelName(m.name)) fail('name must be 1-64 letters, digits, ".", "_" or "-", starting and ending with a letter or digit')
  if (!isModelVersion(m.version)) fail(`version ${JSON.stringify(m.version)} is not semver (e.g. 1.2.0)`)
  if (typeof m.labels !== 'object' || m.labels == null || Array.isArray(m.labels)) fail('labels must be an object')
  const labels = Object.entries(m.labels as Record<string, unknown>)
  if (labels.length > MAX_MODEL_LABELS) fail(`${labels.length} labels, at most ${MAX_MODEL_LABELS}`)
  for (const [k, v] of labels) {
    if (typeof v !== 'string') fail(`label ${k} must be a string`)
    const problem = checkKeyValue(k, v as string)
    if (problem != null) fail(`label ${problem}`)
  }
  if (typeof m.chunkBytes !== 'number' || !Number.isSafeInteger(m.chunkBytes) || m.chunkBytes < MIN_CHUNK_BYTES || m.chunkBytes > MAX_CHUNK_BYTES) {
    fail(`chunkBytes must be an integer in [${MIN_CHUNK_BYTES}, ${MAX_CHUNK_BYTES}]`)
  }
  if (typeof m.size !== 'number' || !Number.isSafeInteger(m.size) || m.size < 1) fail('size must be a positive integer')
  if (!Array.isArray(m.chunks) || m.chunks.length > MAX_CHUNKS) fail(`chunks must be a list of at most ${MAX_CHUNKS}`)
  const chunks = m.chunks as unknown[]
  if (m.schema === 1) {
    if (m.chunking !== undefined || m.chunkSizes !== undefined) fail('chunking and chunkSizes need schema 2')
    if (chunks.length !== Math.ceil((m.size as number) / (m.chunkBytes as number))) fail(`${chunks.length} chunks cannot hold ${m.size as number} bytes in chunks of ${m.chunkBytes as number}`)
  } else {
    checkChunkLayout(m, chunks.length, fail)
  }
  for (const [i, c] of chunks.entries()) {
    if (!isRawCid(c)) fail(`chunks[${i}] is not a CIDv1 raw sha2-256 base32 string`)
  }
  if (!isRawCid(m.digest)) fail('digest is not a CIDv1 raw sha2-256 base32 string')
  if (typeof m.opset !== 'number' || !Number.isSafeInteger(m.opset) || m.opset < 1) fail('opset must be a positive integer')
  const inputs = checkTensorSpecs('inputs', m.inputs, fail)
  checkTensorSpecs('outputs', m.outputs, fail)
  const sample = m.sampleInput as Record<string, unknown>
  if (typeof sample !== 'object' || sample == null || Array.isArray(sample)) fail('sampleInput must be an object')
  const sampleNames = Object.keys(sample)
  if (sampleNames.length !== inputs.length || inputs.some(s => !Object.hasOwn(sample, s.name))) fail('sampleInput must hold exactly one tensor per input')
  for (const spec of inputs) {
    const problem = checkSampleTensor(spec, sample[spec.name])
    if (problem != null) fail(`sampleInput ${problem}`)
  }
  if (sampleElements(sample as ModelManifest['sampleInput']) > MAX_SAMPLE_ELEMENTS) fail(`sampleInput holds more than ${MAX_SAMPLE_ELEMENTS} elements`)
  if (typeof m.memoryEstimateBytes !== 'number' || !Number.isSafeInteger(m.memoryEstimateBytes) || m.memoryEstimateBytes < 0) fail('memoryEstimateBytes must be a non-negative integer')
  if (typeof m.createdAt !== 'string' || m.createdAt.length > 64 || Number.isNaN(Date.parse(m.createdAt))) fail('createdAt must be an ISO date')
  return m as unknown as ModelManifest
}

/** A signed envelope, ready to write or send, with what it says. */
export interface SealedManifest {
  cid: string
  manifest: ModelManifest
  manifestBytes: Uint8Array
  envelope: Uint8Array
  signer: string
}

/** Signs a manifest with an (admin) Ed25519 key and wraps it in an envelope. */
export async function sealManifest (manifest: ModelManifest, key: PrivateKey, options: AbortOptions = {}): Promise<SealedManifest> {
  if (key.type !== 'Ed25519') throw new InvalidManifestError(`manifests are signed with Ed25519 keys, not ${key.type}`)
  const manifestBytes = encodeManifest(manifest)
  let envelope: Uint8Array
  try {
    envelope = await sealEnvelope(key, MANIFEST_PAYLOAD_TYPE, manifestBytes, options)
  } catch (err) {
    throw manifestError(err, manifestBytes.byteLength, MAX_ENVELOPE_BYTES)
  }
  if (envelope.byteLength > MAX_ENVELOPE_BYTES) throw new ManifestTooLargeError(envelope.byteLength, MAX_ENVELOPE_BYTES)
  return { cid: manifestCid(manifestBytes), manifest, manifestBytes, envelope, signer: peerIdFromPublicKey(key.publicKey).toString() }
}

export interface OpenEnvelopeOptions extends AbortOptions {
  /** Refuse the envelope unless its manifest has this CID (what the caller asked a peer for). */
  expectedCid?: string
  /** @default MAX_ENVELOPE_BYTES */
  maxBytes?: number
}

/**
 * Verifies an envelope from anywhere untrusted: size, payload type and signature over the exact
 * bytes received, signer is an admin of `fleet`, optional expected CID, canonical and valid
 * manifest. Throws
 * {@link ManifestTooLargeError}, {@link InvalidManifestError}, {@link NotAdminSignerError},
 * {@link ManifestSignatureError} or {@link ManifestCidMismatchError}.
 */
export async function openEnvelope (envelope: Uint8Array, fleet: FleetConfig, options: OpenEnvelopeOptions = {}): Promise<VerifiedManifest> {
  return await open(envelope, fleet, options)
}

/**
 * As {@link openEnvelope} but accepts any signer whose signature verifies: for tools that read a
 * package before they know the fleet (the caller must check `signer` itself).
 */
export async function openEnvelopeAnySigner (envelope: Uint8Array, options: OpenEnvelopeOptions = {}): Promise<VerifiedManifest> {
  return await open(envelope, undefined, options)
}

/**
 * The model subsystem's error for an envelope error (of an envelope of `bytes` bytes, `maxBytes`
 * allowed); anything else (an abort) as it is.
 */
function manifestError (err: unknown, bytes: number, maxBytes: number): unknown {
  if (!(err instanceof EnvelopeError)) return err
  switch (err.code) {
    case EnvelopeErrorCode.TooLarge: return new ManifestTooLargeError(bytes, maxBytes)
    case EnvelopeErrorCode.Signature: return new ManifestSignatureError(`manifest ${err.message}`, { cause: err })
    case EnvelopeErrorCode.Invalid:
    case EnvelopeErrorCode.WrongType: return new InvalidManifestError(`manifest ${err.message}`, { cause: err })
    default: return err
  }
}

async function open (envelope: Uint8Array, fleet: FleetConfig | undefined, options: OpenEnvelopeOptions): Promise<VerifiedManifest> {
  const maxBytes = options.maxBytes ?? MAX_ENVELOPE_BYTES
  if (envelope.byteLength > maxBytes) throw new ManifestTooLargeError(envelope.byteLength, maxBytes)
  let opened: OpenedEnvelope
  try {
    opened = await openSignedEnvelope(envelope, { maxBytes, payloadType: MANIFEST_PAYLOAD_TYPE, signal: options.signal })
  } catch (err) {
    throw manifestError(err, envelope.byteLength, maxBytes)
  }
  const { signer, payload } = opened
  if (fleet != null && !isAdmin(fleet, signer)) throw new NotAdminSignerError(signer)
  const cid = manifestCid(payload)
  if (options.expectedCid != null && options.expectedCid !== cid) throw new ManifestCidMismatchError(options.expectedCid, cid)
  const parsed = parseCanonical(payload)
  if (!parsed.ok) throw new InvalidManifestError(`manifest bytes are ${parsed.reason}`)
  const manifest = validateManifest(parsed.value)
  return { cid, manifest, envelope, signer }
}
