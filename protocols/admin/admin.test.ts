import { AbortError, ConnectionClosedError, StreamResetError, TimeoutError, UnsupportedProtocolError } from '@libp2p/interface'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { callAdmin, describeDialError } from './admin.js'
import { DEFAULT_REQUEST_TIMEOUT_MS } from './constants.js'
import { AdminTransportError } from './errors.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code })
const named = (name: string, message: string, options?: { cause?: unknown }): Error => {
  const err = new Error(message, options)
  err.name = name
  return err
}

describe('describeDialError: one sentence from error names and codes, never message text', () => {
  const cases: Array<{ name: string, err: unknown, want: RegExp }> = [
    { name: 'a protocol the peer does not speak', err: new UnsupportedProtocolError('Protocol selection failed'), want: /^the peer does not speak \/tutti\/admin\/1\.0\.0/ },
    { name: 'nothing listening (Node code)', err: withCode('connect ECONNREFUSED 127.0.0.1:1', 'ECONNREFUSED'), want: /^connection refused: nothing is listening/ },
    { name: 'a refusal inside an aggregate of dial errors', err: new AggregateError([new Error('first'), withCode('connect failed', 'ECONNREFUSED')], 'all dials failed'), want: /^connection refused/ },
    { name: 'a refusal as the cause of a dial error', err: named('ConnectionFailedError', 'dial failed', { cause: withCode('x', 'ECONNREFUSED') }), want: /^connection refused/ },
    { name: 'an unreachable host', err: withCode('connect EHOSTUNREACH', 'EHOSTUNREACH'), want: /^the address is unreachable$/ },
    { name: 'an unreachable network', err: withCode('connect ENETUNREACH', 'ENETUNREACH'), want: /^the address is unreachable$/ },
    { name: 'a failed handshake: another fleet', err: named('EncryptionFailedError', 'read ECONNRESET'), want: /^the peer dropped the connection during the handshake \(a different fleet/ },
    { name: 'another node of the same fleet at that address', err: named('EncryptionFailedError', 'x', { cause: named('UnexpectedPeerError', 'Payload identity key does not match') }), want: /^the node at that address has another peer id than the one asked for/ },
    { name: 'a timeout', err: new TimeoutError('The operation was aborted due to timeout'), want: /^the peer did not complete a connection in time/ },
    { name: 'an abort', err: new AbortError(), want: /^the peer did not complete a connection in time/ },
    { name: 'a stream reset is a reset, not another fleet', err: new StreamResetError('The stream has been reset'), want: /^the connection was reset before the peer answered$/ },
    { name: 'a closed connection is a reset', err: new ConnectionClosedError('closed'), want: /^the connection was reset/ },
    { name: 'a socket reset (Node code) is a reset', err: withCode('read ECONNRESET', 'ECONNRESET'), want: /^the connection was reset/ },
    { name: 'message text alone proves nothing', err: new Error('connect ECONNREFUSED, protocol selection failed, decrypt, timed out'), want: /^could not connect: connect ECONNREFUSED, protocol selection failed/ },
    { name: 'aggregated messages are all shown', err: new AggregateError([new Error('one'), new Error('two')], 'dials failed'), want: /^could not connect: dials failed; one; two$/ },
    { name: 'something not an error', err: 'boom', want: /^could not connect: boom$/ }
  ]
  for (const c of cases) {
    it(c.name, () => {
      expect(describeDialError(c.err)).toMatch(c.want)
    })
  }
})


/** A dialer whose dials never complete: they end only when their signal aborts. */
function hangingDialer (): Pick<Libp2p, 'dialProtocol'> {
  return {
    dialProtocol: async (_peer, _protocol, options = {}) => await new Promise((_resolve, reject) => {
      options.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }, { once: true })
    })
  }
}

describe('callAdmin', () => {
  it('gives up after the default timeout on the clock it is given', async () => {
    const clock = new ManualClock()
    const call = callAdmin(hangingDialer(), {} as unknown as PeerId, 'nodes.list', {}, { clock })
    let settled = false
    const outcome = call.then(() => undefined, (e: unknown) => e).finally(() => { settled = true })
    clock.advance(DEFAULT_REQUEST_TIMEOUT_MS - 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false)
    clock.advance(1)
    const err = await outcome
    expect(err).toBeInstanceOf(AdminTransportError)
    expect((err as Error).message).toMatch(/did not complete a connection in time/)
    expect(((err as Error).cause as Error).name).toBe('TimeoutError')
  })
})
