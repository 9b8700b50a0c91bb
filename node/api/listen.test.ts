import { createServer } from 'node:net'
import { describe, expect, it } from 'vitest'
import { addressesInUse, hasErrorCode, tcpListenAddress } from './listen.js'
import type { Server } from 'node:net'

const coded = (code: string): Error => Object.assign(new Error('x'), { code })
const libp2pListenError = (): Error => {
  const err = new Error('Some configured addresses failed to be listened on: EADDRINUSE')
  err.name = 'UnsupportedListenAddressesError'
  return err
}

describe('hasErrorCode: a code anywhere behind an error', () => {
  const cases: Array<[string, unknown, boolean]> = [
    ['on the error', coded('EADDRINUSE'), true],
    ['on its cause', new Error('listen failed', { cause: coded('EADDRINUSE') }), true],
    ['two causes down', new Error('a', { cause: new Error('b', { cause: coded('EADDRINUSE') }) }), true],
    ['in an aggregate', new AggregateError([coded('EACCES'), coded('EADDRINUSE')]), true],
    ['another code', coded('EACCES'), false],
    ['only in the message', new Error('listen EADDRINUSE: address already in use'), false],
    ['not an error', 'EADDRINUSE', false],
    ['nothing', undefined, false]
  ]
  for (const [name, err, want] of cases) {
    it(name, () => { expect(hasErrorCode(err, 'EADDRINUSE')).toBe(want) })
  }
  it('stops on a cause cycle', () => {
    const a = new Error('a') as Error & { cause?: unknown }
    const b = new Error('b', { cause: a })
    a.cause = b
    expect(hasErrorCode(a, 'EADDRINUSE')).toBe(false)
  })
})

describe('tcpListenAddress', () => {
  const cases: Array<[string, { host: string, port: number } | undefined]> = [
    ['/ip4/127.0.0.1/tcp/7410', { host: '127.0.0.1', port: 7410 }],
    ['/ip6/::1/tcp/7410', { host: '::1', port: 7410 }],
    ['/ip4/0.0.0.0/tcp/0', undefined],
    ['/memory/x', undefined],
    ['/ip4/127.0.0.1/udp/7410', undefined],
    ['not a multiaddr', undefined]
  ]
  for (const [addr, want] of cases) {
    it(addr, () => { expect(tcpListenAddress(addr)).toEqual(want) })
  }
})

describe('addressesInUse', () => {
  const listenOn = async (): Promise<{ server: Server, port: number }> => await new Promise(resolve => {
    const server = createServer()
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address()
      resolve({ server, port: typeof address === 'object' && address != null ? address.port : 0 })
    })
  })

  it('finds the taken address behind libp2p\'s text-only listen error, and not the free one', async () => {
    const taken = await listenOn()
    const free = await listenOn()
    await new Promise(resolve => { free.server.close(resolve) })
    try {
      const listen = [`/ip4/127.0.0.1/tcp/${taken.port}`, `/ip4/127.0.0.1/tcp/${free.port}`, '/memory/x']
      expect(await addressesInUse(libp2pListenError(), listen)).toEqual([listen[0]])
    } finally {
      await new Promise(resolve => { taken.server.close(resolve) })
    }
  })

  it('trusts a code when there is one, and probes nothing for other errors', async () => {
    expect(await addressesInUse(new Error('x', { cause: coded('EADDRINUSE') }), ['/memory/a'])).toEqual(['/memory/a'])
    expect(await addressesInUse(new Error('EADDRINUSE'), ['/ip4/127.0.0.1/tcp/1'])).toEqual([])
  })
})
