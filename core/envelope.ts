/**
 * One signed envelope for every signed thing (model manifests now; policies, wave commands,
 * rollout progress, later join tokens and key rotations), after libp2p's RecordEnvelope:
 *
 * - the signature is Ed25519 over `signedBytes(payloadType, payload)`: a fixed domain, then the
 *   payload type and the payload, each length-prefixed, so a signature for one type can never be
 *   replayed as another, and no concatenation is ambiguous;
 * - the payload travels and is verified as the exact bytes received: nothing is re-serialized
 *   before the signature is checked;
 * - the reader bounds the size before decoding, then checks the type, then the signature.
 *
 * Who may sign what (an admin for policies, any node for its own wave commands) is the caller's
 * decision, from `signer`.
 */
import { publicKeyFromProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { TuttiError } from './errors.js'
import { SignedEnvelope as SignedEnvelopePb } from './pb/envelope.js'
import type { AbortOptions, PrivateKey, PublicKey } from '@libp2p/interface'

/** Prefix of every signed byte string: separates Tutti's signatures from any other use of a key. */
export const ENVELOPE_DOMAIN = 'tutti-envelope/1'

/** Longest payload type accepted, in characters. @default 64 */
export const MAX_PAYLOAD_TYPE_LENGTH = 64

export const EnvelopeErrorCode = {
  TooLarge: 'ERR_ENVELOPE_TOO_LARGE',
  Invalid: 'ERR_ENVELOPE_INVALID',
  WrongType: 'ERR_ENVELOPE_TYPE',
  Signature: 'ERR_ENVELOPE_SIGNATURE'
} as const

/** An envelope that cannot be accepted. Never retryable: the same bytes fail the same way. */
export class EnvelopeError extends TuttiError {
  constructor (code: typeof EnvelopeErrorCode[keyof typeof EnvelopeErrorCode], message: string, options: { cause?: unknown } = {}) {
    super(code, message, options)
    this.name = 'EnvelopeError'
  }
}

/** A verified envelope: the payload exactly as signed, and who signed it. */
export interface OpenedEnvelope {
  payloadType: string
  payload: Uint8Array
  publicKey: PublicKey
  /** The signer's peer id (base58btc), derived from its public key. */
  signer: string
  /** The whole envelope, as received (what peers store and exchange). */
  bytes: Uint8Array
}

export interface OpenOptions extends AbortOptions {
  /** Refuse anything over this many bytes, before decoding. */
  maxBytes: number
  /** Refuse any other payload type. */
  payloadType: string
}

const encoder = new TextEncoder()

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** The bytes a signature covers: each of domain, type and payload as varint length + bytes. */
export function signedBytes (payloadType: string, payload: Uint8Array): Uint8Array {
  const parts = [encoder.encode(ENVELOPE_DOMAIN), encoder.encode(payloadType), payload]
  const framed = parts.flatMap(p => [varint(p.byteLength), p])
  const out = new Uint8Array(framed.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of framed) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

function checkType (payloadType: string): void {
  if (payloadType.length === 0 || payloadType.length > MAX_PAYLOAD_TYPE_LENGTH) {
    throw new EnvelopeError(EnvelopeErrorCode.Invalid, `payload type must be 1-${MAX_PAYLOAD_TYPE_LENGTH} characters`)
  }
}

/** Signs `payload` as `payloadType` with an Ed25519 key and returns the envelope bytes. */
export async function sealEnvelope (key: PrivateKey, payloadType: string, payload: Uint8Array, options: AbortOptions = {}): Promise<Uint8Array> {
  checkType(payloadType)
  if (key.type !== 'Ed25519') throw new EnvelopeError(EnvelopeErrorCode.Invalid, `envelopes are signed with Ed25519 keys, not ${key.type}`)
  const signature = await key.sign(signedBytes(payloadType, payload), options)
  return SignedEnvelopePb.encode({
    payloadType,
    payload: payload as Uint8Array<ArrayBuffer>,
    publicKey: publicKeyToProtobuf(key.publicKey) as Uint8Array<ArrayBuffer>,
    signature: signature as Uint8Array<ArrayBuffer>
  })
}

/**
 * Verifies envelope bytes from anywhere untrusted: size before decoding, then the payload type,
 * then the Ed25519 signature over the exact payload bytes received. Throws {@link EnvelopeError}.
 */
export async function openEnvelope (bytes: Uint8Array, options: OpenOptions): Promise<OpenedEnvelope> {
  if (bytes.byteLength > options.maxBytes) {
    throw new EnvelopeError(EnvelopeErrorCode.TooLarge, `envelope is ${bytes.byteLength} bytes, at most ${options.maxBytes}`)
  }
  let pb: SignedEnvelopePb
  try {
    pb = SignedEnvelopePb.decode(bytes)
  } catch (err) {
    throw new EnvelopeError(EnvelopeErrorCode.Invalid, 'envelope does not decode', { cause: err })
  }
  if (pb.payloadType !== options.payloadType) {
    throw new EnvelopeError(EnvelopeErrorCode.WrongType, `envelope holds "${pb.payloadType.slice(0, MAX_PAYLOAD_TYPE_LENGTH)}", expected "${options.payloadType}"`)
  }
  let publicKey: PublicKey
  try {
    publicKey = publicKeyFromProtobuf(pb.publicKey)
  } catch (err) {
    throw new EnvelopeError(EnvelopeErrorCode.Invalid, 'envelope holds no valid public key', { cause: err })
  }
  if (publicKey.type !== 'Ed25519') throw new EnvelopeError(EnvelopeErrorCode.Invalid, `envelope is signed with a ${publicKey.type} key; Tutti signs with Ed25519`)
  const signer = peerIdFromPublicKey(publicKey).toString()
  let valid: boolean
  try {
    valid = await publicKey.verify(signedBytes(pb.payloadType, pb.payload), pb.signature, options)
  } catch (err) {
    throw new EnvelopeError(EnvelopeErrorCode.Signature, 'envelope signature cannot be checked', { cause: err })
  }
  if (!valid) throw new EnvelopeError(EnvelopeErrorCode.Signature, `envelope signature by ${signer} does not verify`)
  return { payloadType: pb.payloadType, payload: pb.payload, publicKey, signer, bytes }
}
