import { describe, expect, it } from 'vitest'
import { ChunkErrorCode, ChunkProtocolError, ChunkRemoteError, ChunkTimeoutError, ChunkTransportError } from '../../protocols/chunks/index.js'
import { classifyFailure, failureDecision, planWatches, stallVerdict } from './policy.js'
import type { ExchangeFailure, FailureDecision, WatchCandidate } from './policy.js'

const params = { busyBackoffMs: 500, failureBackoffMs: 3000, maxPeerFailures: 3 }

describe('classifyFailure: the kind of failure from class and code', () => {
  const cases: Array<[string, unknown, ExchangeFailure]> = [
    ['a protocol violation', new ChunkProtocolError('frame out of order'), 'protocol'],
    ['a busy answer', new ChunkRemoteError(ChunkErrorCode.Busy, 'busy'), 'busy'],
    ['a not-found answer', new ChunkRemoteError(ChunkErrorCode.NotFound, 'no such manifest'), 'not-found'],
    ['a timeout', new ChunkTimeoutError('quiet'), 'timeout'],
    ['a transport failure', new ChunkTransportError('reset'), 'transport'],
    ['a peer without the chunk protocol', new ChunkTransportError('peer does not speak it', { unsupported: true }), 'unsupported'],
    ['another remote error', new ChunkRemoteError(ChunkErrorCode.Internal, 'disk'), 'transport'],
    ['a remote error with a code this node does not know', new ChunkRemoteError('ERR_FROM_THE_FUTURE', 'x'), 'transport'],
    ['a store failure', Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' }), 'fatal'],
    ['an error that only says "busy" in its text', new Error('ERR_CHUNKS_BUSY'), 'fatal'],
    ['something not an error', 'boom', 'fatal']
  ]
  for (const [name, err, want] of cases) {
    it(name, () => { expect(classifyFailure(err)).toBe(want) })
  }
})

describe('failureDecision: what a failed exchange does to the peer', () => {
  const cases: Array<{ name: string, failure: ExchangeFailure, failures: number, jitter?: number, want: FailureDecision }> = [
    { name: 'a protocol violation bans', failure: 'protocol', failures: 0, want: { action: 'ban' } },
    { name: 'busy cools down for the busy backoff', failure: 'busy', failures: 2, jitter: 0, want: { action: 'cooldown', untilMs: 10_500 } },
    { name: 'busy backoff stretches with the jitter', failure: 'busy', failures: 0, jitter: 0.5, want: { action: 'cooldown', untilMs: 10_750 } },
    { name: 'not found forgets the offers', failure: 'not-found', failures: 1, want: { action: 'no-manifest' } },
    { name: 'a first transport failure cools down', failure: 'transport', failures: 0, want: { action: 'failure', failures: 1, untilMs: 13_000, drop: false, scoreTimeout: false } },
    { name: 'a timeout also costs score', failure: 'timeout', failures: 0, want: { action: 'failure', failures: 1, untilMs: 13_000, drop: false, scoreTimeout: true } },
    { name: 'the failure before the limit keeps the peer', failure: 'transport', failures: 1, want: { action: 'failure', failures: 2, untilMs: 13_000, drop: false, scoreTimeout: false } },
    { name: 'reaching the limit drops the peer', failure: 'timeout', failures: 2, want: { action: 'failure', failures: 3, untilMs: 13_000, drop: true, scoreTimeout: true } },
    { name: 'past the limit stays dropped', failure: 'transport', failures: 5, want: { action: 'failure', failures: 6, untilMs: 13_000, drop: true, scoreTimeout: false } },
    { name: 'a peer without the protocol is left out at once, for the unsupported backoff', failure: 'unsupported', failures: 0, want: { action: 'failure', failures: 1, untilMs: 70_000, drop: true, scoreTimeout: false } },
    { name: 'a fatal error stops the download', failure: 'fatal', failures: 0, want: { action: 'fatal' } }
  ]
  for (const c of cases) {
    it(c.name, () => { expect(failureDecision(c.failure, c.failures, 10_000, params, c.jitter ?? 0)).toEqual(c.want) })
  }
})

describe('stallVerdict: a download with no progress for the stall timeout', () => {
  const done = [true, false, false, false]
  const peers = [
    { usable: true, offers: [true, true, false, false] },
    { usable: false, offers: [true, true, true, true] },
    { usable: true, offers: [false, true, false, false] }
  ]
  it('has not stalled just before the timeout', () => {
    expect(stallVerdict(done, peers, 1000, 1000 + 119_999, 120_000)).toBeUndefined()
  })
  it('stalls at the timeout, counting only what usable peers offer', () => {
    expect(stallVerdict(done, peers, 1000, 1000 + 120_000, 120_000)).toEqual({ missing: 3, offered: 1, usablePeers: 2 })
  })
  it('stalls with no peers at all', () => {
    expect(stallVerdict(done, [], 0, 5000, 5000)).toEqual({ missing: 3, offered: 0, usablePeers: 0 })
  })
})

describe('planWatches: which peers\' offers to watch', () => {
  const done = [true, false]
  const peer = (over: Partial<WatchCandidate>): WatchCandidate => ({
    id: 'p', usable: true, offers: [false, false], watching: false, opening: false, cooldownUntilMs: 0, nextWatchMs: 0, fresh: false, ...over
  })
  const cases: Array<{ name: string, peer: WatchCandidate, want: { close: string[], open: string[] } }> = [
    { name: 'a peer lacking a missing chunk is watched', peer: peer({}), want: { close: [], open: ['p'] } },
    { name: 'a peer offering every missing chunk is not', peer: peer({ offers: [false, true] }), want: { close: [], open: [] } },
    { name: 'a fresh peer is watched even with a full offer', peer: peer({ offers: [false, true], fresh: true }), want: { close: [], open: ['p'] } },
    { name: 'a watched peer is not watched twice', peer: peer({ watching: true }), want: { close: [], open: [] } },
    { name: 'nor one whose watch is opening', peer: peer({ opening: true }), want: { close: [], open: [] } },
    { name: 'a cooling peer waits', peer: peer({ cooldownUntilMs: 1001 }), want: { close: [], open: [] } },
    { name: 'a cooldown ending now does not hold it', peer: peer({ cooldownUntilMs: 1000 }), want: { close: [], open: ['p'] } },
    { name: 'a peer asked too recently waits', peer: peer({ nextWatchMs: 1500 }), want: { close: [], open: [] } },
    { name: 'an unusable watched peer is closed', peer: peer({ usable: false, watching: true }), want: { close: ['p'], open: [] } },
    { name: 'an unusable unwatched peer is left alone', peer: peer({ usable: false }), want: { close: [], open: [] } }
  ]
  for (const c of cases) {
    it(c.name, () => { expect(planWatches(done, [c.peer], 1000)).toEqual(c.want) })
  }
  it('a finished download opens no watch', () => {
    expect(planWatches([true, true], [peer({})], 1000)).toEqual({ close: [], open: [] })
  })
})
