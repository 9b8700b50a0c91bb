/**
 * The shaped transport's shaping, on a manual clock: every assertion is about virtual time the
 * test drives, none about the wall clock.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { describe, expect, it } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { seededRandom } from '../../core/random.js'
import { ShapedNetwork, TokenBucket } from './transport.js'
import type { ShapedConnection, ShapedNetworkInit } from './transport.js'

async function pair (init: ShapedNetworkInit & { clock: ManualClock }, from = 'a', to = 'b'): Promise<{ net: ShapedNetwork, a: ShapedConnection, b: ShapedConnection, arrivals: Array<{ t: number, bytes: number }> }> {
  const net = new ShapedNetwork(init)
  const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
  const connecting = net.connect(from, to, components, multiaddr('/memory/b'), new AbortController().signal)
  await init.clock.runUntil(init.clock.now() + 10_000)
  const [a, b] = await connecting
  const arrivals: Array<{ t: number, bytes: number }> = []
  b.addEventListener('message', evt => { arrivals.push({ t: init.clock.now(), bytes: evt.data.byteLength }) })
  return { net, a, b, arrivals }
}

const total = (xs: Array<{ bytes: number }>): number => xs.reduce((s, x) => s + x.bytes, 0)

describe('TokenBucket', () => {
  it('lets a burst out at once, then one byte per 1/rate', () => {
    const b = new TokenBucket(1000, 100)
    expect(b.take(100, 0)).toBe(0)
    expect(b.take(100, 0)).toBe(100)
    expect(b.take(50, 0)).toBe(150)
    // Idle time refills it, up to the burst.
    expect(b.take(100, 10_000)).toBe(10_000)
  })
})

describe('the shaped transport', () => {
  it('adds the link latency to every message, after a one-round-trip dial', async () => {
    const clock = new ManualClock(0)
    const { a, arrivals } = await pair({ clock, links: { latencyMs: 50, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    const sent = clock.now()
    expect(sent).toBe(10_000)
    a.send(new Uint8Array(100))
    await clock.runUntil(sent + 49)
    expect(arrivals).toEqual([])
    await clock.runUntil(sent + 50)
    expect(arrivals).toEqual([{ t: sent + 50, bytes: 100 }])
  })

  it('keeps a connection in order under jitter', async () => {
    const clock = new ManualClock(0)
    const { a, b, arrivals } = await pair({ clock, random: seededRandom(3), links: { latencyMs: 20, jitterMs: 15, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    const seen: number[] = []
    b.addEventListener('message', evt => { seen.push(evt.data.subarray()[0]!) })
    for (let k = 0; k < 50; k++) { a.send(Uint8Array.of(k)); await clock.runUntil(clock.now() + 1) }
    await clock.runUntil(clock.now() + 100)
    expect(seen).toEqual(Array.from({ length: 50 }, (_, k) => k))
    expect(arrivals.every((x, k) => k === 0 || x.t >= arrivals[k - 1]!.t)).toBe(true)
  })

  it('respects the bandwidth: 1 MiB over 100 KB/s takes ~10.3 virtual seconds', async () => {
    const clock = new ManualClock(0)
    const burst = 16 * 1024
    const { a, arrivals } = await pair({ clock, burstBytes: burst, sendBufferBytes: 4 * 1024 * 1024, links: { latencyMs: 10, jitterMs: 0, bytesPerSec: 100_000, loss: 0 } })
    const start = clock.now()
    for (let k = 0; k < 16; k++) a.send(new Uint8Array(64 * 1024))
    await clock.runUntil(start + 20_000)
    expect(total(arrivals)).toBe(1024 * 1024)
    // Every prefix of the stream arrives no sooner than its bytes allow.
    let sum = 0
    for (const x of arrivals) {
      sum += x.bytes
      expect(x.t - start).toBeGreaterThanOrEqual((sum - burst) / 100_000 * 1000 + 10 - 1e-6)
    }
    expect(arrivals.at(-1)!.t - start).toBeCloseTo((1024 * 1024 - burst) / 100_000 * 1000 + 10, 3)
  })

  it('shares a host\'s egress cap across its links', async () => {
    const clock = new ManualClock(0)
    const net = new ShapedNetwork({ clock, burstBytes: 0 })
    net.setEgress('origin', 10_000)
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const [c1, c2] = [net.connect('origin', 'x', components, multiaddr('/memory/x'), new AbortController().signal), net.connect('origin', 'y', components, multiaddr('/memory/y'), new AbortController().signal)]
    await clock.runUntil(1)
    const [[ax, bx], [ay, by]] = await Promise.all([c1, c2])
    const last: number[] = []
    bx.addEventListener('message', () => { last[0] = clock.now() })
    by.addEventListener('message', () => { last[1] = clock.now() })
    ax.send(new Uint8Array(10_000))
    ay.send(new Uint8Array(10_000))
    await clock.runUntil(10_000)
    // 20 KB through one 10 KB/s uplink: the second copy is done after 2 s, not 1 s.
    expect(Math.max(...last) - 1).toBe(2000)
  })

  it('shares a host\'s ingress cap across its links, in arrival order after the latency', async () => {
    const clock = new ManualClock(0)
    const net = new ShapedNetwork({ clock, burstBytes: 0, links: { latencyMs: 50, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    net.setIngress('device', 10_000)
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const [c1, c2] = [net.connect('x', 'device', components, multiaddr('/memory/device'), new AbortController().signal), net.connect('y', 'device', components, multiaddr('/memory/device'), new AbortController().signal)]
    await clock.runUntil(100)
    const [[ax, bx], [ay, by]] = await Promise.all([c1, c2])
    const arrivals: Array<{ from: string, t: number, bytes: number }> = []
    bx.addEventListener('message', evt => { arrivals.push({ from: 'x', t: clock.now(), bytes: evt.data.byteLength }) })
    by.addEventListener('message', evt => { arrivals.push({ from: 'y', t: clock.now(), bytes: evt.data.byteLength }) })
    const start = clock.now()
    ax.send(new Uint8Array(10_000))
    await clock.runUntil(start + 10)
    ay.send(new Uint8Array(5_000))
    ax.send(new Uint8Array(5_000))
    await clock.runUntil(start + 10_000)
    // 20 KB into one 10 KB/s downlink: x's first message reaches it at 50 ms and takes 1 s; y's
    // arrived at 60 ms, so it goes next (0.5 s), then x's second: done 2 s after the first arrival.
    expect(arrivals.map(a => [a.from, a.t - start])).toEqual([['x', 1050], ['y', 1550], ['x', 2050]])
    expect(net.stats('device').receivedBytes).toBe(20_000)
  })

  it('takes a message into a downlink as fast as it leaves the uplink (cut through, not stored and forwarded)', async () => {
    const clock = new ManualClock(0)
    const net = new ShapedNetwork({ clock, burstBytes: 0, links: { latencyMs: 50, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    net.setEgress('x', 10_000)
    net.setIngress('device', 10_000)
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const connecting = net.connect('x', 'device', components, multiaddr('/memory/device'), new AbortController().signal)
    await clock.runUntil(100)
    const [a, b] = await connecting
    const arrivals: number[] = []
    b.addEventListener('message', () => { arrivals.push(clock.now()) })
    const start = clock.now()
    a.send(new Uint8Array(10_000))
    a.send(new Uint8Array(10_000))
    await clock.runUntil(start + 10_000)
    // 1 s each through the 10 KB/s uplink, one latency, and no second second in the downlink.
    expect(arrivals.map(t => t - start)).toEqual([1050, 2050])
  })

  it.each([
    ['without a bound on the queue: behind all 100 KB queued on the other', undefined, 10_010, 10_000],
    ['with a 2 s queue: behind what the other has in it, then in turn', 2000, 3_010, 10_010]
  ])('a small message on one connection waits in a shared uplink %s', async (_what, queueMs, pingAt, bulkDoneAt) => {
    const clock = new ManualClock(0)
    // 10 KB/s x 2 s: room for two of the other connection's 10 KB messages.
    const net = new ShapedNetwork({ clock, burstBytes: 0, queueMs, maxMessageSize: 10_000 })
    net.setEgress('origin', 10_000)
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const [c1, c2] = [net.connect('origin', 'x', components, multiaddr('/memory/x'), new AbortController().signal), net.connect('origin', 'y', components, multiaddr('/memory/y'), new AbortController().signal)]
    await clock.runUntil(1)
    const [[ax, bx], [ay, by]] = await Promise.all([c1, c2])
    let bulk = 0
    let lastBulk = 0
    let ping = 0
    bx.addEventListener('message', evt => { bulk += evt.data.byteLength; lastBulk = clock.now() })
    by.addEventListener('message', () => { ping = clock.now() })
    for (let k = 0; k < 10; k++) ax.send(new Uint8Array(10_000))
    ay.send(new Uint8Array(100))
    await clock.runUntil(30_000)
    expect(ping - 1).toBe(pingAt)
    // The queue changes who waits, not the uplink's rate: 100.1 KB at 10 KB/s either way.
    expect(bulk).toBe(100_000)
    expect(lastBulk - 1).toBe(bulkDoneAt)
  })

  it('gives back the room of data held on a cut link, and of a closed connection', async () => {
    const clock = new ManualClock(0)
    const net = new ShapedNetwork({ clock, burstBytes: 0, queueMs: 1000, maxMessageSize: 10_000, userTimeoutMs: 60_000 })
    net.setEgress('origin', 10_000)
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const [c1, c2] = [net.connect('origin', 'x', components, multiaddr('/memory/x'), new AbortController().signal), net.connect('origin', 'y', components, multiaddr('/memory/y'), new AbortController().signal)]
    await clock.runUntil(1)
    const [[ax], [ay, by]] = await Promise.all([c1, c2])
    const atY: number[] = []
    by.addEventListener('message', () => { atY.push(clock.now()) })
    net.partition([['origin', 'y'], ['x']])
    for (let k = 0; k < 5; k++) ax.send(new Uint8Array(10_000))
    ay.send(new Uint8Array(10_000))
    await clock.runUntil(20_000)
    // x's first two messages wait on the cut link, but hold no room: y's goes in turn, behind what
    // the uplink's bucket already took for x (the bucket is the link's rate, spent either way).
    expect(atY.length).toBe(1)
    expect(atY[0]! - 1).toBeLessThanOrEqual(6_000)
    ay.send(new Uint8Array(10_000))
    await clock.runUntil(40_000)
    expect(atY.length).toBe(2)
    await ax.close()
    ay.send(new Uint8Array(10_000))
    await clock.runUntil(60_000)
    expect(atY.length).toBe(3)
  })

  it('feels loss as TCP does: each lost segment costs one retransmission timeout', async () => {
    const clock = new ManualClock(0)
    const { a, arrivals } = await pair({ clock, links: { latencyMs: 10, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 1 }, minRtoMs: 200, segmentBytes: 1000 })
    const start = clock.now()
    a.send(new Uint8Array(3000))
    await clock.runUntil(start + 10_000)
    // Three segments, all lost once: latency + 3 x max(200, 3 x RTT).
    expect(arrivals).toEqual([{ t: start + 10 + 3 * 200, bytes: 3000 }])
  })

  it('a partition holds data until the heal, then delivers it one latency later', async () => {
    const clock = new ManualClock(0)
    const { net, a, arrivals } = await pair({ clock, links: { latencyMs: 20, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    net.partition([['a']])
    a.send(new Uint8Array(10))
    await clock.runUntil(clock.now() + 5_000)
    expect(arrivals).toEqual([])
    net.heal()
    const healed = clock.now()
    await clock.runUntil(healed + 100)
    expect(arrivals).toEqual([{ t: healed + 20, bytes: 10 }])
  })

  it('resets both ends of a connection whose data waited the user timeout on a cut link', async () => {
    const clock = new ManualClock(0)
    const { net, a, b } = await pair({ clock, userTimeoutMs: 30_000 })
    const closed: string[] = []
    a.addEventListener('close', evt => { closed.push(`a:${evt.error?.name ?? 'clean'}`) })
    b.addEventListener('close', evt => { closed.push(`b:${evt.error?.name ?? 'clean'}`) })
    net.partition([['a'], ['b']])
    a.send(new Uint8Array(10))
    await clock.runUntil(clock.now() + 29_000)
    expect(closed).toEqual([])
    await clock.runUntil(clock.now() + 2_000)
    expect(closed.sort()).toEqual(['a:StreamResetError', 'b:StreamResetError'])
  })

  it('a dial across a partition hangs until its signal aborts; after the heal it connects', async () => {
    const clock = new ManualClock(0)
    const net = new ShapedNetwork({ clock })
    net.partition([['a'], ['b']])
    const components = { peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')), logger: defaultLogger() }
    const controller = new AbortController()
    const dial = net.connect('a', 'b', components, multiaddr('/memory/b'), controller.signal)
    let outcome = 'pending'
    dial.then(() => { outcome = 'connected' }, () => { outcome = 'aborted' })
    await clock.runUntil(60_000)
    expect(outcome).toBe('pending')
    controller.abort(new Error('dial timeout'))
    await clock.runUntil(60_001)
    expect(outcome).toBe('aborted')
    const second = net.connect('a', 'b', components, multiaddr('/memory/b'), new AbortController().signal)
    net.heal()
    await clock.runUntil(60_002)
    expect((await second).length).toBe(2)
  })

  it('a stalled host holds its links without a user timeout, and delivers on unstall', async () => {
    const clock = new ManualClock(0)
    const { net, a, b, arrivals } = await pair({ clock, userTimeoutMs: 1_000, links: { latencyMs: 5, jitterMs: 0, bytesPerSec: Number.POSITIVE_INFINITY, loss: 0 } })
    let closed = false
    b.addEventListener('close', () => { closed = true })
    net.stall('b')
    a.send(new Uint8Array(7))
    await clock.runUntil(clock.now() + 60_000)
    expect(arrivals).toEqual([])
    expect(closed).toBe(false)
    net.unstall('b')
    await clock.runUntil(clock.now() + 10)
    expect(total(arrivals)).toBe(7)
  })

  it('tells a sender past its send buffer to wait, and drains', async () => {
    const clock = new ManualClock(0)
    const { a, arrivals } = await pair({ clock, sendBufferBytes: 100_000, links: { latencyMs: 0, jitterMs: 0, bytesPerSec: 1_000_000, loss: 0 } })
    let drained = 0
    a.addEventListener('drain', () => { drained++ })
    const accepted: boolean[] = []
    for (let k = 0; k < 4; k++) accepted.push(a.send(new Uint8Array(60_000)))
    expect(accepted).toContain(false)
    await clock.runUntil(clock.now() + 10_000)
    expect(total(arrivals)).toBe(240_000)
    expect(drained).toBeGreaterThan(0)
  })

  it('counts what each host sent and received', async () => {
    const clock = new ManualClock(0)
    const { net, a } = await pair({ clock })
    a.send(new Uint8Array(1234))
    await clock.runUntil(clock.now() + 10)
    expect(net.stats('a').sentBytes).toBe(1234)
    expect(net.stats('b').receivedBytes).toBe(1234)
  })
})
