/**
 * What a node does with an exception nobody caught. Network libraries throw from socket and
 * stream events, where no caller can catch; one bad connection must not take the node down.
 *
 * The rule: an error whose kind is confined to one connection (a socket error, a libp2p stream,
 * muxer or handshake error, a private network failure) is logged and the node keeps running;
 * that connection is already gone or going. Anything else may have left shared state half
 * updated (Node's own advice), so it is logged and the process exits with 1 for its supervisor
 * to restart it. Kinds are told apart by stable `code` and `name`, never by message.
 */
import type { Logger } from '../../core/logger.js'

/** Node socket and stream error codes: the failure of one socket. */
export const CONNECTION_ERROR_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'EHOSTDOWN',
  'ENETUNREACH', 'ENETDOWN', 'ENOTCONN', 'EADDRNOTAVAIL',
  'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END', 'ERR_STREAM_PREMATURE_CLOSE',
  'ERR_SOCKET_CLOSED', 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION', 'ERR_SOCKET_CONNECTION_TIMEOUT',
  // node/mesh/pnet.ts
  'ERR_PNET_HANDSHAKE', 'ERR_PNET_KEYSTREAM_EXHAUSTED', 'ERR_PNET_CIPHER'
])

/** libp2p error names (interface, utils, yamux, noise) that concern one connection or stream. */
export const CONNECTION_ERROR_NAMES: ReadonlySet<string> = new Set([
  'ConnectionClosedError', 'ConnectionClosingError', 'ConnectionFailedError', 'MuxerClosedError',
  'StreamResetError', 'StreamAbortedError', 'StreamStateError', 'StreamBufferError', 'StreamClosedError',
  'UnexpectedEOFError', 'InvalidCryptoExchangeError', 'UnexpectedPeerError', 'InvalidMessageError',
  'ProtocolError', 'InvalidFrameError', 'UnRequestedPingError', 'NotMatchingPingError',
  'StreamAlreadyExistsError', 'DecodeInvalidVersionError', 'BothClientsError', 'ReceiveWindowExceededError'
])

export type UncaughtVerdict = 'connection' | 'fatal'

/** Whether an uncaught error is confined to one connection (`connection`) or not (`fatal`). */
export function classifyUncaught (err: unknown): UncaughtVerdict {
  if (typeof err !== 'object' || err === null) return 'fatal'
  const { code, name } = err as { code?: unknown, name?: unknown }
  if (typeof code === 'string' && CONNECTION_ERROR_CODES.has(code)) return 'connection'
  if (typeof name === 'string' && CONNECTION_ERROR_NAMES.has(name)) return 'connection'
  return 'fatal'
}

export interface UncaughtExceptionHandlerInit {
  logger: Logger
  /** Ends the process; only called for a `fatal` error. */
  exit: (code: number) => void
}

/** The listener for `process.on('uncaughtException')`, applying the rule above. */
export function createUncaughtExceptionHandler (init: UncaughtExceptionHandlerInit): (err: unknown) => void {
  return (err: unknown) => {
    const stack = err instanceof Error ? err.stack : undefined
    if (classifyUncaught(err) === 'connection') {
      init.logger.warn('uncaught connection error; the node keeps running', { err, stack })
      return
    }
    init.logger.error('uncaught exception; exiting', { err, stack })
    init.exit(1)
  }
}
