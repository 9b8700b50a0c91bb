import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { chooseDials, Connectivity, needsBootstrap } from './connectivity.js'
import type { ConnectivityComponents } from './connectivity.js'

describe('chooseDials', () => {
  it('dials only unconnected peers other than itself, up to the target', () => {
    const known = ['self', 'a', 'b', 'c', 'd']
    const dials = chooseDials(known, new Set(['a']), 'self', 3, () => 0.5)
    expect(dials).toHaveLength(2)
    expect(dials).not.toContain('self')
    expect(dials).not.toContain('a')
  })

  it('dials nobody once the target is reached', () => {
    expect(chooseDials(['a', 'b'], new Set(['x', 'y']), 'self', 2, Math.random)).toEqual([])
  })
})

describe('deafness: connected but hearing no heartbeats', () => {
  const make = (lastHeard: () => number | undefined): { c: Connectivity, clock: ManualClock } => {
    const clock = new ManualClock(0)
    const components = {
      libp2p: {} as unknown as ConnectivityComponents['libp2p'],
      clock,
      logger: silentLogger,
      random: () => 0.5,
      knownPeers: () => [],
      lastHeardMs: lastHeard
    }
    return { c: new Connectivity(components, { deafAfterMs: 10_000 }), clock }
  }

  it('is not deaf without connections, nor while heartbeats keep arriving', () => {
    let heard = 0
    const { c } = make(() => heard)
    expect(c.isDeaf(60_000, 0)).toBe(false)
    heard = 55_000
    expect(c.isDeaf(60_000, 3)).toBe(false)
  })

  it('is deaf when connected and nothing was heard for longer than deafAfterMs', () => {
    const { c } = make(() => 1_000)
    expect(c.isDeaf(11_000, 2)).toBe(false)
    expect(c.isDeaf(11_001, 2)).toBe(true)
  })

  it('counts from start when nothing was ever heard', () => {
    const { c } = make(() => undefined)
    expect(c.isDeaf(9_000, 1)).toBe(false)
    expect(c.isDeaf(10_001, 1)).toBe(true)
  })
})

describe('bootstrap redials: while no connection reaches the fleet', () => {
  it.each<[string, string[], string[], boolean]>([
    ['no connection', [], [], true],
    ['only an admin CLI attached', ['admin'], [], true],
    ['only an admin CLI, members known but not connected', ['admin'], ['m1', 'm2'], true],
    ['connected to the bootstrap peer (not yet heard of)', ['boot'], [], false],
    ['connected to a member', ['admin', 'm2'], ['m1', 'm2'], false]
  ])('%s: %s', (_what, connected, members, expected) => {
    expect(needsBootstrap(new Set(connected), members, ['boot'])).toBe(expected)
  })

  const BOOT = '12D3KooWGRUVh8sQTNJHNYoDkZzWbCwqHwuTeoxDRZJC7dxZnPUt'
  const ADMIN = '12D3KooWRoVuuB3SUiMD1zJsbkSo9Rn6L1rMQWDvqP4SRu4oXcnp'
  const make = (connectedTo: string[]): { c: Connectivity, dialed: string[] } => {
    const dialed: string[] = []
    const libp2p = {
      peerId: { toString: () => 'self' },
      getConnections: () => connectedTo.map(p => ({ remotePeer: { toString: () => p }, status: 'open', streams: [] })),
      dial: async (addr: { toString: () => string }) => { dialed.push(addr.toString()) },
      peerStore: { all: async () => [] }
    } as unknown as ConnectivityComponents['libp2p']
    const c = new Connectivity({ libp2p, clock: new ManualClock(0), logger: silentLogger, random: () => 0.5, knownPeers: () => [], lastHeardMs: () => undefined },
      { bootstrap: [`/ip4/10.0.0.1/tcp/7410/p2p/${BOOT}`] })
    return { c, dialed }
  }

  it('dials the bootstrap peer of a node whose one connection is an admin CLI, not one connected to it', async () => {
    const alone = make([ADMIN])
    await alone.c.check()
    expect(alone.dialed).toEqual([`/ip4/10.0.0.1/tcp/7410/p2p/${BOOT}`])
    const joined = make([BOOT])
    await joined.c.check()
    expect(joined.dialed).toEqual([])
  })
})
