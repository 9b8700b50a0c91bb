import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { chooseDials, Connectivity } from './connectivity.js'
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
