import { describe, expect, it } from 'vitest'
import { admitRequest, admitStream } from './admission.js'
import type { Admission, RequestKind } from './admission.js'

const LIMITS = { maxStreamsPerPeer: 2, maxStreamsTotal: 10, maxWatchesPerPeer: 1, maxWatches: 4 }

describe('admitStream: before a request is read', () => {
  const cases: Array<[string, boolean, number, Admission]> = [
    ['an idle server admits', true, 0, { admit: true }],
    ['one stream under every limit admits', true, 13, { admit: true }],
    ['requests and watches together at their limits: busy', true, 14, { admit: false, message: 'busy: 14 streams open' }],
    ['a stopped server is busy, however idle', false, 0, { admit: false, message: 'busy: the server is stopping' }]
  ]
  for (const [name, running, open, want] of cases) {
    it(name, () => { expect(admitStream(running, open, LIMITS)).toEqual(want) })
  }
})

describe('admitRequest: the limits of its kind, per peer and in total', () => {
  const cases: Array<[string, RequestKind, number, number, Admission]> = [
    ['a first request admits', 'request', 0, 0, { admit: true }],
    ['the last request a peer may have open admits', 'request', 1, 9, { admit: true }],
    ['a peer at its request limit: busy', 'request', 2, 2, { admit: false, message: 'busy: 2 requests open, 2 from you' }],
    ['all peers at the request limit: busy even for a new peer', 'request', 0, 10, { admit: false, message: 'busy: 10 requests open, 0 from you' }],
    ['a first watch admits', 'watch', 0, 3, { admit: true }],
    ['a second watch from one peer: busy', 'watch', 1, 1, { admit: false, message: 'busy: 1 watches open, 1 from you' }],
    ['all watches taken: busy', 'watch', 0, 4, { admit: false, message: 'busy: 4 watches open, 0 from you' }],
    ['watches do not count against requests', 'request', 0, 0, { admit: true }],
    ['a peer with requests open may still watch', 'watch', 0, 0, { admit: true }]
  ]
  for (const [name, kind, mine, total, want] of cases) {
    it(name, () => { expect(admitRequest(kind, mine, total, LIMITS)).toEqual(want) })
  }
})
