import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { hrwRank, hrwTop, hrwWeight } from './hrw.js'

const peers = Array.from({ length: 50 }, (_, i) => `12D3KooWpeer${i.toString().padStart(3, '0')}`)

describe('hrwWeight', () => {
  it('is the first 8 bytes of sha256(key \\n peer) as a big-endian uint64', () => {
    const digest = createHash('sha256').update('face-v2\n12D3KooWabc').digest()
    let expected = 0n
    for (let i = 0; i < 8; i++) expected = (expected << 8n) | BigInt(digest[i]!)
    expect(hrwWeight('face-v2', '12D3KooWabc')).toBe(expected)
  })

  it('matches known vectors (printf "a\\nb" | sha256sum)', () => {
    expect(hrwWeight('a', 'b')).toBe(0x7e18f737311b2dc3n)
    expect(hrwWeight('face-v2', '12D3KooWabc')).toBe(0xb2ada66253a653f2n)
  })

  it('depends on the key and on the peer', () => {
    expect(hrwWeight('r1', 'p')).not.toBe(hrwWeight('r2', 'p'))
    expect(hrwWeight('r1', 'p')).not.toBe(hrwWeight('r1', 'q'))
    // the separator matters: ("ab", "c") and ("a", "bc") hash different strings
    expect(hrwWeight('ab', 'c')).not.toBe(hrwWeight('a', 'bc'))
  })
})

describe('hrwRank', () => {
  it('orders by weight, highest first', () => {
    const ranked = hrwRank('face-v2', peers)
    expect(ranked).toHaveLength(peers.length)
    expect(new Set(ranked)).toEqual(new Set(peers))
    for (let i = 1; i < ranked.length; i++) {
      expect(hrwWeight('face-v2', ranked[i - 1]!) >= hrwWeight('face-v2', ranked[i]!)).toBe(true)
    }
  })

  it('does not depend on the input order', () => {
    expect(hrwRank('face-v2', [...peers].reverse())).toEqual(hrwRank('face-v2', peers))
  })

  it('removing a peer does not reorder the others', () => {
    const full = hrwRank('face-v2', peers)
    for (const gone of [full[0]!, full[17]!, full[full.length - 1]!]) {
      expect(hrwRank('face-v2', peers.filter(p => p !== gone))).toEqual(full.filter(p => p !== gone))
    }
  })

  it('adding a peer inserts it without reordering the others', () => {
    const full = hrwRank('face-v2', peers)
    const grown = hrwRank('face-v2', [...peers, 'newcomer'])
    expect(grown.filter(p => p !== 'newcomer')).toEqual(full)
  })

  it('gives different keys different orders', () => {
    expect(hrwRank('face-v2/waves', peers)).not.toEqual(hrwRank('face-v2', peers))
  })

  it('keeps duplicates once and handles the empty list', () => {
    expect(hrwRank('k', ['a', 'b', 'a'])).toEqual(hrwRank('k', ['a', 'b']))
    expect(hrwRank('k', [])).toEqual([])
  })

  it('spreads first place roughly evenly across peers', () => {
    const wins = new Map<string, number>()
    const few = peers.slice(0, 5)
    for (let r = 0; r < 2000; r++) {
      const first = hrwRank(`rollout-${r}`, few)[0]!
      wins.set(first, (wins.get(first) ?? 0) + 1)
    }
    for (const p of few) expect(wins.get(p) ?? 0).toBeGreaterThan(300) // expected 400 each
  })
})

describe('hrwTop', () => {
  const many = Array.from({ length: 2000 }, (_, i) => `peer-${i}`)
  const full = hrwRank('r/waves', many)

  it.each([0, 1, 7, 100, 1999, 2000, 5000])('the first %i equal the first of the full ranking', k => {
    expect(hrwTop('r/waves', many, k)).toEqual(full.slice(0, k))
  })

  it('skips excluded peers, keeping the order of the rest', () => {
    const skip = (id: string): boolean => id.endsWith('3')
    expect(hrwTop('r/waves', many, 50, skip)).toEqual(full.filter(id => !skip(id)).slice(0, 50))
  })

  it('keeps duplicates once', () => {
    expect(hrwTop('k', ['a', 'a', 'b'], 3)).toEqual(hrwRank('k', ['a', 'b']))
  })
})
