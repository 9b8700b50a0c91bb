/**
 * The fleet's private network: every byte between two nodes is XORed with an XSalsa20 keystream
 * from the fleet's pre-shared key before noise even starts, so a device without the key cannot
 * complete a handshake. Same wire format and guarantees as `@libp2p/pnet` (each side sends a
 * random 24-byte nonce in the clear, then encrypts what it sends with its own nonce and decrypts
 * what it receives with the peer's; the 32-byte key is the swarm key itself), so our nodes talk
 * to stock peers. Our own because the stock one runs on `xsalsa20`'s WebAssembly, whose shared
 * memory grows on every switch between connections once any write passed 640 KiB, until
 * `WebAssembly.Memory.grow()` throws in a socket event and the process dies (docs/SECURITY.md).
 * This one runs on `@noble/ciphers` (pure JS, no shared state) and turns any failure into an
 * abort of that one connection.
 */
import { AbstractMultiaddrConnection, byteStream } from '@libp2p/utils'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { TuttiError } from '../../core/errors.js'
import { systemClock } from '../../core/clock.js'
import type { Clock } from '../../core/clock.js'
import type { AbortOptions, ConnectionProtector, MessageStream, MultiaddrConnection } from '@libp2p/interface'
import type { SendResult } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Bytes of the nonce each side sends in the clear when a connection opens. */
export const PNET_NONCE_BYTES = 24
/** Bytes of the pre-shared key. */
export const PNET_KEY_BYTES = 32
/** First line of a swarm key file (the only version there is). */
export const SWARM_KEY_TAG = '/key/swarm/psk/1.0.0/'
/** Second line: the encoding of the third. The only one we read (and the only one we write). */
export const SWARM_KEY_CODEC = '/base16/'
/**
 * Nonce exchange deadline when the caller passes no signal (libp2p's upgrader always passes its
 * own upgrade timeout). Same as `@libp2p/pnet`. @default 1000
 */
export const PNET_HANDSHAKE_TIMEOUT_MS = 1000
/**
 * Keystream blocks (64 bytes each) one direction of one connection may use: noble's counter is
 * 32 bits and refuses to wrap, so a connection ends after 256 GiB each way (libp2p redials with
 * fresh nonces). Stock peers would go on with a 64-bit counter; nothing reaches this in practice.
 */
export const PNET_MAX_BLOCKS = 2 ** 32 - 1

const BLOCK_BYTES = 64
/** Keystream generated ahead for small writes: 16 blocks. */
const KEYSTREAM_BUFFER_BYTES = 16 * BLOCK_BYTES
const ZEROS = new Uint8Array(KEYSTREAM_BUFFER_BYTES)
/** From this many bytes on, a write XORs its whole blocks in one cipher call of its own. */
const DIRECT_MIN_BYTES = 4 * BLOCK_BYTES

export type PnetErrorCode = 'ERR_PNET_KEY' | 'ERR_PNET_HANDSHAKE' | 'ERR_PNET_KEYSTREAM_EXHAUSTED' | 'ERR_PNET_CIPHER'

/** A private network failure: a bad swarm key, a failed nonce exchange, or a cipher that gave up. */
export class PnetError extends TuttiError {
  declare readonly code: PnetErrorCode

  constructor (code: PnetErrorCode, message: string, options: { cause?: unknown, retryable?: boolean } = {}) {
    super(code, message, options)
    this.name = 'PnetError'
  }
}

/**
 * Reads a swarm key file (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex digits, one a line) and
 * returns the 32-byte key. Throws {@link PnetError} `ERR_PNET_KEY` for anything else.
 */
export function decodeSwarmKey (file: Uint8Array): Uint8Array {
  const lines = new TextDecoder().decode(file).split(/\r\n|\r|\n/)
  const [tag, codec, hex] = lines
  if (tag !== SWARM_KEY_TAG) throw new PnetError('ERR_PNET_KEY', `swarm key must start with ${SWARM_KEY_TAG}`)
  if (codec !== SWARM_KEY_CODEC) throw new PnetError('ERR_PNET_KEY', `swarm key encoding must be ${SWARM_KEY_CODEC}`)
  if (hex == null || !new RegExp(`^[0-9a-fA-F]{${PNET_KEY_BYTES * 2}}$`).test(hex.trim())) {
    throw new PnetError('ERR_PNET_KEY', `swarm key must be ${PNET_KEY_BYTES * 2} hex digits`)
  }
  if (lines.slice(3).some(line => line.trim() !== '')) throw new PnetError('ERR_PNET_KEY', 'swarm key has extra lines')
  return Uint8Array.from(hex.trim().match(/../g) ?? [], byte => parseInt(byte, 16))
}

/**
 * One direction of a connection: an XSalsa20 keystream that goes on across calls, whatever the
 * chunk sizes, exactly as if all bytes had been encrypted at once. Small writes (yamux headers,
 * gossip) take their keystream from a buffer filled 16 blocks at a time, so they do not pay for
 * a cipher call each; large ones XOR in place of a copy, block-aligned, in one call.
 */
export class XSalsa20Stream {
  readonly #key: Uint8Array
  readonly #nonce: Uint8Array
  /** The next block of keystream not generated yet. */
  #block: number
  /** Keystream generated ahead: bytes #ksPos..#ksEnd are unused. */
  readonly #ks = new Uint8Array(KEYSTREAM_BUFFER_BYTES)
  #ksPos = 0
  #ksEnd = 0

  /** `startBlock` seeks into the keystream (in 64-byte blocks); a connection starts at 0. */
  constructor (key: Uint8Array, nonce: Uint8Array, startBlock = 0) {
    if (key.length !== PNET_KEY_BYTES) throw new PnetError('ERR_PNET_KEY', `key must be ${PNET_KEY_BYTES} bytes`)
    if (nonce.length !== PNET_NONCE_BYTES) throw new PnetError('ERR_PNET_HANDSHAKE', `nonce must be ${PNET_NONCE_BYTES} bytes`)
    this.#key = key.slice()
    this.#nonce = nonce.slice()
    this.#block = startBlock
  }

  /**
   * XORs `input` with the next `input.length` bytes of keystream into `output` (same length;
   * the same array is fine). Throws `ERR_PNET_KEYSTREAM_EXHAUSTED`, with nothing consumed, when
   * the keystream would run past {@link PNET_MAX_BLOCKS}.
   */
  xor (input: Uint8Array, output: Uint8Array): void {
    const len = input.length
    if (output.length !== len) throw new PnetError('ERR_PNET_CIPHER', 'output length differs from input length')
    if (len > (this.#ksEnd - this.#ksPos) + (PNET_MAX_BLOCKS - this.#block) * BLOCK_BYTES) {
      throw new PnetError('ERR_PNET_KEYSTREAM_EXHAUSTED', 'the keystream of this connection is used up; reconnect')
    }
    let pos = this.#fromBuffer(input, output, 0)
    const left = len - pos
    if (left >= DIRECT_MIN_BYTES) {
      const whole = left - (left % BLOCK_BYTES)
      xsalsa20(this.#key, this.#nonce, input.subarray(pos, pos + whole), output.subarray(pos, pos + whole), this.#block)
      this.#block += whole / BLOCK_BYTES
      pos += whole
    }
    while (pos < len) {
      const blocks = Math.min(KEYSTREAM_BUFFER_BYTES / BLOCK_BYTES, PNET_MAX_BLOCKS - this.#block)
      this.#ksEnd = blocks * BLOCK_BYTES
      xsalsa20(this.#key, this.#nonce, ZEROS.subarray(0, this.#ksEnd), this.#ks.subarray(0, this.#ksEnd), this.#block)
      this.#block += blocks
      this.#ksPos = 0
      pos = this.#fromBuffer(input, output, pos)
    }
  }

  #fromBuffer (input: Uint8Array, output: Uint8Array, from: number): number {
    const end = Math.min(input.length, from + this.#ksEnd - this.#ksPos)
    const ks = this.#ks
    let k = this.#ksPos
    for (let i = from; i < end; i++) output[i] = input[i]! ^ ks[k++]!
    this.#ksPos = k
    return end
  }
}

export interface PnetConnectionInit {
  /** The raw connection, after the nonce exchange. */
  maConn: MultiaddrConnection
  /** Decrypts what arrives: the key with the remote nonce. */
  inbound: XSalsa20Stream
  /** Encrypts what leaves: the key with our nonce. */
  outbound: XSalsa20Stream
}

/**
 * The connection after the nonce exchange: what goes out is encrypted, what comes in decrypted.
 * Nothing here throws out of a socket event; a failure aborts this connection only.
 */
export class PnetConnection extends AbstractMultiaddrConnection {
  readonly #maConn: MultiaddrConnection
  readonly #inbound: XSalsa20Stream
  readonly #outbound: XSalsa20Stream

  constructor (init: PnetConnectionInit) {
    super({ log: init.maConn.log.newScope('pnet'), remoteAddr: init.maConn.remoteAddr, direction: init.maConn.direction })
    this.#maConn = init.maConn
    this.#inbound = init.inbound
    this.#outbound = init.outbound

    this.#maConn.addEventListener('message', (evt) => {
      this.#guard(() => {
        const data = evt.data
        // One allocation per chunk: the transport may still own the bytes it handed us.
        const plain = new Uint8Array(data.byteLength)
        if (data instanceof Uint8Array) {
          this.#inbound.xor(data, plain)
        } else {
          let offset = 0
          for (const buf of data) {
            this.#inbound.xor(buf, plain.subarray(offset, offset + buf.byteLength))
            offset += buf.byteLength
          }
        }
        this.onData(plain)
      })
    })
    this.#maConn.addEventListener('drain', () => { this.#guard(() => { this.onMuxerDrain() }) })
    this.#maConn.addEventListener('close', (evt) => {
      this.#guard(() => {
        if (evt.error == null) this.onTransportClosed()
        else if (evt.local) this.abort(evt.error)
        else this.onRemoteReset()
      })
    })
  }

  /** Runs a listener body; anything it throws aborts this connection instead of the process. */
  #guard (fn: () => void): void {
    try {
      fn()
    } catch (err) {
      this.#fail(err)
    }
  }

  #fail (err: unknown): void {
    const error = err instanceof PnetError ? err : new PnetError('ERR_PNET_CIPHER', 'private network connection failed', { cause: err })
    try {
      this.abort(error)
    } catch (abortErr) {
      this.log.error('aborting after a pnet failure threw - %e', abortErr)
    }
  }

  sendData (data: Uint8ArrayList): SendResult {
    let sealed: Uint8Array
    try {
      sealed = new Uint8Array(data.byteLength)
      let offset = 0
      for (const buf of data) {
        this.#outbound.xor(buf, sealed.subarray(offset, offset + buf.byteLength))
        offset += buf.byteLength
      }
    } catch (err) {
      // Nothing of this chunk reaches the wire; the connection ends here. Reporting the bytes as
      // sent keeps the write path of the muxer above from throwing inside someone's event.
      this.#fail(err)
      return { sentBytes: data.byteLength, canSendMore: true }
    }
    return { sentBytes: data.byteLength, canSendMore: this.#maConn.send(sealed) }
  }

  async sendClose (options?: AbortOptions): Promise<void> {
    await this.#maConn.close(options)
  }

  sendReset (err: Error): void {
    this.#maConn.abort(err)
  }

  sendPause (): void {
    this.#maConn.pause()
  }

  sendResume (): void {
    this.#maConn.resume()
  }
}

export interface TuttiPreSharedKeyInit {
  /** The swarm key file's bytes (`/key/swarm/psk/1.0.0/`, `/base16/`, hex), as from fleet.swarmKey. */
  psk: Uint8Array
  /** Deadline for the nonce exchange when libp2p passes no signal, in ms. @default PNET_HANDSHAKE_TIMEOUT_MS */
  handshakeTimeoutMs?: number
  /** @default systemClock */
  clock?: Clock
}

class TuttiPreSharedKey implements ConnectionProtector {
  readonly [Symbol.toStringTag] = '@tutti/pnet'
  readonly #key: Uint8Array
  readonly #timeoutMs: number
  readonly #clock: Clock

  constructor (init: TuttiPreSharedKeyInit) {
    this.#key = decodeSwarmKey(init.psk)
    this.#timeoutMs = init.handshakeTimeoutMs ?? PNET_HANDSHAKE_TIMEOUT_MS
    this.#clock = init.clock ?? systemClock
  }

  async protect (connection: MessageStream, options: AbortOptions = {}): Promise<MessageStream> {
    const maConn = connection as MultiaddrConnection
    const localNonce = crypto.getRandomValues(new Uint8Array(PNET_NONCE_BYTES))
    const timeout = new AbortController()
    const timer = options.signal == null
      ? this.#clock.setTimeout(() => { timeout.abort(new PnetError('ERR_PNET_HANDSHAKE', `no nonce within ${this.#timeoutMs} ms`, { retryable: true })) }, this.#timeoutMs)
      : undefined
    const signal = options.signal ?? timeout.signal
    const bytes = byteStream(maConn)
    let remoteNonce: Uint8Array
    try {
      const [received] = await Promise.all([
        bytes.read({ bytes: PNET_NONCE_BYTES, signal }),
        bytes.write(localNonce, { signal })
      ])
      remoteNonce = received.subarray()
    } catch (err) {
      throw new PnetError('ERR_PNET_HANDSHAKE', 'private network nonce exchange failed', { cause: err, retryable: true })
    } finally {
      timer?.cancel()
    }
    return new PnetConnection({
      maConn: bytes.unwrap(),
      inbound: new XSalsa20Stream(this.#key, remoteNonce),
      outbound: new XSalsa20Stream(this.#key, localNonce)
    })
  }
}

/**
 * The connection protector for libp2p's `connectionProtector` option, in place of
 * `@libp2p/pnet`'s `preSharedKey` (and talking to it). Throws `ERR_PNET_KEY` on a bad key.
 */
export function tuttiPreSharedKey (init: TuttiPreSharedKeyInit): () => ConnectionProtector {
  const protector = new TuttiPreSharedKey(init)
  return () => protector
}
