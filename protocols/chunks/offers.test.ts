import { describe, expect, it } from 'vitest'
import { decodeBitfield, encodeBitfield } from './bitfield.js'
import { ChunkProtocolError } from './errors.js'
import { DEFAULT_STARVE_MS, emptyOfferState, forgetPeer, planOffer, recordOffer, takeOffer } from './offers.js'
import type { OfferAsk, OfferReason, SeedOfferParams, SeedOfferState } from './offers.js'

const params: SeedOfferParams = { perPeer: 2, maxOpen: 4, ttlMs: 1000, replicaTarget: 1, seenTtlMs: 60_000 }
const rank = [0, 1, 2, 3, 4, 5, 6, 7]

function ask (peer: string, has: string, wants: string): OfferAsk {
  return { peer, has: [...has].map(c => c === 'x'), wants: [...wants].map(c => c === 'x') }
}

/** Answers `a` and records the answer, as the server does. */
function answer (s: SeedOfferState, a: OfferAsk, now = 0): { state: SeedOfferState, offer: number[] } {
  const plan = planOffer(s, a, params, rank, now)
  return { state: recordOffer(s, a, plan, params, now), offer: plan.offer }
}

describe('seed offers', () => {
  it('gives peers that start together different chunks', () => {
    let s = emptyOfferState(8)
    const offers: number[][] = []
    for (const p of ['a', 'b']) {
      const r = answer(s, ask(p, '........', 'xxxxxxxx'))
      s = r.state
      offers.push(r.offer)
    }
    expect(offers).toEqual([[0, 1], [2, 3]])
  })

  it('offers only chunks the asker wants and lacks', () => {
    const r = answer(emptyOfferState(8), ask('a', 'x.......', 'xx.x....'))
    expect(r.offer).toEqual([1, 3])
  })

  it('keeps offering what the asker has not taken, and no more than its share', () => {
    let s = emptyOfferState(8)
    s = answer(s, ask('a', '........', 'xxxxxxxx')).state
    s = answer(s, ask('b', '........', 'xxxxxxxx')).state
    const again = answer(s, ask('a', '........', 'xxxxxxxx'))
    expect(again.offer).toEqual([0, 1])
    // a took chunk 0 (it now has it): its share has room for one more.
    const after = answer(again.state, ask('a', 'x.......', 'xxxxxxxx'))
    expect(after.offer).toEqual([1, 4])
  })

  it('offers a chunk again only while no other asker holds it or is getting it', () => {
    const peek = (st: SeedOfferState, now: number): number[] => planOffer(st, ask('c', '....', 'xxxx'), params, rank, now).offer
    let s = emptyOfferState(4)
    for (const p of ['a', 'b']) s = answer(s, ask(p, '....', 'xxxx')).state
    s = takeOffer(takeOffer(s, 'a', 0, 0, params), 'a', 1, 0, params)
    s = takeOffer(takeOffer(s, 'b', 2, 0, params), 'b', 3, 0, params)
    expect(s.offered).toEqual([1, 1, 1, 1])
    // Every chunk is on its way to a or b.
    expect(peek(s, 0)).toEqual([])
    // a says it holds 0 and 1; b never reports back, so its copies count only until seenTtlMs.
    s = answer(s, ask('a', 'xx..', '....')).state
    expect(peek(s, 0)).toEqual([])
    expect(peek(s, 59_000)).toEqual([])
    // Past seenTtlMs neither b's copies on their way nor a's word count any more.
    expect(peek(s, 60_001)).toEqual([0, 1])
    // Fewer copies elsewhere than the target, counted in full (c had not waited): `replicas`.
    expect(planOffer(s, ask('c', '....', 'xxxx'), params, rank, 60_001).reasons).toEqual(['replicas', 'replicas'])
  })

  it('makes room for a new offer once the asker takes one', () => {
    let s = answer(emptyOfferState(8), ask('a', '........', 'xxxxxxxx')).state
    s = takeOffer(s, 'a', 0, 0, params)
    expect(answer(s, ask('a', '........', 'xxxxxxxx')).offer).toEqual([1, 2])
  })

  it('offers nothing new once the open offers reach maxOpen, and again once they expire', () => {
    let s = emptyOfferState(8)
    s = answer(s, ask('a', '........', 'xxxxxxxx')).state
    s = answer(s, ask('b', '........', 'xxxxxxxx')).state
    expect(answer(s, ask('c', '........', 'xxxxxxxx')).offer).toEqual([])
    expect(answer(s, ask('c', '........', 'xxxxxxxx'), 1000).offer).toEqual([4, 5])
  })
})

describe('bitfields', () => {
  it('round-trips and sets bit i in byte i/8, least significant first', () => {
    const bits = [true, false, false, true, false, false, false, false, false, true]
    const encoded = encodeBitfield(10, i => bits[i]!)
    expect([...encoded]).toEqual([0b00001001, 0b00000010])
    expect(decodeBitfield(encoded, 10)).toEqual(bits)
  })

  it('refuses a bitfield of the wrong length or with padding bits set', () => {
    expect(() => decodeBitfield(new Uint8Array(3), 10)).toThrow(ChunkProtocolError)
    expect(() => decodeBitfield(Uint8Array.of(0, 0b100), 10)).toThrow(ChunkProtocolError)
  })
})

describe('forgetPeer', () => {
  it('stops counting a departed peer\'s copies, so a newcomer is offered those chunks again', () => {
    const p: SeedOfferParams = { perPeer: 2, maxOpen: 4, ttlMs: 1000, replicaTarget: 1, seenTtlMs: 60_000 }
    const rank = [0, 1, 2, 3]
    let state = emptyOfferState(4)
    // "gone" holds chunks 0 and 1 and told the seed so.
    const goneAsk = { peer: 'gone', has: [true, true, false, false], wants: [false, false, true, true] }
    state = recordOffer(state, goneAsk, planOffer(state, goneAsk, p, rank, 0), p, 0)
    state = { ...state, offered: [1, 1, 0, 0] }
    const newcomer = { peer: 'new', has: [false, false, false, false], wants: [true, true, false, false] }
    // While "gone" counts as a holder, chunks 0 and 1 (offered once already) are withheld.
    expect(planOffer(state, newcomer, p, rank, 10).fresh).toEqual([])
    state = forgetPeer(state, 'gone')
    expect(planOffer(state, newcomer, p, rank, 10).fresh).toEqual([0, 1])
  })

  it('returns the same state for a peer it never saw', () => {
    const state = emptyOfferState(2)
    expect(forgetPeer(state, 'nobody')).toBe(state)
  })
})

describe('seed offers against a member that claims whatever it is offered', () => {
  const withholdMs = 5000
  // Askers' word lasts 120 s, as the server's SEED_SEEN_TTL_MS: longer than starveMs.
  const p: SeedOfferParams = { ...params, withholdMs, seenTtlMs: 120_000 }
  const answerP = (s: SeedOfferState, a: OfferAsk, now: number): { state: SeedOfferState, offer: number[], reasons: OfferReason[] } => {
    const plan = planOffer(s, a, p, rank, now)
    return { state: recordOffer(s, a, plan, p, now), offer: plan.offer, reasons: plan.reasons }
  }
  const bits = (chunks: Iterable<number>, n = 8): string => {
    const set = new Set(chunks)
    return Array.from({ length: n }, (_, i) => set.has(i) ? 'x' : '.').join('')
  }

  /** The liar asks for everything, then claims each chunk it is offered, until it claims all. */
  function liarClaimsAll (takeThem: boolean): SeedOfferState {
    let s = emptyOfferState(8)
    const claimed = new Set<number>()
    for (let round = 0; round < 8 && claimed.size < 8; round++) {
      const r = answerP(s, ask('liar', bits(claimed), bits([0, 1, 2, 3, 4, 5, 6, 7].filter(i => !claimed.has(i)))), round)
      s = r.state
      for (const c of r.offer) {
        if (takeThem) s = takeOffer(s, 'liar', c, round, p)
        claimed.add(c)
      }
    }
    s = answerP(s, ask('liar', 'xxxxxxxx', '........'), 10).state
    expect(s.offered).toEqual([1, 1, 1, 1, 1, 1, 1, 1])
    return s
  }

  it.each<[string, boolean, number, number[], OfferReason[]]>([
    ['an unverified claim, first ask', false, 100, [], []],
    ['an unverified claim, asked again before withholdMs', false, 100 + withholdMs - 1, [], []],
    ['an unverified claim, asked again after withholdMs', false, 100 + withholdMs, [0, 1], ['waited', 'waited']],
    ['copies the seed served the claimant, after withholdMs', true, 100 + withholdMs, [], []],
    ['copies the seed served the claimant, just before starveMs', true, 100 + DEFAULT_STARVE_MS - 1, [], []],
    // The claimant keeps asking and serves nobody: past starveMs the honest asker is served anyway.
    ['copies the seed served the claimant, after starveMs', true, 100 + DEFAULT_STARVE_MS, [0, 1], ['starved', 'starved']]
  ])('an honest downloader behind %s (seed served the liar: %s), asking at %i ms, is offered %j', (_what, takeThem, secondAskMs, expected, reasons) => {
    let s = liarClaimsAll(takeThem)
    const honest = ask('honest', '........', 'xxxxxxxx')
    const first = answerP(s, honest, 100)
    expect(first.offer).toEqual([])
    s = first.state
    // The liar keeps its word fresh.
    s = answerP(s, ask('liar', 'xxxxxxxx', '........'), secondAskMs - 1).state
    const second = answerP(s, honest, secondAskMs)
    expect(second.offer).toEqual(expected)
    expect(second.reasons).toEqual(reasons)
  })

  it('offers past withholdMs a chunk whose holders, all served by this seed, went quiet (seeds themselves now)', () => {
    // Two askers took every chunk from this seed and finished: their last word is their last ask.
    let s = emptyOfferState(4)
    for (const peer of ['a', 'b']) {
      for (const c of [0, 1, 2, 3]) s = takeOffer(s, peer, c, 0, p)
      s = answerP(s, ask(peer, 'xxx.', '...x'), 0).state
    }
    s = answerP(s, ask('a', 'xxxx', '....'), 10).state
    s = answerP(s, ask('b', 'xxxx', '....'), 10).state
    const late = ask('late', 'xxx.', '...x')
    // While they may still be asking, their copies count; the late asker starts waiting.
    const first = answerP(s, late, 20)
    expect(first.offer).toEqual([])
    s = first.state
    expect(answerP(s, late, 20 + withholdMs - 1).offer).toEqual([])
    // Both quiet for withholdMs and the late asker waited as long: offered, long before seenTtlMs.
    expect(answerP(s, late, 20 + withholdMs)).toMatchObject({ offer: [3], reasons: ['waited'] })
  })

  it('two askers that cannot reach each other, each holding what the other wants, are both served by starveMs', () => {
    // The seed served a chunk 0 and b chunk 1; a cannot dial b (a one-way partition, a NAT), so a
    // wants chunk 1 from the seed and b chunk 0. Both still ask, so each copy counts for the
    // other: without a bound on the wait, neither would ever be offered what it lacks.
    let s = emptyOfferState(2)
    const offerAndTake = (peer: string, wants: string, chunk: number): void => {
      const r = answerP(s, ask(peer, '..', wants), 0)
      expect(r).toMatchObject({ offer: [chunk], reasons: ['first'] })
      s = takeOffer(r.state, peer, chunk, 0, p)
    }
    offerAndTake('a', 'x.', 0)
    offerAndTake('b', '.x', 1)
    const a = ask('a', 'x.', '.x')
    const b = ask('b', '.x', 'x.')
    let offeredA: number[] = []
    let offeredB: number[] = []
    let now = 0
    for (; now <= DEFAULT_STARVE_MS; now += 1000) {
      const ra = answerP(s, a, now)
      s = ra.state
      const rb = answerP(s, b, now)
      s = rb.state
      offeredA = ra.offer
      offeredB = rb.offer
      if (now === withholdMs) expect([offeredA, offeredB]).toEqual([[], []])
      if (now < DEFAULT_STARVE_MS) expect([offeredA, offeredB]).toEqual([[], []])
    }
    expect([offeredA, offeredB]).toEqual([[1], [0]])
  })

  it('raises a starveMs below withholdMs to withholdMs: copies the seed served count until then', () => {
    const quick = { ...p, starveMs: 1 }
    const answerQ = (st: SeedOfferState, a: OfferAsk, now: number): SeedOfferState => recordOffer(st, a, planOffer(st, a, quick, rank, now), quick, now)
    let s = emptyOfferState(1)
    s = answerQ(s, ask('a', '.', 'x'), 0)
    s = takeOffer(s, 'a', 0, 0, quick)
    s = answerQ(s, ask('a', 'x', '.'), 0)
    const late = ask('late', '.', 'x')
    s = answerQ(s, late, 10)
    expect(s.waiting.get('late')?.get(0)).toBe(10)
    // `a` keeps asking, so the copy the seed served it counts until late has waited withholdMs.
    s = answerQ(s, ask('a', 'x', '.'), 10 + withholdMs - 2)
    expect(planOffer(s, late, quick, rank, 11).offer).toEqual([])
    expect(planOffer(s, late, quick, rank, 10 + withholdMs - 1).offer).toEqual([])
    expect(planOffer(s, late, quick, rank, 10 + withholdMs).offer).toEqual([0])
  })

  it('the honest downloader completes from the seed alone while the liar keeps claiming', () => {
    let s = liarClaimsAll(false)
    const got = new Set<number>()
    let now = 100
    for (let step = 0; step < 200 && got.size < 8; step++, now += 1000) {
      s = answerP(s, ask('liar', 'xxxxxxxx', '........'), now).state
      const r = answerP(s, ask('honest', bits(got), bits([0, 1, 2, 3, 4, 5, 6, 7].filter(i => !got.has(i)))), now)
      s = r.state
      for (const c of r.offer) {
        s = takeOffer(s, 'honest', c, now, p)
        got.add(c)
      }
    }
    expect(got.size).toBe(8)
    expect(now).toBeLessThan(100 + 4 * (withholdMs + 1000))
  })

  it('forgetPeer drops what the seed served and what the peer waited for', () => {
    let s = liarClaimsAll(true)
    s = answerP(s, ask('honest', '........', 'xxxxxxxx'), 100).state
    expect(s.served.has('liar')).toBe(true)
    expect(s.waiting.has('honest')).toBe(true)
    s = forgetPeer(forgetPeer(s, 'liar'), 'honest')
    expect(s.served.size).toBe(0)
    expect(s.waiting.size).toBe(0)
  })
})
