import { describe, expect, it } from 'vitest'
import { planRequests, wantsFrom } from './schedule.js'
import type { PeerView, ScheduleParams, ScheduleState } from './schedule.js'

const params: ScheduleParams = { maxInFlightPerPeer: 2, maxInFlight: 100, maxChunksPerRequest: 1, endgameChunks: 2, endgameDuplicates: 2 }

/** A peer offering the chunks marked 'x' in `offers` ('x..x' offers chunks 0 and 3). */
function peer (id: string, offers: string, extra: Partial<PeerView> = {}): PeerView {
  return { id, offers: [...offers].map(c => c === 'x'), inFlight: 0, banned: false, cooldownUntilMs: 0, score: 0, rateBytesPerSec: 0, ...extra }
}

function state (done: string, peers: PeerView[], extra: Partial<ScheduleState> = {}): ScheduleState {
  const n = done.length
  return {
    done: [...done].map(c => c === 'x'),
    asked: new Map(),
    peers,
    rank: Array.from({ length: n }, (_, i) => i),
    failed: new Map(),
    ...extra
  }
}

/** The plan as 'peer:chunk' strings, endgame ones marked with '*'. */
function plan (s: ScheduleState, p: ScheduleParams = params, now = 0): string[] {
  return planRequests(s, p, now).map(r => `${r.peer}:${r.chunks.join(',')}${r.endgame ? '*' : ''}`)
}

describe('planRequests', () => {
  it('plans nothing when the download has no room or no peer has capacity, also in the endgame', () => {
    const full = state('x..', [peer('a', 'xxx', { inFlight: 2 }), peer('b', 'xxx', { inFlight: 2 })], { asked: new Map([[1, new Set(['a'])], [2, new Set(['b'])]]) })
    expect(plan(full, { ...params, maxInFlight: 4 })).toEqual([])
    expect(plan(full, { ...params, maxInFlight: 100 })).toEqual([])
    // With room and capacity the same state gets its endgame duplicates.
    expect(plan(full, { ...params, maxInFlight: 100, maxInFlightPerPeer: 3 })).toEqual(['b:1*', 'a:2*'])
  })

  it('asks for the rarest chunks first', () => {
    // Chunk 3 is offered by one peer, chunk 1 by two, chunks 0 and 2 by three.
    const s = state('....', [peer('a', 'xxxx'), peer('b', 'xxx.'), peer('c', 'x.x.')])
    expect(plan(s, { ...params, maxInFlightPerPeer: 1 })).toEqual(['a:3', 'b:1', 'c:0'])
  })

  it('breaks ties between equally rare chunks by the per-download rank', () => {
    const s = state('....', [peer('a', 'xxxx')], { rank: [3, 1, 0, 2] })
    expect(plan(s, { ...params, maxInFlightPerPeer: 4 })).toEqual(['a:2', 'a:1', 'a:3', 'a:0'])
  })

  it('never has more than maxInFlightPerPeer chunks outstanding at one peer', () => {
    const s = state('......', [peer('a', 'xxxxxx', { inFlight: 1 }), peer('b', 'xxxxxx')])
    const out = planRequests(s, { ...params, maxInFlightPerPeer: 3 }, 0)
    const perPeer = (id: string): number => out.filter(r => r.peer === id).reduce((n, r) => n + r.chunks.length, 0)
    expect(perPeer('a')).toBe(2)
    expect(perPeer('b')).toBe(3)
    expect(plan(state('....', [peer('a', 'xxxx', { inFlight: 2 })]))).toEqual([])
  })

  it('keeps the chunks asked of a peer in at most maxRequestsPerPeer requests, however many chunks it frees', () => {
    const p = { ...params, maxInFlightPerPeer: 8, maxChunksPerRequest: 4, maxRequestsPerPeer: 2, endgameChunks: 0 }
    // Two requests of four, from nothing.
    expect(plan(state('..........', [peer('a', 'xxxxxxxxxx')]), p)).toEqual(['a:0,1,2,3', 'a:4,5,6,7'])
    // One chunk delivered of two open requests: no room for a request of one chunk.
    expect(plan(state('x.........', [peer('a', 'xxxxxxxxxx', { inFlight: 7, requests: 2 })]), p)).toEqual([])
    // One request ended: a whole request's worth again, although only one chunk of the other is left.
    const one = state('xxxx..........', [peer('a', 'xxxxxxxxxxxxxx', { inFlight: 1, requests: 1 })], { asked: new Map([[4, new Set(['a'])]]) })
    expect(plan(one, p)).toEqual(['a:5,6,7,8'])
    // Without the limit, every freed chunk is a new request.
    expect(plan(state('x.........', [peer('a', 'xxxxxxxxxx', { inFlight: 7, requests: 2 })]), { ...p, maxRequestsPerPeer: undefined })).toEqual(['a:1'])
  })

  it('never has more than maxInFlight chunks outstanding in all', () => {
    const s = state('......', [peer('a', 'xxxxxx', { inFlight: 1 }), peer('b', 'xxxxxx'), peer('c', 'xxxxxx')])
    expect(plan(s, { ...params, maxInFlight: 3 })).toEqual(['b:0', 'c:1'])
    expect(plan(s, { ...params, maxInFlight: 1 })).toEqual([])
  })

  it('sends work to the peer expected to deliver soonest, by its measured rate', () => {
    // a delivers at 3x b's rate: it takes chunks until three queued there are as slow as one at b.
    const s = state('....', [peer('a', 'xxxx', { rateBytesPerSec: 300 }), peer('b', 'xxxx', { rateBytesPerSec: 100 })])
    expect(plan(s, { ...params, maxInFlightPerPeer: 4, endgameChunks: 0 })).toEqual(['a:0', 'a:1', 'a:2', 'b:3'])
    // A peer not measured yet counts as fast as the fastest known one.
    const fresh = state('..', [peer('a', 'xx', { rateBytesPerSec: 300, inFlight: 1 }), peer('new', 'xx')])
    expect(plan(fresh, { ...params, endgameChunks: 0 })).toEqual(['a:1', 'new:0'])
  })

  it('groups chunks for one peer into requests of at most maxChunksPerRequest', () => {
    const s = state('.....', [peer('a', 'xxxxx')])
    expect(plan(s, { ...params, maxInFlightPerPeer: 5, maxChunksPerRequest: 2 })).toEqual(['a:0,1', 'a:2,3', 'a:4'])
  })

  it('spreads chunks over the least loaded peers', () => {
    const s = state('....', [peer('a', 'xxxx', { inFlight: 1 }), peer('b', 'xxxx')])
    expect(plan(s, { ...params, maxInFlightPerPeer: 3, endgameChunks: 0 })).toEqual(['a:1', 'a:3', 'b:0', 'b:2'])
  })

  it('skips chunks already done or asked for, banned peers and peers cooling down', () => {
    const s = state('x...', [peer('a', 'xxxx', { banned: true }), peer('b', 'xxxx', { cooldownUntilMs: 100 }), peer('c', 'xxxx', { inFlight: 1 })], {
      asked: new Map([[1, new Set(['c'])]])
    })
    const p = { ...params, endgameChunks: 0 }
    expect(plan(s, p, 50)).toEqual(['c:2'])
    expect(plan(s, p, 100)).toEqual(['b:2', 'b:3'])
  })

  it('avoids a peer that failed a chunk while another offers it', () => {
    const s = state('..', [peer('a', 'xx'), peer('b', 'x.')], { failed: new Map([[0, new Set(['a'])]]) })
    expect(plan(s, { ...params, endgameChunks: 0 })).toEqual(['a:1', 'b:0'])
    // Nobody else offers chunk 1: the peer that failed it is asked again.
    const only = state('..', [peer('a', 'xx')], { failed: new Map([[1, new Set(['a'])]]) })
    expect(plan(only, { ...params, endgameChunks: 0 })).toEqual(['a:0', 'a:1'])
  })

  it('leaves chunks nobody offers for later', () => {
    expect(plan(state('...', [peer('a', 'x..')]))).toEqual(['a:0'])
  })

  it('in the endgame asks a second peer for chunks already asked of another', () => {
    const s = state('xx..', [peer('a', 'xxxx', { inFlight: 2 }), peer('b', 'xxxx'), peer('c', 'xxxx')], {
      asked: new Map([[2, new Set(['a'])], [3, new Set(['a'])]])
    })
    expect(plan(s)).toEqual(['b:2*', 'c:3*'])
  })

  it('asks no more than endgameDuplicates peers for one chunk', () => {
    const s = state('xxx.', [peer('a', 'xxxx', { inFlight: 1 }), peer('b', 'xxxx'), peer('c', 'xxxx')], {
      asked: new Map([[3, new Set(['a'])]])
    })
    expect(plan(s)).toEqual(['b:3*'])
    expect(plan(s, { ...params, endgameDuplicates: 3 })).toEqual(['b:3*', 'c:3*'])
  })

  it('in the endgame asks a second peer only for a chunk expected late, not for one on time', () => {
    // Chunk 2 is 1000 bytes: its request at a will deliver it in 9 s; b alone would take 1 s (1000 B/s).
    // Chunk 3 will arrive from a in 1.5 s: not worth a second copy at b (1 s alone, factor 2).
    const s = state('xx..', [peer('a', 'xxxx', { inFlight: 2, rateBytesPerSec: 100 }), peer('b', 'xxxx', { rateBytesPerSec: 1000 })], {
      asked: new Map([[2, new Set(['a'])], [3, new Set(['a'])]]),
      sizes: [1000, 1000, 1000, 1000],
      etaMs: new Map([[2, 9000], [3, 1500]])
    })
    const late = { ...params, endgameLateFactor: 2 }
    expect(plan(s, late)).toEqual(['b:2*'])
    // Both on time: no duplicate at all, however idle b is.
    expect(plan({ ...s, etaMs: new Map([[2, 1500], [3, 1500]]) }, late)).toEqual([])
    // A request with nothing measured yet (no ETA) counts as late; factor 0 duplicates at once.
    expect(plan({ ...s, etaMs: new Map([[3, 1500]]) }, late)).toEqual(['b:2*'])
    expect(plan(s, { ...late, endgameLateFactor: 0 })).toEqual(['b:2*', 'b:3*'])
  })

  it('keeps out of the endgame while more than endgameChunks chunks are missing', () => {
    const asked = new Map([[1, new Set(['a'])], [2, new Set(['a'])], [3, new Set(['a'])]])
    const s = state('x...', [peer('a', 'xxxx', { inFlight: 3 }), peer('b', 'xxxx')], { asked })
    expect(plan(s, { ...params, maxInFlightPerPeer: 3 })).toEqual([])
    expect(plan(s, { ...params, maxInFlightPerPeer: 3, endgameChunks: 3 })).toEqual(['b:1*', 'b:2*', 'b:3*'])
  })
})

describe('wantsFrom', () => {
  it('wants from a peer the missing chunks that no other usable peer offers', () => {
    const s = { done: [true, false, false, false], peers: [peer('seed', 'xxxx'), peer('p', '.x..'), peer('q', '..x.', { banned: true })] }
    expect(wantsFrom(s, 'seed', 0)).toEqual([false, false, true, true])
  })
})
