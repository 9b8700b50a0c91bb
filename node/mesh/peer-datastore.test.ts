import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { PeerCachingDatastore } from './peer-datastore.js'
import type { Batch, Datastore } from 'interface-datastore'

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)
const peerKey = (n: number): Key => new Key(`/peers/p${n}`)

describe('PeerCachingDatastore', () => {
  let dir: string
  let level: LevelDatastore
  let clock: ManualClock
  let ds: PeerCachingDatastore

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tutti-peer-ds-'))
    level = new LevelDatastore(join(dir, 'ds'))
    await level.open()
    clock = new ManualClock()
    ds = new PeerCachingDatastore(level, { clock, logger: silentLogger }, { flushMs: 5000 })
  })

  afterEach(async () => {
    await ds.close().catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })

  it('answers peer-record reads from memory and writes them behind, coalesced', async () => {
    await ds.put(peerKey(1), bytes('a'))
    await ds.put(peerKey(1), bytes('b'))
    expect(text(await ds.get(peerKey(1)))).toBe('b')
    expect(await level.has(peerKey(1))).toBe(false)
    expect(ds.pending).toBe(1)
    clock.advance(4999)
    expect(await level.has(peerKey(1))).toBe(false)
    clock.advance(1)
    await waitFlushed(ds)
    expect(text(await level.get(peerKey(1)))).toBe('b')
    expect(ds.stats()).toMatchObject({ writes: 2, flushed: 1, flushFailures: 0 })
  })

  it('reads a record it does not hold from the backing store once, then from memory', async () => {
    await level.put(peerKey(2), bytes('stored'))
    expect(text(await ds.get(peerKey(2)))).toBe('stored')
    expect(text(await ds.get(peerKey(2)))).toBe('stored')
    expect(ds.stats()).toMatchObject({ hits: 1, misses: 1 })
    expect(await ds.has(peerKey(2))).toBe(true)
  })

  it('throws the backing store\'s NotFoundError for a record no one wrote', async () => {
    await expect(ds.get(peerKey(3))).rejects.toMatchObject({ name: 'NotFoundError' })
    expect(await ds.has(peerKey(3))).toBe(false)
  })

  it('writes other keys (DHT records) straight through', async () => {
    const dht = new Key('/dht/record/x')
    await ds.put(dht, bytes('r'))
    expect(text(await level.get(dht))).toBe('r')
    expect(ds.pending).toBe(0)
  })

  it('deletes at once, also a record waiting to be written, and it does not come back', async () => {
    await level.put(peerKey(4), bytes('old'))
    await ds.get(peerKey(4))
    await ds.put(peerKey(4), bytes('new'))
    await ds.delete(peerKey(4))
    expect(await level.has(peerKey(4))).toBe(false)
    await expect(ds.get(peerKey(4))).rejects.toMatchObject({ name: 'NotFoundError' })
    await ds.flush()
    expect(await level.has(peerKey(4))).toBe(false)
  })

  it('does not cache a read that a delete overtook', async () => {
    await level.put(peerKey(5), bytes('v'))
    const reading = ds.get(peerKey(5))
    await ds.delete(peerKey(5))
    await reading
    await expect(ds.get(peerKey(5))).rejects.toMatchObject({ name: 'NotFoundError' })
  })

  it('flushes before a query that may return peer records, so the query sees every write', async () => {
    await ds.put(peerKey(6), bytes('x'))
    await ds.put(peerKey(7), bytes('y'))
    const keys: string[] = []
    for await (const k of ds.queryKeys({ prefix: '/peers' })) keys.push(k.toString())
    expect(keys.sort()).toEqual(['/peers/p6', '/peers/p7'])
    const all: string[] = []
    for await (const { key } of ds.query({})) all.push(key.toString())
    expect(all.sort()).toEqual(['/peers/p6', '/peers/p7'])
    expect(ds.pending).toBe(0)
  })

  it('keeps records dirty when a flush fails, and writes them on the next one', async () => {
    let fail = true
    const flaky: Datastore = new Proxy(level, {
      get (target, prop, receiver) {
        if (prop !== 'batch') return Reflect.get(target, prop, receiver)
        return (): Batch => {
          const b = target.batch()
          return { put: (k, v) => { b.put(k, v) }, delete: (k) => { b.delete(k) }, commit: async () => { if (fail) throw new Error('disk full'); await b.commit() } }
        }
      }
    })
    const d = new PeerCachingDatastore(flaky, { clock, logger: silentLogger })
    await d.put(peerKey(8), bytes('z'))
    await expect(d.flush()).rejects.toThrow('disk full')
    expect(d.pending).toBe(1)
    expect(d.stats().flushFailures).toBe(1)
    fail = false
    await d.flush()
    expect(d.pending).toBe(0)
    expect(text(await level.get(peerKey(8)))).toBe('z')
  })

  it('writes everything on close, and a reopened store finds it', async () => {
    await ds.put(peerKey(9), bytes('kept'))
    await ds.close()
    const again = new LevelDatastore(join(dir, 'ds'))
    await again.open()
    try {
      expect(text(await again.get(peerKey(9)))).toBe('kept')
    } finally {
      await again.close()
    }
  })

  it('holds at most maxCached clean records, never dropping a dirty one', async () => {
    const d = new PeerCachingDatastore(level, { clock, logger: silentLogger }, { maxCached: 2 })
    for (let i = 10; i < 14; i++) await d.put(peerKey(i), bytes(String(i)))
    expect(d.pending).toBe(4)
    await d.flush()
    await d.put(peerKey(14), bytes('14'))
    for (let i = 10; i < 15; i++) expect(text(await d.get(peerKey(i)))).toBe(String(i))
    expect(d.stats().misses).toBeGreaterThan(0)
  })

  it('refuses bad settings', () => {
    expect(() => new PeerCachingDatastore(level, { clock, logger: silentLogger }, { flushMs: -1 })).toThrow(RangeError)
    expect(() => new PeerCachingDatastore(level, { clock, logger: silentLogger }, { maxCached: 0 })).toThrow(RangeError)
  })
})

/** The timer's flush runs asynchronously: wait until nothing is pending (each turn lets LevelDB answer). */
async function waitFlushed (ds: PeerCachingDatastore): Promise<void> {
  for (let i = 0; i < 1000 && (ds.pending > 0 || ds.stats().flushed === 0); i++) await new Promise(resolve => setImmediate(resolve))
}
