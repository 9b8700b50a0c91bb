/**
 * The policy document an admin signs (`tutti/policy/1`, canonical JSON in a core/envelope) and
 * the one way to accept one from anywhere untrusted: {@link openPolicy}. The order of checks is
 * the order of cost: size before decoding, the signature over the exact bytes, the signer against
 * the fleet's trust root, then the canonical JSON and every field, the spec last.
 */
import { canonicalBytes, parseCanonical } from '../../core/canonical-json.js'
import { manifestCid } from '../../core/cid.js'
import { EnvelopeError, EnvelopeErrorCode, openEnvelope, sealEnvelope } from '../../core/envelope.js'
import { MAX_NAME_LENGTH, MAX_POLICY_BYTES, POLICY_PAYLOAD_TYPE } from '../../protocols/policy/index.js'
import { isAdmin } from '../fleet/fleet.js'
import { PolicyError, PolicyErrorCode } from './errors.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'

/** The admin's controls over a running rollout (see DESIGN-rollouts.md). */
export interface PolicyControl {
  /** `tutti rollout pause` / `resume`. */
  paused: boolean
  /** An indefinite `{pause: {}}` step at index i is passed iff resumedThrough >= i (-1: none). */
  resumedThrough: number
  /** `tutti rollout undo`: roll every updated device back. */
  undo: boolean
  /** `tutti delete rollout`: a tombstone; devices keep what they run. */
  deleted: boolean
}

/**
 * A rollout policy. `Spec` is the rollout package's RolloutSpec; this package checks it only
 * through the injected {@link SpecValidator} and otherwise treats it as opaque JSON.
 */
export interface PolicyDocument<Spec = unknown> {
  kind: 'RolloutPolicy'
  schema: 1
  /** Rollout name, a DNS label. */
  name: string
  /** Strictly increasing per name; a safe integer >= 1. */
  version: number
  /** RFC 3339. */
  issuedAt: string
  spec: Spec
  control: PolicyControl
}

/** Checks a policy's spec; throws (anything) when it is not valid. The message says why. */
export type SpecValidator = (spec: unknown) => void

/** A policy whose envelope verified, signed by an admin of the fleet. */
export interface VerifiedPolicy<Spec = unknown> {
  doc: PolicyDocument<Spec>
  /** The envelope bytes exactly as received: what is stored and passed on. */
  envelope: Uint8Array
  /** CID of the signed payload (json codec, sha2-256). */
  cid: string
  /** Peer id of the admin who signed it. */
  signer: string
}

export const POLICY_KIND = 'RolloutPolicy'
export const POLICY_SCHEMA = 1

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/
const TOP_KEYS = new Set(['kind', 'schema', 'name', 'version', 'issuedAt', 'spec', 'control'])
const CONTROL_KEYS = new Set(['paused', 'resumedThrough', 'undo', 'deleted'])

function invalid (message: string, cause?: unknown): PolicyError {
  return new PolicyError(PolicyErrorCode.Invalid, message, cause === undefined ? {} : { cause })
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value != null && !Array.isArray(value)
}

/** True when `name` can name a rollout: a DNS label (RFC 1123), 1-63 characters. */
export function isPolicyName (name: unknown): name is string {
  return typeof name === 'string' && name.length <= MAX_NAME_LENGTH && DNS_LABEL.test(name)
}

/**
 * Checks a decoded document field by field and returns it typed. Throws {@link PolicyError}
 * (ERR_POLICY_INVALID) naming the first bad field.
 */
export function validatePolicyDocument<Spec = unknown> (value: unknown, validateSpec?: SpecValidator): PolicyDocument<Spec> {
  if (!isObject(value)) throw invalid('policy is not a JSON object')
  for (const key of Object.keys(value)) {
    if (!TOP_KEYS.has(key)) throw invalid(`policy has an unknown field "${key.slice(0, 40)}"`)
  }
  if (value.kind !== POLICY_KIND) throw invalid(`kind must be "${POLICY_KIND}"`)
  if (value.schema !== POLICY_SCHEMA) {
    throw invalid(typeof value.schema === 'number' && value.schema > POLICY_SCHEMA
      ? `schema ${value.schema} is newer than the supported ${POLICY_SCHEMA}`
      : `schema must be ${POLICY_SCHEMA}`)
  }
  if (!isPolicyName(value.name)) throw invalid('name must be a DNS label: 1-63 lowercase letters, digits and dashes, starting and ending with a letter or digit')
  if (typeof value.version !== 'number' || !Number.isSafeInteger(value.version) || value.version < 1) throw invalid('version must be a safe integer >= 1')
  if (typeof value.issuedAt !== 'string' || !RFC3339.test(value.issuedAt) || !Number.isFinite(Date.parse(value.issuedAt))) {
    throw invalid('issuedAt must be an RFC 3339 time')
  }
  const control = value.control
  if (!isObject(control)) throw invalid('control must be an object')
  for (const key of Object.keys(control)) {
    if (!CONTROL_KEYS.has(key)) throw invalid(`control has an unknown field "${key.slice(0, 40)}"`)
  }
  for (const key of ['paused', 'undo', 'deleted'] as const) {
    if (typeof control[key] !== 'boolean') throw invalid(`control.${key} must be true or false`)
  }
  if (typeof control.resumedThrough !== 'number' || !Number.isSafeInteger(control.resumedThrough) || control.resumedThrough < -1) {
    throw invalid('control.resumedThrough must be an integer >= -1')
  }
  if (!isObject(value.spec)) throw invalid('spec must be an object')
  if (validateSpec != null) {
    try {
      validateSpec(value.spec)
    } catch (err) {
      throw invalid(`spec is not valid: ${(err as Error)?.message ?? String(err)}`, err)
    }
  }
  return value as unknown as PolicyDocument<Spec>
}

export interface SealPolicyOptions extends AbortOptions {
  validateSpec?: SpecValidator
}

/**
 * Signs a policy document with an admin key: validated, canonical JSON, sealed as
 * `tutti/policy/1`. Returns the envelope bytes. Throws {@link PolicyError} for a document no
 * node would accept (invalid, or over MAX_POLICY_BYTES).
 */
export async function sealPolicy (doc: PolicyDocument, adminKey: PrivateKey, options: SealPolicyOptions = {}): Promise<Uint8Array> {
  const payload = canonicalBytes(doc)
  const parsed = parseCanonical(payload)
  if (!parsed.ok) throw invalid(`policy cannot be written as canonical JSON: ${parsed.reason}`)
  validatePolicyDocument(parsed.value, options.validateSpec)
  const envelope = await sealEnvelope(adminKey, POLICY_PAYLOAD_TYPE, payload, options)
  if (envelope.byteLength > MAX_POLICY_BYTES) {
    throw new PolicyError(PolicyErrorCode.TooLarge, `policy envelope is ${envelope.byteLength} bytes, at most ${MAX_POLICY_BYTES}`)
  }
  return envelope
}

export interface OpenPolicyOptions extends AbortOptions {
  /** @default MAX_POLICY_BYTES */
  maxBytes?: number
}

/**
 * Verifies policy envelope bytes from anywhere untrusted (gossip, a peer, a file) and returns
 * the document with who signed it. Throws {@link PolicyError}: ERR_POLICY_TOO_LARGE,
 * ERR_POLICY_SIGNATURE, ERR_POLICY_NOT_ADMIN or ERR_POLICY_INVALID.
 */
export async function openPolicy<Spec = unknown> (bytes: Uint8Array, fleet: FleetConfig, validateSpec?: SpecValidator, options: OpenPolicyOptions = {}): Promise<VerifiedPolicy<Spec>> {
  const maxBytes = options.maxBytes ?? MAX_POLICY_BYTES
  if (bytes.byteLength > maxBytes) {
    throw new PolicyError(PolicyErrorCode.TooLarge, `policy envelope is ${bytes.byteLength} bytes, at most ${maxBytes}`)
  }
  let opened
  try {
    opened = await openEnvelope(bytes, { maxBytes, payloadType: POLICY_PAYLOAD_TYPE, signal: options.signal })
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err
    // An abort while the signature was being checked says nothing about the policy.
    options.signal?.throwIfAborted()
    switch (err.code) {
      case EnvelopeErrorCode.TooLarge: throw new PolicyError(PolicyErrorCode.TooLarge, err.message, { cause: err })
      case EnvelopeErrorCode.Signature: throw new PolicyError(PolicyErrorCode.Signature, err.message, { cause: err })
      default: throw invalid(`not a policy envelope: ${err.message}`, err)
    }
  }
  if (!isAdmin(fleet, opened.signer)) {
    throw new PolicyError(PolicyErrorCode.NotAdmin, `policy is signed by ${opened.signer}, who is not an admin of fleet ${fleet.fleetId}`)
  }
  const parsed = parseCanonical(opened.payload)
  if (!parsed.ok) throw invalid(`policy payload is ${parsed.reason}`)
  const doc = validatePolicyDocument<Spec>(parsed.value, validateSpec)
  return { doc, envelope: bytes, cid: manifestCid(opened.payload), signer: opened.signer }
}
