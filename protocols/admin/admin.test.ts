import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { callAdmin } from './admin.js'
import { DEFAULT_REQUEST_TIMEOUT_MS } from './constants.js'
import { AdminTransportError } from './errors.js'
import type { Libp2p, PeerId } from '@libp2p/interface'

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
