/**
 * The two documents a coordinator signs with its node key: wave commands (sent to one device)
 * and rollout progress (gossiped to all). Both are canonical JSON in a core/envelope. Opening one
 * checks, in order: size, envelope, type, signature, canonical payload, every field, and that the
 * signer is the coordinator the document names. Sealing runs the same checks, so a node never
 * signs what its peers would refuse.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { canonicalBytes, parseCanonical } from '../../core/canonical-json.js'
import { openEnvelope, sealEnvelope } from '../../core/envelope.js'
import {
  MAX_MESSAGE_LENGTH, MAX_CID_LENGTH, MAX_PEER_ID_LENGTH, MAX_PROGRESS_BYTES, MAX_ROLLOUT_NAME_LENGTH, MAX_WAVE_COMMAND_BYTES,
  ROLLOUT_PROGRESS_PAYLOAD_TYPE, WAVE_COMMAND_PAYLOAD_TYPE
} from './constants.js'
import { RolloutDocumentError, RolloutErrorCode } from './errors.js'
import type { OpenedRolloutProgress, OpenedWaveCommand, RolloutPhase, RolloutProgress, WaveAction, WaveCommand } from './index.js'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'

/** A DNS label, as a rollout's metadata.name. */
const ROLLOUT_NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/
/** base58btc, the alphabet of a peer id's string form. */
const PEER_ID_RE = /^[1-9A-HJ-NP-Za-km-z]+$/
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/

const WAVE_ACTIONS: readonly WaveAction[] = ['activate', 'revert']
const PHASES: readonly RolloutPhase[] = ['Progressing', 'Paused', 'Completed', 'Aborted', 'RolledBack']

/** Why `name` cannot be a rollout name, or undefined when it can. */
export function checkRolloutName (name: unknown): string | undefined {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_ROLLOUT_NAME_LENGTH || !ROLLOUT_NAME_RE.test(name)) {
    return `must be a DNS label of 1-${MAX_ROLLOUT_NAME_LENGTH} characters (a-z, 0-9, '-')`
  }
  return undefined
}

/** Why `id` cannot be a peer id's string form, or undefined when it can (the alphabet and length only). */
export function checkPeerId (id: unknown): string | undefined {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_PEER_ID_LENGTH || !PEER_ID_RE.test(id)) {
    return `must be a peer id (base58btc, 1-${MAX_PEER_ID_LENGTH} characters)`
  }
  return undefined
}

/** Reads one document's fields, raising one RolloutDocumentError that names the field. */
class Fields {
  private readonly obj: Record<string, unknown>

  constructor (private readonly what: string, value: unknown, required: readonly string[], optional: readonly string[] = []) {
    if (typeof value !== 'object' || value == null || Array.isArray(value)) this.fail('', 'must be a JSON object')
    this.obj = value as Record<string, unknown>
    for (const key of required) {
      if (!Object.hasOwn(this.obj, key)) this.fail(key, 'is missing')
    }
    for (const key of Object.keys(this.obj)) {
      if (!required.includes(key) && !optional.includes(key)) this.fail(key.slice(0, 40), 'is not a known field')
    }
  }

  fail (field: string, message: string): never {
    throw new RolloutDocumentError(RolloutErrorCode.Document, `${this.what}${field === '' ? '' : `.${field}`}: ${message}`)
  }

  literal<T extends string> (field: string, expected: T): T {
    if (this.obj[field] !== expected) this.fail(field, `must be "${expected}"`)
    return expected
  }

  name (field: string): string {
    const problem = checkRolloutName(this.obj[field])
    if (problem != null) this.fail(field, problem)
    return this.obj[field] as string
  }

  peerId (field: string): string {
    const problem = checkPeerId(this.obj[field])
    if (problem != null) this.fail(field, problem)
    return this.obj[field] as string
  }

  integer (field: string, min: number): number {
    const v = this.obj[field]
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) this.fail(field, `must be an integer >= ${min}`)
    return v
  }

  oneOf<T extends string> (field: string, allowed: readonly T[]): T {
    const v = this.obj[field]
    if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) this.fail(field, `must be one of ${allowed.join(', ')}`)
    return v as T
  }

  text (field: string, max: number): string {
    const v = this.obj[field]
    if (typeof v !== 'string' || v.length > max || CONTROL_RE.test(v)) this.fail(field, `must be text of at most ${max} characters, no control characters`)
    return v
  }

  has (field: string): boolean {
    return this.obj[field] !== undefined
  }
}

/** A wave command, checked field by field. Throws {@link RolloutDocumentError} (ERR_ROLLOUT_DOCUMENT). */
export function validateWaveCommand (value: unknown): WaveCommand {
  const f = new Fields('WaveCommand', value, ['kind', 'rollout', 'policyVersion', 'epoch', 'coordinator', 'action', 'seq', 'issuedAt'])
  return {
    kind: f.literal('kind', 'WaveCommand'),
    rollout: f.name('rollout'),
    policyVersion: f.integer('policyVersion', 1),
    epoch: f.integer('epoch', 1),
    coordinator: f.peerId('coordinator'),
    action: f.oneOf('action', WAVE_ACTIONS),
    seq: f.integer('seq', 0),
    issuedAt: f.integer('issuedAt', 0)
  }
}

/** Rollout progress, checked field by field. Throws {@link RolloutDocumentError} (ERR_ROLLOUT_DOCUMENT). */
export function validateRolloutProgress (value: unknown): RolloutProgress {
  const f = new Fields('RolloutProgress', value,
    ['kind', 'rollout', 'policyVersion', 'epoch', 'seq', 'coordinator', 'phase', 'step', 'stepStartedAt', 'updatedAt', 'message'],
    ['trip', 'cid'])
  const progress: RolloutProgress = {
    kind: f.literal('kind', 'RolloutProgress'),
    rollout: f.name('rollout'),
    policyVersion: f.integer('policyVersion', 1),
    epoch: f.integer('epoch', 1),
    seq: f.integer('seq', 0),
    coordinator: f.peerId('coordinator'),
    phase: f.oneOf('phase', PHASES),
    step: f.integer('step', 0),
    stepStartedAt: f.integer('stepStartedAt', 0),
    updatedAt: f.integer('updatedAt', 0),
    message: f.text('message', MAX_MESSAGE_LENGTH)
  }
  if (f.has('trip')) progress.trip = f.text('trip', MAX_MESSAGE_LENGTH)
  if (f.has('cid')) progress.cid = f.text('cid', MAX_CID_LENGTH)
  return progress
}

async function seal (what: string, doc: { coordinator: string }, nodeKey: PrivateKey, payloadType: string, maxBytes: number, options: AbortOptions): Promise<Uint8Array> {
  const signer = peerIdFromPrivateKey(nodeKey).toString()
  if (signer !== doc.coordinator) {
    throw new RolloutDocumentError(RolloutErrorCode.Signer, `${what} names coordinator ${doc.coordinator} but would be signed by ${signer}`)
  }
  const bytes = await sealEnvelope(nodeKey, payloadType, canonicalBytes(doc), options)
  if (bytes.byteLength > maxBytes) throw new RolloutDocumentError(RolloutErrorCode.Document, `${what} is ${bytes.byteLength} bytes sealed, at most ${maxBytes}`)
  return bytes
}

async function open (what: string, bytes: Uint8Array, payloadType: string, maxBytes: number, options: AbortOptions): Promise<{ value: unknown, signer: string, bytes: Uint8Array }> {
  const envelope = await openEnvelope(bytes, { maxBytes, payloadType, signal: options.signal })
  const parsed = parseCanonical(envelope.payload)
  if (!parsed.ok) throw new RolloutDocumentError(RolloutErrorCode.Document, `${what} payload is ${parsed.reason}`)
  return { value: parsed.value, signer: envelope.signer, bytes: envelope.bytes }
}

function checkSigner (what: string, coordinator: string, signer: string): void {
  if (signer !== coordinator) {
    throw new RolloutDocumentError(RolloutErrorCode.Signer, `${what} names coordinator ${coordinator} but is signed by ${signer}`)
  }
}

/**
 * Signs a wave command with the coordinator's node key, after the checks a device will run.
 * Throws {@link RolloutDocumentError}: ERR_ROLLOUT_DOCUMENT for a bad field, ERR_ROLLOUT_SIGNER
 * when the key is not `cmd.coordinator`'s.
 */
export async function sealWaveCommand (cmd: WaveCommand, nodeKey: PrivateKey, options: AbortOptions = {}): Promise<Uint8Array> {
  return await seal('WaveCommand', validateWaveCommand(cmd), nodeKey, WAVE_COMMAND_PAYLOAD_TYPE, MAX_WAVE_COMMAND_BYTES, options)
}

/**
 * Opens wave command envelope bytes from the network. Throws EnvelopeError (ERR_ENVELOPE_TOO_LARGE,
 * _INVALID, _TYPE, _SIGNATURE) or {@link RolloutDocumentError} (ERR_ROLLOUT_DOCUMENT for a payload
 * that is not canonical or has a bad field, ERR_ROLLOUT_SIGNER when the signer is not the named
 * coordinator). Whether the command is acceptable (epoch, policy) is the device's decision.
 */
export async function openWaveCommand (bytes: Uint8Array, options: AbortOptions = {}): Promise<OpenedWaveCommand> {
  const opened = await open('WaveCommand', bytes, WAVE_COMMAND_PAYLOAD_TYPE, MAX_WAVE_COMMAND_BYTES, options)
  const cmd = validateWaveCommand(opened.value)
  checkSigner('WaveCommand', cmd.coordinator, opened.signer)
  return { cmd, signer: opened.signer, bytes: opened.bytes }
}

/** Signs rollout progress with the coordinator's node key; the same errors as {@link sealWaveCommand}. */
export async function sealRolloutProgress (progress: RolloutProgress, nodeKey: PrivateKey, options: AbortOptions = {}): Promise<Uint8Array> {
  return await seal('RolloutProgress', validateRolloutProgress(progress), nodeKey, ROLLOUT_PROGRESS_PAYLOAD_TYPE, MAX_PROGRESS_BYTES, options)
}

/** Opens rollout progress envelope bytes (from gossip or a promise); the same errors as {@link openWaveCommand}. */
export async function openRolloutProgress (bytes: Uint8Array, options: AbortOptions = {}): Promise<OpenedRolloutProgress> {
  const opened = await open('RolloutProgress', bytes, ROLLOUT_PROGRESS_PAYLOAD_TYPE, MAX_PROGRESS_BYTES, options)
  const progress = validateRolloutProgress(opened.value)
  checkSigner('RolloutProgress', progress.coordinator, opened.signer)
  return { progress, signer: opened.signer, bytes: opened.bytes }
}
