import { describe, expect, it } from 'vitest'
import { mergePolicy } from './merge.js'
import type { PolicyHead } from '../../protocols/policy/index.js'

const LOW = 'bagaaieraaaaaaa'
const HIGH = 'bagaaierazzzzzz'

/** A held head. Whether it is a tombstone does not matter to the merge: the version decides. */
const held = (version: number, cid: string): PolicyHead => ({ version, cid })

describe('policy merge', () => {
  it.each<[string, PolicyHead | undefined, PolicyHead, string]>([
    ['accepts a first version', undefined, { version: 1, cid: LOW }, 'accept'],
    ['accepts a newer version', held(1, HIGH), { version: 2, cid: LOW }, 'accept'],
    ['accepts a much newer version', held(1, LOW), { version: 1_764_620_000_000, cid: LOW }, 'accept'],
    ['calls the same head a duplicate', held(2, LOW), { version: 2, cid: LOW }, 'duplicate'],
    ['refuses an older version as stale', held(3, LOW), { version: 2, cid: HIGH }, 'stale'],
    ['at an equal version with other bytes, takes the higher CID', held(2, LOW), { version: 2, cid: HIGH }, 'accept'],
    ['at an equal version with other bytes, refuses the lower CID', held(2, HIGH), { version: 2, cid: LOW }, 'stale'],
    // The tombstone (version 5, deleted) is the head: a replay of version 4 must not resurrect it.
    ['does not let a replay resurrect a tombstone', held(5, LOW), { version: 4, cid: HIGH }, 'stale'],
    ['lets a newer signed version replace a tombstone', held(5, LOW), { version: 6, cid: LOW }, 'accept']
  ])('%s', (_what, current, incoming, kind) => {
    expect(mergePolicy(current, incoming).kind).toBe(kind)
  })

  it('converges to the same head whatever order copies arrive in', () => {
    const copies: PolicyHead[] = [
      { version: 2, cid: LOW }, { version: 3, cid: LOW }, { version: 3, cid: HIGH }, { version: 1, cid: HIGH }
    ]
    const orders = [[0, 1, 2, 3], [3, 2, 1, 0], [2, 0, 3, 1], [1, 3, 0, 2]]
    const results = orders.map(order => {
      let head: PolicyHead | undefined
      for (const i of order) {
        const incoming = copies[i]!
        if (mergePolicy(head, incoming).kind === 'accept') head = incoming
      }
      return head
    })
    for (const r of results) expect(r).toEqual({ version: 3, cid: HIGH })
  })

  it('says why a copy is stale', () => {
    expect(mergePolicy(held(3, LOW), { version: 2, cid: LOW })).toEqual({ kind: 'stale', reason: 'version 2 is older than the held version 3' })
    expect(mergePolicy(held(3, HIGH), { version: 3, cid: LOW })).toMatchObject({ kind: 'stale', reason: expect.stringMatching(/tie-break/) })
  })
})
