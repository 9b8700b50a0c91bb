import { describe, expect, it } from 'vitest'
import { firstCopies, parseChunkRecord } from '../bench/netns/swarm.js'

const line = (ts: string, index: number, peer: string): string => JSON.stringify({ ts, level: 'debug', component: 'tutti.node.fetch', msg: 'chunk stored', peer, index, bytes: 65536 })

describe('bench/netns swarm first copies', () => {
  it('parses only chunk-stored records', () => {
    expect(parseChunkRecord('n1', line('2026-12-08T02:00:01.500Z', 3, 'O'))).toEqual({ atMs: Date.parse('2026-12-08T02:00:01.500Z'), node: 'n1', index: 3, from: 'O' })
    expect(parseChunkRecord('n1', JSON.stringify({ ts: '2026-12-08T02:00:01.500Z', msg: 'download complete' }))).toBeUndefined()
    expect(parseChunkRecord('n1', '{"msg":"chunk stored", broken')).toBeUndefined()
    expect(parseChunkRecord('n1', JSON.stringify({ ts: 'not a time', msg: 'chunk stored', index: 1, peer: 'O' }))).toBeUndefined()
  })

  it('takes each chunk at its earliest copy anywhere, and names where first copies came from', () => {
    const t0 = Date.parse('2026-12-08T02:00:00.000Z')
    const recs = [
      line('2026-12-08T02:00:01.000Z', 0, 'O'), // n1 from the origin
      line('2026-12-08T02:00:01.200Z', 1, 'O'),
      line('2026-12-08T02:00:03.000Z', 2, 'O')
    ].map(l => parseChunkRecord('n1', l)!)
    const relayed = [
      line('2026-12-08T02:00:01.100Z', 0, 'A'), // n2 got chunk 0 later, from n1
      line('2026-12-08T02:00:02.000Z', 3, 'A'), // chunk 3's first copy is a relay
      line('2026-12-08T02:00:04.000Z', 2, 'A')
    ].map(l => parseChunkRecord('n2', l)!)
    const fc = firstCopies([...relayed, ...recs], 'O', t0)!
    expect(fc).toEqual({ chunks: 4, everyChunkAtMs: 3000, fromOrigin: 3, originHalfAtMs: 1200, originNinetyAtMs: 3000 })
    expect(firstCopies([], 'O', t0)).toBeUndefined()
  })
})
