import { describe, expect, it } from 'vitest'
import { compareHeads, newerThan } from './digest.js'

const A = 'bagaaieraaaaa'
const B = 'bagaaierabbbb'

describe('policy heads', () => {
  it.each([
    ['a higher version wins', { version: 3, cid: A }, { version: 2, cid: B }, 1],
    ['a lower version loses', { version: 2, cid: B }, { version: 3, cid: A }, -1],
    ['the same head is equal', { version: 2, cid: A }, { version: 2, cid: A }, 0],
    ['at an equal version the higher CID wins', { version: 2, cid: B }, { version: 2, cid: A }, 1],
    ['at an equal version the lower CID loses', { version: 2, cid: A }, { version: 2, cid: B }, -1]
  ])('%s', (_what, a, b, expected) => {
    expect(compareHeads(a, b)).toBe(expected)
  })

  it('lists what the other side lacks or holds older, by name', () => {
    const local = [
      { name: 'zeta', version: 1, cid: A },
      { name: 'alpha', version: 5, cid: A },
      { name: 'beta', version: 2, cid: A },
      { name: 'gamma', version: 4, cid: B }
    ]
    const remote = [
      { name: 'alpha', version: 4, cid: B }, // older: send
      { name: 'beta', version: 3, cid: A }, // newer there: do not send
      { name: 'gamma', version: 4, cid: B }, // same: do not send
      { name: 'delta', version: 1, cid: A } // only there: nothing to send
    ]
    expect(newerThan(local, remote)).toEqual(['alpha', 'zeta'])
    expect(newerThan(remote, local)).toEqual(['beta', 'delta'])
    expect(newerThan(local, local)).toEqual([])
  })
})
