import { peerIdFromString } from '@libp2p/peer-id'
import { describe, expect, it } from 'vitest'
import { newPeerRecord, pickEvictable } from './peer.js'
import type { PeerRecord } from './peer.js'

const IDS = [
  '12D3KooWAq4cY1oyrmXBY6MRX3SHLuq6XDBsJZ2rY6VZsGQ4X9QH',
  '12D3KooWBSGkWLVLsMnb3LXDMWDTiH5Cq7ZQAN7E8A7kSmrDvLvJ',
  '12D3KooWCo8SjWYpCbPFbUjvXj4Xk1mXrpXeH7hXJcEFDpx1F8Hh'
]

function peer (i: number, over: Partial<PeerRecord> = {}): PeerRecord {
  return { ...newPeerRecord(peerIdFromString(IDS[i]!), 4, i / 10), ...over }
}

describe('pickEvictable: which peer gives its place to another at the cap', () => {
  it.each<[string, PeerRecord[], number | undefined]>([
    ['none while every peer is still to be asked', [peer(0), peer(1)], undefined],
    ['one without the manifest', [peer(0, { status: 'ok', offers: [true, false, false, false] }), peer(1, { status: 'no-manifest', manifestTriedMs: 5 })], 1],
    ['one that offers nothing', [peer(0, { status: 'ok', offers: [true, false, false, false] }), peer(1, { status: 'ok' })], 1],
    ['without the manifest before offering nothing', [peer(0, { status: 'ok' }), peer(1, { status: 'no-manifest', manifestTriedMs: 5 })], 1],
    ['the longest-asked of equals', [peer(0, { status: 'no-manifest', manifestTriedMs: 9 }), peer(1, { status: 'no-manifest', manifestTriedMs: 3 }), peer(2, { status: 'no-manifest', manifestTriedMs: 7 })], 1],
    ['not one with chunks in flight', [peer(0, { status: 'no-manifest', inFlight: 1 })], undefined],
    ['not one being watched', [peer(0, { status: 'ok', watchOpening: true })], undefined],
    ['not a complete holder that offers nothing yet', [peer(0, { status: 'ok', complete: true })], undefined],
    ['not a banned or dropped one (they do not hold a place)', [peer(0, { status: 'no-manifest', banned: true }), peer(1, { status: 'no-manifest', dropped: true })], undefined]
  ])('%s', (_what, peers, expected) => {
    const picked = pickEvictable(peers)
    expect(picked === undefined ? undefined : peers.indexOf(picked)).toBe(expected)
  })
})
