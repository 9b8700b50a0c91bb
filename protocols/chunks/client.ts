/**
 * The asking side of `/tutti/chunks/1.0.0`. Every answer is read with an explicit frame limit, and
 * checked against what was asked before it is believed: bitfield lengths, chunk sizes, frame order.
 * The caller verifies chunk bytes against their CIDs.
 */
import { pbStream } from '@libp2p/utils'
import { decodeBitfield, encodeBitfield } from './bitfield.js'
import {
  CHUNKS_PROTOCOL, CHUNKS_VERSION, DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_QUERY_TIMEOUT_MS, MAX_CHUNK_BYTES, MAX_ENVELOPE_BYTES,
  MAX_MANIFEST_CHUNKS, WRITE_TIMEOUT_MS, MAX_PIECE_BYTES, RESPONSE_OVERHEAD_BYTES
} from './constants.js'
import { ChunkProtocolError, ChunkRemoteError, ChunkTimeoutError, ChunkTransportError } from './errors.js'
import { ChunkRequest, ChunkResponse } from './pb/chunks.js'
import { Watchdog } from './watchdog.js'
import type { RateLimiter } from './types.js'
import type { Clock } from '../../core/clock.js'
import type { AbortOptions, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'

export interface ChunkClientComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  clock: Clock
}

export interface QueryOptions extends AbortOptions {
  /** @default DEFAULT_QUERY_TIMEOUT_MS */
  timeoutMs?: number
}

export interface HaveOptions extends QueryOptions {
  /** The chunk count the caller knows from the manifest; an answer with another count is refused. */
  chunkCount?: number
  /** Chunks this node holds, sent so a seed can offer what this node lacks. */
  have?: readonly boolean[]
  /** Chunks this node needs and knows no other source for (asks a seed to offer some of them). */
  want?: readonly boolean[]
}

export interface HaveAnswer {
  chunkCount: number
  /** offers[i]: the peer offers chunk i now. */
  offers: boolean[]
  /** The peer holds every chunk (even if it offers fewer). */
  complete: boolean
}

/** Asks `peer` which chunks of a manifest it offers. */
export async function requestHave (components: ChunkClientComponents, peer: PeerId, manifestCid: string, options: HaveOptions = {}): Promise<HaveAnswer> {
  const expected = options.chunkCount
  const encode = (values?: readonly boolean[]): Uint8Array<ArrayBuffer> => expected == null ? new Uint8Array() : bits(expected, values)
  const req = request({ kind: ChunkRequest.Kind.HAVE, manifestCid, have: encode(options.have), want: encode(options.want) })
  const res = await query(components, peer, req, MAX_MANIFEST_CHUNKS / 8 + RESPONSE_OVERHEAD_BYTES, options)
  return haveAnswer(res, expected)
}

function haveAnswer (res: ChunkResponse, expected: number | undefined): HaveAnswer {
  if (res.chunkCount > MAX_MANIFEST_CHUNKS) throw new ChunkProtocolError(`peer claims ${res.chunkCount} chunks, more than ${MAX_MANIFEST_CHUNKS}`)
  if (expected != null && res.chunkCount !== expected) throw new ChunkProtocolError(`peer says the manifest has ${res.chunkCount} chunks; it has ${expected}`)
  return { chunkCount: res.chunkCount, offers: decodeBitfield(res.bitfield, res.chunkCount), complete: res.complete }
}

function bits (count: number, values?: readonly boolean[]): Uint8Array<ArrayBuffer> {
  return values == null ? new Uint8Array() : encodeBitfield(count, i => values[i] === true) as Uint8Array<ArrayBuffer>
}

export interface WatchOptions extends AbortOptions {
  chunkCount: number
  have?: readonly boolean[]
  want?: readonly boolean[]
  /** Called with the first answer and every later one. Throwing ends the watch with that error. */
  onAnswer: (answer: HaveAnswer) => void
  /** How long to wait for the first answer, in ms. @default DEFAULT_QUERY_TIMEOUT_MS */
  timeoutMs?: number
}

/** An open WATCH: the peer sends its offer whenever it changes. */
export interface HaveWatch {
  /** Sends this node's fresh `have` and `want` (a seed plans its offers on them). */
  update(have: readonly boolean[], want: readonly boolean[]): void
  /** Ends the watch. */
  close(): void
  /** Settles when the watch ends: resolves if closed by `close()`, rejects with why otherwise. */
  readonly ended: Promise<void>
}

/**
 * Opens a WATCH on `peer` for a manifest: one long-lived stream on which the peer answers at
 * once and again whenever its offer changes. Resolves after the first answer.
 */
export async function watchHave (components: ChunkClientComponents, peer: PeerId, manifestCid: string, options: WatchOptions): Promise<HaveWatch> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  const closer = new AbortController()
  const signal = options.signal == null ? closer.signal : AbortSignal.any([options.signal, closer.signal])
  const first = new Watchdog(components.clock, timeoutMs, () => new ChunkTimeoutError(`peer did not answer within ${timeoutMs} ms`), signal)
  const { stream, pb } = await open(components, peer, MAX_MANIFEST_CHUNKS / 8 + RESPONSE_OVERHEAD_BYTES, first)
  const count = options.chunkCount
  const watchRequest = (have?: readonly boolean[], want?: readonly boolean[]): ChunkRequest =>
    request({ kind: ChunkRequest.Kind.WATCH, manifestCid, have: bits(count, have), want: bits(count, want) })
  try {
    await pb.write(watchRequest(options.have, options.want), ChunkRequest, { signal: first.signal })
    const res = await pb.read(CheckedResponse, { signal: first.signal })
    if (res.errorCode !== '') throw new ChunkRemoteError(res.errorCode, res.errorMessage)
    options.onAnswer(haveAnswer(res, count))
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw translate(err, first, options.signal)
  } finally {
    first.stop()
  }
  let writing = Promise.resolve()
  const ended = (async () => {
    try {
      for (;;) {
        const res = await pb.read(CheckedResponse, { signal })
        if (res.errorCode !== '') throw new ChunkRemoteError(res.errorCode, res.errorMessage)
        options.onAnswer(haveAnswer(res, count))
      }
    } catch (err) {
      if (closer.signal.aborted) {
        await stream.close().catch(() => { stream.abort(new Error('close failed')) })
        return
      }
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      if (options.signal?.aborted === true) throw options.signal.reason
      if (err instanceof ChunkRemoteError || err instanceof ChunkProtocolError) throw err
      throw new ChunkTransportError(`the watch ended: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
  })()
  ended.catch(() => {})
  return {
    update: (have, want) => {
      writing = writing.then(async () => {
        if (signal.aborted) return
        const writing = new Watchdog(components.clock, WRITE_TIMEOUT_MS, () => new ChunkTimeoutError('the peer does not read'), signal)
        try {
          await pb.write(watchRequest(have, want), ChunkRequest, { signal: writing.signal })
        } finally {
          writing.stop()
        }
      }).catch(err => { if (!signal.aborted) stream.abort(err instanceof Error ? err : new Error(String(err))) })
    },
    close: () => { closer.abort(new Error('watch closed')) },
    ended
  }
}

/** Fetches a manifest envelope by CID. The caller verifies it (signature, CID) before use. */
export async function requestManifest (components: ChunkClientComponents, peer: PeerId, manifestCid: string, options: QueryOptions = {}): Promise<Uint8Array> {
  const res = await query(components, peer, request({ kind: ChunkRequest.Kind.MANIFEST, manifestCid }), MAX_ENVELOPE_BYTES + RESPONSE_OVERHEAD_BYTES, options)
  if (res.envelope.byteLength === 0) throw new ChunkProtocolError('peer answered a manifest request without an envelope')
  return res.envelope
}

export interface WantedChunk {
  cid: string
  /** The chunk's size from the manifest: a peer that announces another size is refused. */
  size: number
}

export interface ChunksOptions extends AbortOptions {
  manifestCid?: string
  /** No frame for this long aborts the transfer, in ms. @default DEFAULT_IDLE_TIMEOUT_MS */
  idleTimeoutMs?: number
  /** Paces received bytes (this node's download cap). */
  downloadLimiter?: RateLimiter
  /** Called for every piece received, with its size (progress). */
  onPiece?: (bytes: number) => void
  /**
   * Called with each complete chunk, by position in `chunks`. Unverified: the callee checks the
   * bytes against the CID; throwing ends the transfer with that error.
   */
  onChunk: (position: number, bytes: Uint8Array) => void | Promise<void>
  /** Called when the peer says it does not hold the chunk at `position`. */
  onMissing?: (position: number) => void
}

/**
 * Asks `peer` for `chunks` and receives them, frame by frame, in order. Resolves once every chunk
 * was delivered or reported missing; rejects with {@link ChunkRemoteError},
 * {@link ChunkProtocolError}, {@link ChunkTimeoutError}, {@link ChunkTransportError}, the error
 * `onChunk` threw, or the signal's reason.
 */
export async function requestChunks (components: ChunkClientComponents, peer: PeerId, chunks: readonly WantedChunk[], options: ChunksOptions): Promise<void> {
  for (const c of chunks) {
    if (!Number.isSafeInteger(c.size) || c.size < 0 || c.size > MAX_CHUNK_BYTES) throw new RangeError(`chunk size ${c.size} is out of range`)
  }
  const idleMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  const watchdog = new Watchdog(components.clock, idleMs, () => new ChunkTimeoutError(`peer sent nothing for ${idleMs} ms`), options.signal)
  const { stream, pb } = await open(components, peer, MAX_PIECE_BYTES + RESPONSE_OVERHEAD_BYTES, watchdog)
  let calleeError: unknown
  try {
    await pb.write(request({ kind: ChunkRequest.Kind.CHUNKS, manifestCid: options.manifestCid ?? '', chunkCids: chunks.map(c => c.cid) }), ChunkRequest, { signal: watchdog.signal })
    let position = 0
    let buffer = new Uint8Array(0)
    let received = 0
    while (position < chunks.length) {
      const res = await pb.read(CheckedResponse, { signal: watchdog.signal })
      watchdog.kick()
      if (res.errorCode !== '') throw new ChunkRemoteError(res.errorCode, res.errorMessage)
      if (res.index !== position) throw new ChunkProtocolError(`peer sent a frame for chunk ${res.index} while chunk ${position} was due`)
      if (res.missing) {
        if (received > 0) throw new ChunkProtocolError(`peer said chunk ${position} is missing after sending part of it`)
        options.onMissing?.(position)
        position++
        continue
      }
      const want = chunks[position]!
      if (res.total !== want.size) throw new ChunkProtocolError(`peer announced ${res.total} bytes for chunk ${position}; the manifest says ${want.size}`)
      if (res.offset !== received) throw new ChunkProtocolError(`peer sent offset ${res.offset} of chunk ${position}; ${received} was due`)
      if (received + res.data.byteLength > want.size || (res.data.byteLength === 0 && want.size > 0)) {
        throw new ChunkProtocolError(`peer sent a frame of ${res.data.byteLength} bytes at offset ${res.offset} of a ${want.size}-byte chunk`)
      }
      if (received === 0) buffer = new Uint8Array(want.size)
      buffer.set(res.data, received)
      received += res.data.byteLength
      options.onPiece?.(res.data.byteLength)
      await options.downloadLimiter?.take(res.data.byteLength, { signal: watchdog.signal })
      watchdog.kick()
      if (received === want.size) {
        const done = buffer
        buffer = new Uint8Array(0)
        received = 0
        try {
          await options.onChunk(position, done)
        } catch (err) {
          calleeError = err
          throw err
        }
        position++
      }
    }
    await stream.close({ signal: watchdog.signal }).catch((err: Error) => { stream.abort(err) })
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    if (err === calleeError && options.signal?.aborted !== true) throw err
    throw translate(err, watchdog, options.signal)
  } finally {
    watchdog.stop()
  }
}

/**
 * ChunkResponse, its decoding failures typed: whatever the decoder throws on a frame that arrived
 * whole (a bad wire type, a field past its limit, a length beyond the frame) is the peer's fault.
 */
const CheckedResponse: Pick<typeof ChunkResponse, 'encode' | 'decode'> = {
  encode: ChunkResponse.encode,
  decode: (buf, opts) => {
    try {
      return ChunkResponse.decode(buf, opts)
    } catch (err) {
      throw new ChunkProtocolError(`peer sent an undecodable frame: ${(err as Error)?.message ?? String(err)}`, { cause: err })
    }
  }
}

function request (req: Partial<ChunkRequest>): ChunkRequest {
  return { version: CHUNKS_VERSION, kind: ChunkRequest.Kind.KIND_UNSPECIFIED, manifestCid: '', chunkCids: [], have: new Uint8Array(), want: new Uint8Array(), ...req }
}

async function open (components: ChunkClientComponents, peer: PeerId, maxFrameBytes: number, watchdog: Watchdog): Promise<{ stream: Stream, pb: ProtobufStream<Stream> }> {
  let stream: Stream
  try {
    stream = await components.libp2p.dialProtocol(peer, CHUNKS_PROTOCOL, { signal: watchdog.signal })
  } catch (err) {
    watchdog.stop()
    if (watchdog.signal.aborted) throw translate(err, watchdog, undefined)
    const e = err as { name?: string, message?: string }
    if (e?.name === 'UnsupportedProtocolError') throw new ChunkTransportError(`peer does not speak ${CHUNKS_PROTOCOL}`, { cause: err, unsupported: true })
    throw new ChunkTransportError(`cannot open a chunk stream: ${e?.message ?? String(err)}`, { cause: err })
  }
  return { stream, pb: pbStream(stream, { maxDataLength: maxFrameBytes, maxBufferSize: Math.max(4 * 1024 * 1024, 2 * maxFrameBytes) }) }
}

/** One request, one answer: HAVE and MANIFEST. */
async function query (components: ChunkClientComponents, peer: PeerId, req: ChunkRequest, maxFrameBytes: number, options: QueryOptions): Promise<ChunkResponse> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_QUERY_TIMEOUT_MS
  const watchdog = new Watchdog(components.clock, timeoutMs, () => new ChunkTimeoutError(`peer did not answer within ${timeoutMs} ms`), options.signal)
  const { stream, pb } = await open(components, peer, maxFrameBytes, watchdog)
  try {
    await pb.write(req, ChunkRequest, { signal: watchdog.signal })
    const res = await pb.read(CheckedResponse, { signal: watchdog.signal })
    await stream.close({ signal: watchdog.signal }).catch((err: Error) => { stream.abort(err) })
    if (res.errorCode !== '') throw new ChunkRemoteError(res.errorCode, res.errorMessage)
    return res
  } catch (err) {
    stream.abort(err instanceof Error ? err : new Error(String(err)))
    throw translate(err, watchdog, options.signal)
  } finally {
    watchdog.stop()
  }
}

/** The error a caller should see: its own abort, our timeout, a typed error, or a transport error. */
function translate (err: unknown, watchdog: Watchdog, callerSignal: AbortSignal | undefined): unknown {
  if (callerSignal?.aborted === true) return callerSignal.reason
  if (watchdog.signal.aborted && watchdog.signal.reason instanceof ChunkTimeoutError) return watchdog.signal.reason
  if (err instanceof ChunkRemoteError || err instanceof ChunkProtocolError || err instanceof ChunkTransportError) return err
  const e = err as { name?: string, message?: string }
  if (e?.name === 'InvalidDataLengthError' || e?.name === 'InvalidDataLengthLengthError') {
    return new ChunkProtocolError(`peer sent a frame larger than allowed: ${e.message ?? ''}`, { cause: err })
  }
  return new ChunkTransportError(`chunk exchange failed: ${e?.message ?? String(err)}`, { cause: err })
}
