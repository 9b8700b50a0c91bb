import { describe, expect, it } from 'vitest'
import { decodeBitfield, encodeBitfield } from './bitfield.js'
import { ChunkProtocolError } from './errors.js'
import { emptyOfferState, planOffer, recordOffer, takeOffer } from './offers.js'
import type { OfferAsk, SeedOfferParams, SeedOfferState } from './offers.js'

const params: SeedOfferParams = { perPeer: 2, maxOpen: 4, ttlMs: 1000 }
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

  it('prefers chunks offered least often, so the seed sends each chunk about once', () => {
    let s = emptyOfferState(4)
    for (const p of ['a', 'b']) s = answer(s, ask(p, '....', 'xxxx')).state
    s = takeOffer(takeOffer(s, 'a', 0), 'a', 1)
    s = takeOffer(takeOffer(s, 'b', 2), 'b', 3)
    expect(answer(s, ask('c', '....', 'xxxx')).offer).toEqual([0, 1])
    expect(s.offered).toEqual([1, 1, 1, 1])
  })

  it('makes room for a new offer once the asker takes one', () => {
    let s = answer(emptyOfferState(8), ask('a', '........', 'xxxxxxxx')).state
    s = takeOffer(s, 'a', 0)
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
