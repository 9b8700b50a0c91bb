import { pbStream } from '@libp2p/utils'
import { AdminRequest, AdminResponse } from './pb/admin.js'
import {
  ADMIN_PROTOCOL, ADMIN_VERSION, DEFAULT_REQUEST_TIMEOUT_MS, LENGTH_PREFIX_BYTES, MAX_LARGE_REQUEST_BYTES, MAX_REQUEST_BYTES,
  MAX_RESPONSE_BYTES, REQUEST_READ_TIMEOUT_MS
} from './constants.js'
import { AdminErrorCode, AdminRemoteError, AdminRequestError, AdminTransportError } from './errors.js'
import { timeoutSignal } from '../../core/abort.js'
import { systemClock } from '../../core/clock.js'
import type { Clock } from '../../core/clock.js'
import type { Logger } from '../../core/logger.js'
import type { AbortOptions, Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface AdminContext extends AbortOptions {
  /** The authenticated peer that asked. */
  caller: string
}

export type AdminHandler = (params: Record<string, unknown>, context: AdminContext) => Promise<unknown>

export interface AdminServerInit {
  /** Whether a peer may use the admin protocol; anyone else gets ERR_NOT_AUTHORIZED. */
  authorize: (peerId: string) => boolean
  handlers: Record<string, AdminHandler>
  logger: Logger
  /** Times the request read, the handler and the response write. */
  clock: Pick<Clock, 'setTimeout'>
  /** Largest request of any method, and of anyone who is not an admin, in bytes. @default MAX_REQUEST_BYTES */
  maxRequestBytes?: number
  /**
   * Methods that take larger requests from admins, with their limit in bytes (at most
   * MAX_LARGE_REQUEST_BYTES): `models.push` carries a manifest envelope of up to 1 MiB.
   * @default none
   */
  methodRequestBytes?: Record<string, number>
}

const encoder = new TextEncoder()

/** Largest result a server sends: what a client reads, less room for the envelope's other fields. */
const MAX_RESULT_BYTES = MAX_RESPONSE_BYTES - 64 * 1024
const decoder = new TextDecoder('utf-8', { fatal: true })

/** The params (or result) of an admin message: a UTF-8 JSON object. Throws AdminRequestError (ERR_BAD_REQUEST). */
export function parseJsonObject (bytes: Uint8Array, what: string): Record<string, unknown> {
  if (bytes.byteLength === 0) return {}
  let value: unknown
  try {
    value = JSON.parse(decoder.decode(bytes))
  } catch (err) {
    throw new AdminRequestError(AdminErrorCode.BadRequest, `${what} is not valid UTF-8 JSON`, { cause: err })
  }
  if (typeof value !== 'object' || value == null || Array.isArray(value)) {
    throw new AdminRequestError(AdminErrorCode.BadRequest, `${what} must be a JSON object`)
  }
  return value as Record<string, unknown>
}

/**
 * Serves one admin request per stream. The request is size-limited before decoding; the caller is
 * the noise-authenticated remote peer, checked against the fleet's admins before anything runs.
 */
export function createAdminStreamHandler (init: AdminServerInit): (stream: Stream, connection: Connection) => Promise<void> {
  const log = init.logger.child('admin')
  const maxBytes = init.maxRequestBytes ?? MAX_REQUEST_BYTES
  const methodBytes = init.methodRequestBytes ?? {}
  for (const [method, limit] of Object.entries(methodBytes)) {
    if (!(Number.isSafeInteger(limit) && limit > 0 && limit <= MAX_LARGE_REQUEST_BYTES)) throw new RangeError(`the request limit of ${method} must be an integer in [1, ${MAX_LARGE_REQUEST_BYTES}]`)
  }
  const largest = Math.max(maxBytes, ...Object.values(methodBytes))
  return async (stream, connection) => {
    const caller = connection.remotePeer.toString()
    // Only an admin may send a request past maxBytes (and only to a method that takes one).
    const readLimit = init.authorize(caller) ? largest : maxBytes
    const pb = pbStream(stream, { maxDataLength: readLimit })
    const respond = async (res: Partial<AdminResponse>): Promise<void> => {
      await pb.write({ ok: false, errorCode: '', errorMessage: '', result: new Uint8Array(), ...res }, AdminResponse, { signal: timeoutSignal(init.clock, REQUEST_READ_TIMEOUT_MS) })
    }
    // Answers the request; each refusal returns early, and the stream is closed below either way.
    const serve = async (): Promise<void> => {
      let req: AdminRequest
      try {
        req = await pb.read(AdminRequest, { signal: timeoutSignal(init.clock, REQUEST_READ_TIMEOUT_MS) })
      } catch (err) {
        log.warn('unreadable admin request', { caller, err })
        await respond({ errorCode: AdminErrorCode.BadRequest, errorMessage: `request could not be read: ${(err as Error).message}` })
        return
      }
      if (!init.authorize(caller)) {
        log.warn('refused admin request from a non-admin peer', { caller, method: req.method })
        await respond({ errorCode: AdminErrorCode.NotAuthorized, errorMessage: `peer ${caller} is not authorized: it is not an admin of this fleet` })
        return
      }
      if (req.version > ADMIN_VERSION || req.version === 0) {
        await respond({ errorCode: AdminErrorCode.UnsupportedVersion, errorMessage: `admin request version ${req.version} is not supported (this peer speaks ${ADMIN_VERSION})` })
        return
      }
      const handler = Object.hasOwn(init.handlers, req.method) ? init.handlers[req.method] : undefined
      if (handler == null) {
        await respond({ errorCode: AdminErrorCode.UnknownMethod, errorMessage: `unknown method "${req.method.slice(0, 100)}"` })
        return
      }
      const limit = Object.hasOwn(methodBytes, req.method) ? methodBytes[req.method]! : maxBytes
      if (req.params.byteLength > limit) {
        await respond({ errorCode: AdminErrorCode.BadRequest, errorMessage: `the params of ${req.method} are larger than ${limit} bytes` })
        return
      }
      try {
        const params = parseJsonObject(req.params, 'params')
        const result = await handler(params, { caller, signal: timeoutSignal(init.clock, DEFAULT_REQUEST_TIMEOUT_MS) })
        const bytes = encoder.encode(JSON.stringify(result ?? null))
        if (bytes.byteLength > MAX_RESULT_BYTES) {
          log.warn('admin result too large to send', { caller, method: req.method, bytes: bytes.byteLength })
          await respond({ errorCode: AdminErrorCode.ResponseTooLarge, errorMessage: `the result of ${req.method} is ${bytes.byteLength} bytes, more than the ${MAX_RESULT_BYTES} an admin client reads` })
          return
        }
        log.debug('served admin request', { caller, method: req.method })
        await respond({ ok: true, result: bytes })
      } catch (err) {
        if (err instanceof AdminRequestError) {
          await respond({ errorCode: err.code, errorMessage: err.message })
        } else {
          log.error('admin handler failed', { caller, method: req.method, err })
          await respond({ errorCode: AdminErrorCode.Internal, errorMessage: `${req.method} failed: ${(err as Error).message}` })
        }
      }
    }
    try {
      await serve()
    } catch (err) {
      log.debug('admin stream ended early', { caller, err })
      stream.abort(err as Error)
      return
    }
    // Every answered request closes its stream, refusals included: a stream left open counts
    // against the connection's inbound stream limit until no admin call gets through.
    await stream.close().catch(err => {
      log.debug('closing admin stream failed', { err })
      stream.abort(err as Error)
    })
  }
}

export interface AdminCallOptions extends AbortOptions {
  /** @default MAX_RESPONSE_BYTES */
  maxResponseBytes?: number
  /** Times the call when no signal is given. @default systemClock */
  clock?: Pick<Clock, 'setTimeout'>
}

/**
 * Sends one admin request to `peer` over `libp2p` and returns the decoded JSON result. Throws
 * {@link AdminRemoteError} when the peer answers with an error, {@link AdminTransportError} when
 * no sensible answer arrives.
 */
export async function callAdmin<T = unknown> (libp2p: Pick<Libp2p, 'dialProtocol'>, peer: PeerId | Multiaddr | Multiaddr[], method: string, params: Record<string, unknown> = {}, options: AdminCallOptions = {}): Promise<T> {
  const signal = options.signal ?? timeoutSignal(options.clock ?? systemClock, DEFAULT_REQUEST_TIMEOUT_MS)
  let stream: Stream
  try {
    stream = await libp2p.dialProtocol(peer, ADMIN_PROTOCOL, { signal })
  } catch (err) {
    throw new AdminTransportError(describeDialError(err), { cause: err })
  }
  const maxResponseBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES
  // maxBufferSize too: pbStream buffers at most 4 MiB by default, whatever maxDataLength says.
  const pb = pbStream(stream, { maxDataLength: maxResponseBytes, maxBufferSize: maxResponseBytes + LENGTH_PREFIX_BYTES })
  let res: AdminResponse
  try {
    await pb.write({ version: ADMIN_VERSION, method, params: encoder.encode(JSON.stringify(params)) }, AdminRequest, { signal })
    res = await pb.read(AdminResponse, { signal })
    await stream.close({ signal }).catch(() => { stream.abort(new Error('close failed')) })
  } catch (err) {
    stream.abort(err as Error)
    if (signal.aborted) throw new AdminTransportError(`the peer did not answer ${method} in time`, { cause: err })
    throw new AdminTransportError(`the exchange with the peer failed: ${(err as Error).message}`, { cause: err })
  }
  if (!res.ok) throw new AdminRemoteError(res.errorCode === '' ? AdminErrorCode.Internal : res.errorCode, res.errorMessage)
  try {
    return JSON.parse(decoder.decode(res.result)) as T
  } catch (err) {
    throw new AdminTransportError('the peer sent a result that is not JSON', { cause: err, retryable: false })
  }
}

/** An error and every error behind it (`cause` chains, the `errors` of an aggregate), outermost first. */
function errorChain (err: unknown): Array<{ name?: unknown, code?: unknown, message?: unknown }> {
  const out: Array<{ name?: unknown, code?: unknown, message?: unknown }> = []
  const visit = (e: unknown, depth: number): void => {
    if (e == null || typeof e !== 'object' || depth > 8 || out.includes(e)) return
    out.push(e)
    const x = e as { cause?: unknown, errors?: unknown }
    visit(x.cause, depth + 1)
    if (Array.isArray(x.errors)) for (const inner of x.errors) visit(inner, depth + 1)
  }
  visit(err, 0)
  return out
}

/** libp2p's names for a connection or stream that was reset or closed under it. */
const RESET_NAMES = new Set(['StreamResetError', 'StreamAbortedError', 'ConnectionClosedError', 'ConnectionClosingError', 'MuxerClosedError'])
const RESET_CODES = new Set(['ECONNRESET', 'EPIPE'])

/**
 * Turns libp2p's dial errors into one sentence an operator can act on, from error names (libp2p:
 * UnsupportedProtocolError, EncryptionFailedError, TimeoutError...) and codes (Node: ECONNREFUSED...),
 * never from message text. Only a failed handshake (EncryptionFailedError: with pnet, a network
 * key that does not match garbles it) is reported as a different fleet; a plain reset is a reset.
 */
export function describeDialError (err: unknown): string {
  const chain = errorChain(err)
  const named = (...names: string[]): boolean => chain.some(e => typeof e.name === 'string' && names.includes(e.name))
  const coded = (...codes: string[]): boolean => chain.some(e => typeof e.code === 'string' && codes.includes(e.code))
  if (named('UnsupportedProtocolError')) return `the peer does not speak ${ADMIN_PROTOCOL} (a different Tutti version?)`
  if (coded('ECONNREFUSED')) return 'connection refused: nothing is listening at that address'
  if (coded('EHOSTUNREACH', 'ENETUNREACH')) return 'the address is unreachable'
  // Checked before the handshake failure that wraps it, when libp2p keeps the cause.
  if (named('UnexpectedPeerError')) return 'the node at that address has another peer id than the one asked for (same network key: the same fleet)'
  if (named('EncryptionFailedError')) {
    return 'the peer dropped the connection during the handshake (a different fleet: its network key does not match)'
  }
  if (named('TimeoutError', 'AbortError')) {
    return 'the peer did not complete a connection in time (unreachable, or a different fleet: its network key does not match)'
  }
  if (chain.some(e => (typeof e.name === 'string' && RESET_NAMES.has(e.name)) || (typeof e.code === 'string' && RESET_CODES.has(e.code)))) {
    return 'the connection was reset before the peer answered'
  }
  const text = chain.map(e => typeof e.message === 'string' ? e.message : '').filter(m => m !== '').join('; ')
  return `could not connect: ${text === '' ? String(err) : text}`
}
