/**
 * Three changes to how the libp2p stack's own code runs, made once per process before any node or
 * dialer is built. None changes a byte's meaning on the wire: stock peers (js, go, rust) see
 * valid yamux and noise framing, only fewer frames and the same bytes.
 *
 * 1. **yamux window updates at half a window** (`@libp2p/yamux` 8.x). js-yamux answers every data
 *    frame it receives with a window update, so every gossip message, chunk request or answer
 *    costs a second frame the other way: its own noise encryption, socket write and TCP segment.
 *    Counted on 10 idle nodes (TCP, 1 s heartbeats): 123 socket writes a node a second, half of
 *    them window updates. go-yamux and rust-yamux send an update only once the window the sender
 *    has left falls below half (go-yamux `segmentedBuffer.GrowTo`); this does the same. The sender
 *    always keeps at least half a window (128 KiB at first) to send into, and the window's
 *    auto-tuning runs, as in go-yamux, when an update is sent.
 * 2. **No RangeError per received chunk** (`@libp2p/utils` `LengthPrefixedDecoder`, noise's frame
 *    decoder). The decoder loops until the length prefix cannot be read, and learns that from the
 *    length decoder throwing a new `RangeError`: after every chunk that ended on a frame boundary,
 *    that is after nearly every one, an error with a captured stack (~5 us). Here the length decoder
 *    is asked nothing when no byte is buffered, and the decoder stops there as it would have.
 * 3. **Ed25519 keys parsed once** (`@libp2p/crypto` 5.x, Node's crypto). Every signature check
 *    (each gossip message's, under StrictSign, on a public key gossipsub builds afresh from the
 *    message's `from`) turned the 32 raw bytes into a JWK, base64url and all, and had OpenSSL parse
 *    it into a new KeyObject; every signature made did the same with the private key. That was
 *    about 6 % of the main thread of 20 idle in-process nodes, more than the verification itself
 *    (5 %). Here a public key's KeyObject comes from a bounded cache keyed by its bytes
 *    ({@link ED25519_KEY_CACHE_SIZE}) and a private key's is kept on the key; the signature
 *    checks are OpenSSL's own, unchanged. Anything but a 32-byte key and a 64-byte signature goes
 *    the shipped way (its errors included).
 *
 * Each change checks the methods it wraps when it is applied and throws {@link StackTuningError}
 * if a dependency upgrade moved them, so that upgrade fails at start-up, in tests. A stream or
 * decoder whose fields were renamed runs as shipped (nothing throws inside a socket event); the
 * tests on real nodes count frames and calls and fail then. `TUTTI_STOCK_LIBP2P=1` leaves the stack as shipped (benchmarks compare
 * both; see docs/BENCHMARKS.md).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, sign as signWith, verify as verifyWith } from 'node:crypto'
import { privateKeyFromRaw, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { TuttiError } from '../../core/errors.js'

export class StackTuningError extends TuttiError {
  constructor (message: string) {
    super('ERR_STACK_TUNING', `${message}: review node/mesh/stack-tuning.ts against the installed version`)
    this.name = 'StackTuningError'
  }
}

/** The fields of a yamux stream the window rule reads (private in its typings). */
interface YamuxStreamWindow {
  state: StreamState
  recvWindow: number
  recvWindowCapacity: number
  sendWindowUpdate: () => void
}

/** The fields of a length-prefixed decoder the empty-buffer rule reads. */
interface LengthPrefixedDecoderFields {
  lengthDecoder: (data: { byteLength: number }) => number
  [DECODER_GUARDED]?: boolean
}

const YAMUX_TUNED = Symbol.for('tutti.yamux.windowUpdateAtHalf')
const DECODER_TUNED = Symbol.for('tutti.lengthPrefixedDecoder.noThrowWhenEmpty')
/** Set on each decoder instance once its length decoder is wrapped. */
const DECODER_GUARDED = Symbol('tutti.lengthPrefixedDecoder.guarded')
/** Thrown (never constructed again) when no byte of a length prefix is buffered. */
const NOTHING_BUFFERED = new RangeError('no length prefix buffered')

/**
 * Whether a window update may be left out: the stream is open (no SYN or ACK to carry, not paused)
 * and the peer can still send at least half a window. Pure; exported for its tests.
 */
export function windowUpdateMayWait (state: StreamState, recvWindow: number, recvWindowCapacity: number): boolean {
  if (state === StreamState.Init || state === StreamState.SYNReceived || state === StreamState.Paused) return false
  return recvWindow - recvWindowCapacity < recvWindow / 2
}

/** Sends yamux window updates only once half the window is used (change 1 above). */
export function tuneYamuxWindowUpdates (): void {
  const proto = YamuxStream.prototype as unknown as YamuxStreamWindow & Record<symbol, boolean>
  if (proto[YAMUX_TUNED] === true) return
  const original = proto.sendWindowUpdate
  if (typeof original !== 'function' || original.length !== 0) throw new StackTuningError('YamuxStream.sendWindowUpdate is not the method this tunes')
  if (typeof StreamState.Paused !== 'number' || typeof StreamState.SYNReceived !== 'number' || typeof StreamState.Init !== 'number') {
    throw new StackTuningError('yamux StreamState no longer has Init, SYNReceived and Paused')
  }
  proto.sendWindowUpdate = function (this: YamuxStreamWindow) {
    // A stream without these fields (a yamux that renamed them) gets the stock behaviour: never a
    // throw inside a socket event. The tests on real nodes count the updates and catch it.
    if (typeof this.recvWindow === 'number' && typeof this.recvWindowCapacity === 'number' &&
      windowUpdateMayWait(this.state, this.recvWindow, this.recvWindowCapacity)) return
    original.call(this)
  }
  proto[YAMUX_TUNED] = true
}

/** Stops the length-prefixed decoder's loop on an empty buffer without a new RangeError (change 2). */
export function tuneLengthPrefixedDecoder (): void {
  const proto = LengthPrefixedDecoder.prototype as unknown as { decode: (this: LengthPrefixedDecoderFields, buf: unknown) => Generator<unknown> } & Record<symbol, boolean>
  if (proto[DECODER_TUNED] === true) return
  const original = proto.decode
  if (typeof original !== 'function') throw new StackTuningError('LengthPrefixedDecoder.decode is missing')
  proto.decode = function (this: LengthPrefixedDecoderFields, buf: unknown) {
    if (this[DECODER_GUARDED] !== true) {
      this[DECODER_GUARDED] = true
      const decodeLength = this.lengthDecoder
      // Without a length decoder of its own (a renamed field) the decoder stays as shipped.
      if (typeof decodeLength === 'function') {
        this.lengthDecoder = (data) => {
          if (data.byteLength === 0) throw NOTHING_BUFFERED
          return decodeLength(data)
        }
      }
    }
    return original.call(this, buf)
  }
  proto[DECODER_TUNED] = true
}

/** Public keys whose KeyObject is kept (change 3); past that the least recently used goes. */
export const ED25519_KEY_CACHE_SIZE = 4096
const ED25519_TUNED = Symbol.for('tutti.ed25519.keyObjectsCached')
/** Set on each private key once its KeyObject is made. */
const PRIVATE_KEY_OBJECT = Symbol('tutti.ed25519.privateKeyObject')
/** DER SubjectPublicKeyInfo of an Ed25519 key: this prefix, then the 32 raw bytes (RFC 8410). */
const ED25519_SPKI_PREFIX = Uint8Array.from([0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00])
/** DER PKCS #8 of an Ed25519 private key: this prefix, then its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20])
const publicKeyObjects = new Map<string, ReturnType<typeof createPublicKey>>()
/** This module has applied change 3 (the prototype's symbol says so across copies of it). */
let ed25519Tuned = false

/** The KeyObject of a raw 32-byte Ed25519 public key, from the cache or made and cached. */
function ed25519PublicKeyObject (raw: Uint8Array): ReturnType<typeof createPublicKey> {
  const id = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('latin1')
  let key = publicKeyObjects.get(id)
  if (key !== undefined) {
    // Most recently used last: the first entry is the one to drop.
    publicKeyObjects.delete(id)
    publicKeyObjects.set(id, key)
    return key
  }
  const der = new Uint8Array(ED25519_SPKI_PREFIX.length + 32)
  der.set(ED25519_SPKI_PREFIX)
  der.set(raw, ED25519_SPKI_PREFIX.length)
  key = createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })
  if (publicKeyObjects.size >= ED25519_KEY_CACHE_SIZE) publicKeyObjects.delete(publicKeyObjects.keys().next().value!)
  publicKeyObjects.set(id, key)
  return key
}

/** How many public keys' KeyObjects are cached (for tests). */
export function ed25519KeyCacheSize (): number {
  return publicKeyObjects.size
}

interface Ed25519PublicKeyFields { raw: Uint8Array, verify: (data: Uint8Array | { subarray: () => Uint8Array }, sig: Uint8Array, options?: { signal?: AbortSignal }) => boolean | Promise<boolean> }
interface Ed25519PrivateKeyFields { raw: Uint8Array, sign: (message: Uint8Array | { subarray: () => Uint8Array }, options?: { signal?: AbortSignal }) => Uint8Array | Promise<Uint8Array>, [PRIVATE_KEY_OBJECT]?: ReturnType<typeof createPrivateKey> }

/** Parses each Ed25519 key into a KeyObject once (change 3). */
export function tuneEd25519Keys (): void {
  if (ed25519Tuned) return
  // A key pair of @libp2p/crypto's classes, made here synchronously: seed and public key, raw.
  const pair = generateKeyPairSync('ed25519')
  const d = Buffer.from(pair.privateKey.export({ format: 'jwk' }).d!, 'base64url')
  const x = Buffer.from(pair.publicKey.export({ format: 'jwk' }).x!, 'base64url')
  const probe = privateKeyFromRaw(new Uint8Array(Buffer.concat([d, x]))) as unknown as Ed25519PrivateKeyFields & { publicKey: Ed25519PublicKeyFields }
  const publicProto = Object.getPrototypeOf(probe.publicKey) as Ed25519PublicKeyFields & Record<symbol, boolean>
  const privateProto = Object.getPrototypeOf(probe) as Ed25519PrivateKeyFields & Record<symbol, boolean>
  if (publicProto[ED25519_TUNED] === true) {
    ed25519Tuned = true
    return
  }
  if (Object.getPrototypeOf(publicKeyFromRaw(probe.publicKey.raw)) !== publicProto) throw new StackTuningError('@libp2p/crypto builds Ed25519 public keys of two classes')
  const originalVerify = publicProto.verify
  const originalSign = privateProto.sign
  if (typeof originalVerify !== 'function' || typeof originalSign !== 'function' || !(probe.raw instanceof Uint8Array) || probe.raw.byteLength !== 64 || typeof privateProto.sign !== 'function') {
    throw new StackTuningError('Ed25519 keys of @libp2p/crypto no longer have raw bytes, sign and verify')
  }
  publicProto.verify = function (this: Ed25519PublicKeyFields, data, sig, options) {
    if (!(this.raw instanceof Uint8Array) || this.raw.byteLength !== 32 || !(sig instanceof Uint8Array) || sig.byteLength !== 64) {
      return originalVerify.call(this, data, sig, options)
    }
    options?.signal?.throwIfAborted()
    return verifyWith(null, data instanceof Uint8Array ? data : data.subarray(), ed25519PublicKeyObject(this.raw), sig)
  }
  privateProto.sign = function (this: Ed25519PrivateKeyFields, message, options) {
    // raw: the 32-byte seed, then the 32-byte public key.
    if (!(this.raw instanceof Uint8Array) || this.raw.byteLength !== 64) return originalSign.call(this, message, options)
    options?.signal?.throwIfAborted()
    let key = this[PRIVATE_KEY_OBJECT]
    if (key === undefined) {
      const der = new Uint8Array(ED25519_PKCS8_PREFIX.length + 32)
      der.set(ED25519_PKCS8_PREFIX)
      der.set(this.raw.subarray(0, 32), ED25519_PKCS8_PREFIX.length)
      key = createPrivateKey({ key: Buffer.from(der), format: 'der', type: 'pkcs8' })
      Object.defineProperty(this, PRIVATE_KEY_OBJECT, { value: key, enumerable: false })
    }
    return new Uint8Array(signWith(null, message instanceof Uint8Array ? message : message.subarray(), key))
  }
  // The same bytes as the shipped code, or the change is withdrawn before anything uses it.
  const message = new TextEncoder().encode('tutti stack tuning')
  const shipped = originalSign.call(probe, message)
  const tuned = privateProto.sign.call(probe, message)
  const forged = Uint8Array.from(tuned as Uint8Array)
  forged[0]! ^= 1
  if (!(shipped instanceof Uint8Array) || !(tuned instanceof Uint8Array) || !Buffer.from(shipped).equals(Buffer.from(tuned)) ||
    publicProto.verify.call(probe.publicKey, message, shipped) !== true || publicProto.verify.call(probe.publicKey, message, forged) !== false) {
    publicProto.verify = originalVerify
    privateProto.sign = originalSign
    throw new StackTuningError('Ed25519 signatures made with a cached KeyObject differ from the shipped ones')
  }
  publicProto[ED25519_TUNED] = true
  ed25519Tuned = true
}

/**
 * Applies the three changes, once per process (later calls do nothing), unless the environment has
 * `TUTTI_STOCK_LIBP2P=1`. Returns whether the stack is tuned.
 */
export function tuneLibp2pStack (env: Record<string, string | undefined> = process.env): boolean {
  if (env.TUTTI_STOCK_LIBP2P === '1') return false
  tuneYamuxWindowUpdates()
  tuneLengthPrefixedDecoder()
  tuneEd25519Keys()
  return true
}
