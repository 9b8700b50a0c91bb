import { pbStream } from '@libp2p/utils'
import { EnvelopeError } from '../../core/envelope.js'
import {
  DEFAULT_REQUEST_TIMEOUT_MS, HANDLER_TIMEOUT_MS, MAX_INBOUND_STREAMS, MAX_MESSAGE_LENGTH, MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES, MAX_WAVE_COMMAND_BYTES, REQUEST_READ_TIMEOUT_MS, ROLLOUT_PROTOCOL
} from './constants.js'
import { checkRolloutName, openWaveCommand } from './documents.js'
import { RolloutDocumentError, RolloutErrorCode, RolloutRemoteError, RolloutRequestError, RolloutTransportError } from './errors.js'
import { RolloutRequest, RolloutResponse } from './pb/rollout.js'
import { timeoutSignal } from '../../core/abort.js'
import {
  WireFieldError, ackFromPb, ackToPb, checkAck, checkPrepare, checkPromise, checkReport, errorFromPb, forRollout,
  prepareFromPb, prepareToPb, promiseFromPb, promiseToPb, reportFromPb, reportToPb
} from './wire.js'
import type {
  CommandAck, DeviceReport, OpenedWaveCommand, PrepareRequest, RolloutCallOptions, RolloutDialer, RolloutPromise,
  RolloutServerComponents, RolloutServerInit
} from './index.js'
import type * as pb from './pb/rollout.js'
import type { Logger } from '../../core/logger.js'
import type { Connection, PeerId, Stream } from '@libp2p/interface'
import type { ProtobufStream } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/g

/** Text for an answer's message field: no control characters, at most MAX_MESSAGE_LENGTH. */
function shown (text: string): string {
  return text.replace(CONTROL_RE, ' ').slice(0, MAX_MESSAGE_LENGTH)
}

function failure (code: string, message: string): RolloutResponse {
  return { error: { code, message: shown(message) } }
}

/** libp2p's length-prefix decoder refusing a frame over maxDataLength, before reading it. */
function isFrameTooLarge (err: unknown): boolean {
  const name = (err as { name?: string } | undefined)?.name
  return name === 'InvalidDataLengthError' || name === 'InvalidDataLengthLengthError'
}

/** The acceptor's answer, checked before it goes out: a bad one is this node's bug, not the peer's. */
function answered<T> (check: () => T): T {
  try {
    return check()
  } catch (err) {
    if (err instanceof WireFieldError) throw new Error(`the acceptor answered an invalid ${err.message}`, { cause: err })
    throw err
  }
}

/**
 * Serves `/tutti/rollout/1.0.0`: one request and one answer per stream. The request is bounded
 * before decoding and checked field by field before the acceptor sees it; a wave command's
 * envelope is opened here (size, signature, canonical payload, fields, signer = named
 * coordinator = the remote peer), so the acceptor only decides on verified commands.
 */
export class RolloutServer {
  private readonly components: RolloutServerComponents
  private readonly init: Required<RolloutServerInit>
  private readonly log: Logger
  private readonly active = new Set<Stream>()
  private controller = new AbortController()
  private running = false

  constructor (components: RolloutServerComponents, init: RolloutServerInit = {}) {
    this.components = components
    this.init = {
      maxRequestBytes: init.maxRequestBytes ?? MAX_REQUEST_BYTES,
      readTimeoutMs: init.readTimeoutMs ?? REQUEST_READ_TIMEOUT_MS,
      handlerTimeoutMs: init.handlerTimeoutMs ?? HANDLER_TIMEOUT_MS,
      maxInboundStreams: init.maxInboundStreams ?? MAX_INBOUND_STREAMS
    }
    this.log = components.logger.child('rollout')
  }

  async start (): Promise<void> {
    if (this.running) return
    this.controller = new AbortController()
    await this.components.libp2p.handle(ROLLOUT_PROTOCOL, async (stream, connection) => { await this.handle(stream, connection) }, {
      maxInboundStreams: this.init.maxInboundStreams
    })
    this.running = true
  }

  /** Stops serving; in-flight requests are aborted (their acceptor calls see the signal). */
  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.components.libp2p.unhandle(ROLLOUT_PROTOCOL)
    this.controller.abort(new Error('rollout server stopped'))
    for (const stream of this.active) stream.abort(new Error('rollout server stopped'))
    this.active.clear()
  }

  private async handle (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    const signal = timeoutSignal(this.components.clock, this.init.readTimeoutMs + this.init.handlerTimeoutMs, { signal: this.controller.signal })
    this.active.add(stream)
    try {
      const pb = pbStream(stream, { maxDataLength: this.init.maxRequestBytes })
      const response = await this.respond(from, pb, signal)
      await pb.write(response, RolloutResponse, { signal })
      await stream.close({ signal })
    } catch (err) {
      this.log.debug('rollout stream ended early', { from, err })
      stream.abort(err as Error)
    } finally {
      signal.clear()
      this.active.delete(stream)
    }
  }

  private async respond (from: string, stream: ProtobufStream<Stream>, signal: AbortSignal): Promise<RolloutResponse> {
    let req: RolloutRequest
    const reading = timeoutSignal(this.components.clock, this.init.readTimeoutMs, { signal })
    try {
      req = await stream.read(RolloutRequest, { signal: reading })
    } catch (err) {
      if (reading.aborted) throw err // too slow, or stopping: no answer is owed
      if (isFrameTooLarge(err)) {
        this.log.warn('refused an oversized rollout request', { from })
        return failure(RolloutErrorCode.TooLarge, `request is larger than ${this.init.maxRequestBytes} bytes`)
      }
      this.log.warn('unreadable rollout request', { from, err })
      return failure(RolloutErrorCode.BadRequest, `request does not decode: ${(err as Error).message}`)
    } finally {
      reading.clear()
    }
    const handling = timeoutSignal(this.components.clock, this.init.handlerTimeoutMs, { signal })
    try {
      if (req.prepare != null) return await this.prepare(from, req.prepare, handling)
      if (req.command != null) return await this.command(from, req.command, handling)
      if (req.report != null) return await this.report(from, req.report, handling)
      return failure(RolloutErrorCode.BadRequest, 'request holds no prepare, command or report')
    } catch (err) {
      if (err instanceof WireFieldError) return failure(RolloutErrorCode.BadRequest, `request field ${err.message}`)
      if (err instanceof RolloutRequestError) return failure(err.code, err.message)
      this.log.error('rollout acceptor failed', { from, err })
      return failure(RolloutErrorCode.Internal, `the device failed to answer: ${(err as Error).message}`)
    } finally {
      handling.clear()
    }
  }

  private async prepare (from: string, req: pb.PrepareRequest, signal: AbortSignal): Promise<RolloutResponse> {
    const asked = prepareFromPb(req)
    const promise = await this.components.acceptor.prepare(from, asked, { signal })
    return { promise: promiseToPb(answered(() => checkPromise(promise, asked.rollout))) }
  }

  private async command (from: string, req: pb.CommandRequest, signal: AbortSignal): Promise<RolloutResponse> {
    let verified: OpenedWaveCommand
    try {
      verified = await openWaveCommand(req.envelope, { signal })
    } catch (err) {
      if (!(err instanceof EnvelopeError || err instanceof RolloutDocumentError)) throw err
      this.log.warn('refused a wave command', { from, code: err.code, reason: err.message })
      return { ack: ackToPb({ ok: false, code: err.code, message: shown(err.message) }) }
    }
    const { cmd } = verified
    if (cmd.coordinator !== from) {
      this.log.warn('refused a wave command relayed by another peer', { from, coordinator: cmd.coordinator, rollout: cmd.rollout })
      return { ack: ackToPb({ ok: false, code: RolloutErrorCode.Sender, message: `the command is ${cmd.coordinator}'s, delivered by ${from}` }) }
    }
    const ack = await this.components.acceptor.command(from, verified.bytes, { signal, verified })
    return { ack: ackToPb(answered(() => checkAck(ack, cmd.rollout))) }
  }

  private async report (from: string, req: pb.ReportRequest, signal: AbortSignal): Promise<RolloutResponse> {
    const problem = checkRolloutName(req.rollout)
    if (problem != null) throw new WireFieldError('rollout', problem)
    const report = await this.components.acceptor.report(from, req.rollout, { signal })
    return { report: reportToPb(answered(() => forRollout(checkReport(report), req.rollout))) }
  }
}

function transportError (err: unknown, signal: AbortSignal, what: string): RolloutTransportError {
  if (signal.aborted && (signal.reason as Error | undefined)?.name === 'TimeoutError') {
    return new RolloutTransportError(RolloutErrorCode.Timeout, `the peer did not answer ${what} in time`, { cause: err })
  }
  if (isFrameTooLarge(err)) return new RolloutTransportError(RolloutErrorCode.Protocol, `the peer's answer to ${what} is too large`, { cause: err })
  return new RolloutTransportError(RolloutErrorCode.Transport, `${what} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err })
}

/** One request, one answer, on a new stream, within the caller's timeout on the injected clock. */
async function exchange (dialer: RolloutDialer, peer: PeerId | Multiaddr | Multiaddr[], request: RolloutRequest, what: string, options: RolloutCallOptions): Promise<RolloutResponse> {
  options.signal?.throwIfAborted()
  const signal = timeoutSignal(options.clock, options.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS, { signal: options.signal })
  try {
    let stream: Stream
    try {
      stream = await dialer.dialProtocol(peer, ROLLOUT_PROTOCOL, { signal })
    } catch (err) {
      if (options.signal?.aborted === true) throw options.signal.reason
      throw transportError(err, signal, what)
    }
    const pb = pbStream(stream, { maxDataLength: options.maxResponseBytes ?? MAX_RESPONSE_BYTES })
    try {
      await pb.write(request, RolloutRequest, { signal })
      const response = await pb.read(RolloutResponse, { signal })
      await stream.close({ signal })
      return response
    } catch (err) {
      stream.abort(err as Error)
      if (options.signal?.aborted === true) throw options.signal.reason
      throw transportError(err, signal, what)
    }
  } finally {
    signal.clear()
  }
}

/** The body the request asked for, or the typed error the answer stands for. */
function bodyOf<T, R> (response: RolloutResponse, what: string, body: T | undefined, read: (body: T) => R): R {
  if (response.error != null) {
    const e = errorFromPb(response.error)
    throw new RolloutRemoteError(e.code, e.message)
  }
  if (body == null) throw new RolloutTransportError(RolloutErrorCode.Protocol, `the peer answered ${what} with something else`)
  try {
    return read(body)
  } catch (err) {
    if (err instanceof WireFieldError) throw new RolloutTransportError(RolloutErrorCode.Protocol, `the peer's answer to ${what} is invalid: ${err.message}`, { cause: err })
    throw err
  }
}

function refuse (err: unknown): never {
  if (err instanceof WireFieldError) throw new RolloutRequestError(RolloutErrorCode.BadRequest, `request field ${err.message}`, { cause: err })
  throw err
}

/**
 * Asks `peer` to promise epoch `req.epoch` of a rollout to this node. A refusal is an answer
 * (`ok: false`, with the standing promise), not an error. Throws {@link RolloutRemoteError} when
 * the peer answers with an error, {@link RolloutTransportError} when no valid answer arrives.
 */
export async function prepare (dialer: RolloutDialer, peer: PeerId | Multiaddr | Multiaddr[], req: PrepareRequest, options: RolloutCallOptions): Promise<RolloutPromise> {
  let asked: PrepareRequest
  try {
    asked = checkPrepare(req)
  } catch (err) {
    refuse(err)
  }
  const response = await exchange(dialer, peer, { prepare: prepareToPb(asked) }, 'prepare', options)
  return bodyOf(response, 'prepare', response.promise, p => promiseFromPb(p, asked.rollout))
}

/**
 * Sends a sealed wave command (see sealWaveCommand) to `peer`. A refusal is an answer
 * (`ok: false` and a code: ERR_STALE_EPOCH, ERR_ENVELOPE_SIGNATURE...), not an error.
 */
export async function command (dialer: RolloutDialer, peer: PeerId | Multiaddr | Multiaddr[], envelope: Uint8Array, options: RolloutCallOptions): Promise<CommandAck> {
  if (envelope.byteLength > MAX_WAVE_COMMAND_BYTES) {
    throw new RolloutRequestError(RolloutErrorCode.BadRequest, `command envelope is ${envelope.byteLength} bytes, at most ${MAX_WAVE_COMMAND_BYTES}`)
  }
  const response = await exchange(dialer, peer, { command: { envelope: envelope as Uint8Array<ArrayBuffer> } }, 'command', options)
  return bodyOf(response, 'command', response.ack, a => ackFromPb(a))
}

/** Asks `peer` where it stands in a rollout. */
export async function report (dialer: RolloutDialer, peer: PeerId | Multiaddr | Multiaddr[], rollout: string, options: RolloutCallOptions): Promise<DeviceReport> {
  const problem = checkRolloutName(rollout)
  if (problem != null) refuse(new WireFieldError('rollout', problem))
  const response = await exchange(dialer, peer, { report: { rollout } }, 'report', options)
  return bodyOf(response, 'report', response.report, r => forRollout(reportFromPb(r), rollout))
}
