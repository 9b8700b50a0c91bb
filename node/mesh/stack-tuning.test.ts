/**
 * The stack tuning (stack-tuning.ts): the window rule as a table, then on real libp2p nodes (the
 * mesh's own stack on the memory transport: pnet, noise, yamux) that small messages no longer draw
 * a window update each, that a large transfer still arrives whole, and that the length-prefixed
 * decoder yields the same frames for every split of its input without a RangeError per chunk;
 * and that Ed25519 keys parsed once sign and verify exactly as before.
 */
import { createHash, createPrivateKey, generateKeyPairSync, randomBytes, sign as nodeSign } from 'node:crypto'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { StreamState, YamuxStream } from '@libp2p/yamux/stream'
import { Uint8ArrayList } from 'uint8arraylist'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createFleet, swarmKey } from '../fleet/fleet.js'
import { createMeshLibp2p } from './libp2p.js'
import { ED25519_KEY_CACHE_SIZE, ed25519KeyCacheSize, tuneLibp2pStack, windowUpdateMayWait } from './stack-tuning.js'
import type { MeshLibp2p } from './libp2p.js'
import type { Stream } from '@libp2p/interface'

const PROTOCOL = '/tutti-test/stack-tuning/1.0.0'
const WINDOW = 256 * 1024

describe('windowUpdateMayWait', () => {
  it.each([
    ['open, nothing used', StreamState.Established, WINDOW, WINDOW, true],
    ['open, just under half used', StreamState.Established, WINDOW, WINDOW / 2 + 1, true],
    ['open, half used', StreamState.Established, WINDOW, WINDOW / 2, false],
    ['open, all used', StreamState.Established, WINDOW, 0, false],
    ['SYN sent (flags 0), little used', StreamState.SYNSent, WINDOW, WINDOW - 100, true],
    ['finished, little used', StreamState.Finished, WINDOW, WINDOW - 100, true],
    ['not yet opened: the update carries SYN', StreamState.Init, WINDOW, WINDOW, false],
    ['opened by the peer: the update carries ACK', StreamState.SYNReceived, WINDOW, WINDOW - 100, false],
    ['paused: yamux itself decides', StreamState.Paused, WINDOW, WINDOW - 100, false],
    ['a window grown to 1 MiB, 300 KiB used', StreamState.Established, 4 * WINDOW, 4 * WINDOW - 300 * 1024, true]
  ])('%s', (_name, state, window, capacity, wait) => {
    expect(windowUpdateMayWait(state, window, capacity)).toBe(wait)
  })
})

describe('tuneLibp2pStack', () => {
  it('is on once any node is built, and leaves the stack alone with TUTTI_STOCK_LIBP2P=1', () => {
    expect(tuneLibp2pStack({ TUTTI_STOCK_LIBP2P: '1' })).toBe(false)
    expect(tuneLibp2pStack({})).toBe(true)
    expect(tuneLibp2pStack({})).toBe(true) // once per process: a second call changes nothing
  })
})

describe('yamux window updates on real nodes', () => {
  const started: MeshLibp2p[] = []
  afterEach(async () => { await Promise.all(started.splice(0).map(async n => { await n.stop() })) })

  async function pair (): Promise<[MeshLibp2p, MeshLibp2p]> {
    const { fleet } = await createFleet({ name: 'stack-tuning' })
    const nodes: MeshLibp2p[] = []
    for (let i = 0; i < 2; i++) {
      const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', listen: [`/memory/stack-tuning-${randomBytes(6).toString('hex')}`] })
      await node.start()
      started.push(node)
      nodes.push(node)
    }
    return [nodes[0]!, nodes[1]!]
  }

  /** Window update frames the receiving stream sends, counted on its own frame sender. */
  function countWindowUpdates (stream: Stream): { updates: number } {
    expect(stream).toBeInstanceOf(YamuxStream)
    const counts = { updates: 0 }
    const s = stream as unknown as { sendFrame: (header: { type: number }, data?: unknown) => boolean }
    const send = s.sendFrame
    s.sendFrame = (header, data) => {
      if (header.type === 1) counts.updates++
      return send(header, data)
    }
    return counts
  }

  /** Receives on `b`: the bytes, their digest, and the window updates b sent back while reading. */
  function receiver (b: MeshLibp2p): Promise<{ bytes: number, sha256: string, updates: number }> {
    return new Promise((resolve, reject) => {
      b.handle(PROTOCOL, async (stream) => {
        try {
          const counts = countWindowUpdates(stream)
          const hash = createHash('sha256')
          let bytes = 0
          for await (const chunk of stream) {
            const buf = chunk instanceof Uint8Array ? chunk : chunk.subarray()
            hash.update(buf)
            bytes += buf.byteLength
          }
          await stream.close()
          resolve({ bytes, sha256: hash.digest('hex'), updates: counts.updates })
        } catch (err) {
          reject(err)
        }
      }).catch(reject)
    })
  }

  async function send (stream: Stream, pieces: Uint8Array[]): Promise<void> {
    for (const piece of pieces) {
      if (!stream.send(piece)) await new Promise(resolve => stream.addEventListener('drain', resolve, { once: true }))
    }
    await stream.close()
  }

  it('small messages draw no window update each; the peer still hears every byte', async () => {
    const [a, b] = await pair()
    const received = receiver(b)
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, PROTOCOL)
    const pieces = Array.from({ length: 400 }, () => randomBytes(300))
    await send(stream, pieces)
    const got = await received
    expect(got.bytes).toBe(400 * 300)
    expect(got.sha256).toBe(createHash('sha256').update(Buffer.concat(pieces)).digest('hex'))
    // 120 KB is under half the 256 KiB window: none, where stock js-yamux sent one per frame (~400).
    expect(got.updates).toBeLessThanOrEqual(2)
  })

  it('a transfer of many windows arrives whole, with an update per half window or so', async () => {
    const [a, b] = await pair()
    const received = receiver(b)
    const stream = await a.dialProtocol(b.getMultiaddrs()[0]!, PROTOCOL)
    const pieces = Array.from({ length: 160 }, () => randomBytes(60 * 1024)) // 9.4 MiB
    await send(stream, pieces)
    const got = await received
    expect(got.bytes).toBe(160 * 60 * 1024)
    expect(got.sha256).toBe(createHash('sha256').update(Buffer.concat(pieces)).digest('hex'))
    expect(got.updates).toBeGreaterThan(0)
    expect(got.updates).toBeLessThan(160) // stock: one per data frame, at least one per piece
  })
})

describe('LengthPrefixedDecoder without a RangeError per chunk', () => {
  beforeAll(() => { tuneLibp2pStack({}) })

  /** Frames with a 2-byte big-endian length, as noise's. */
  const frame = (payload: Uint8Array): Uint8Array => Buffer.concat([Buffer.from([payload.byteLength >> 8, payload.byteLength & 0xff]), payload])
  const uint16 = (calls: { empty: number, all: number }) => {
    const decode = (data: Uint8ArrayList | Uint8Array): number => {
      calls.all++
      if (data.byteLength === 0) calls.empty++
      if (data.byteLength < 2) throw new RangeError('Could not decode int16BE')
      return data instanceof Uint8Array ? (data[0]! << 8) + data[1]! : data.getUint16(0)
    }
    return decode
  }

  it('yields the same frames for every way of splitting the bytes, never asking with nothing buffered', () => {
    const payloads = [randomBytes(5), randomBytes(1), randomBytes(300), randomBytes(2), randomBytes(1000)]
    const wire = Buffer.concat(payloads.map(frame))
    for (let seed = 0; seed < 50; seed++) {
      const calls = { empty: 0, all: 0 }
      const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16(calls), encodingLength: () => 2 })
      const out: Buffer[] = []
      let at = 0
      let step = 1 + (seed * 7) % 13
      while (at < wire.byteLength) {
        const end = seed === 0 ? wire.byteLength : Math.min(wire.byteLength, at + step)
        for (const f of decoder.decode(wire.subarray(at, end))) out.push(Buffer.from((f as Uint8ArrayList).subarray()))
        at = end
        step = 1 + (step * 5 + seed) % 400
      }
      expect(out.map(b => b.toString('hex'))).toEqual(payloads.map(p => p.toString('hex')))
      expect(calls.empty).toBe(0)
      expect(calls.all).toBeGreaterThan(0)
    }
  })

  it('still refuses a length over the limit and a buffer over its cap', () => {
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: uint16({ empty: 0, all: 0 }), encodingLength: () => 2, maxDataLength: 100 })
    expect(() => [...decoder.decode(frame(randomBytes(200)))]).toThrow(/Invalid message length/)
    const small = new LengthPrefixedDecoder({ lengthDecoder: uint16({ empty: 0, all: 0 }), encodingLength: () => 2, maxBufferSize: 10 })
    expect(() => [...small.decode(randomBytes(11))]).toThrow(/Buffer length limit exceeded/)
  })

  it('passes on an error of the length decoder that is not a short read', () => {
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: () => { throw new TypeError('bad prefix') }, encodingLength: () => 2 })
    expect(() => [...decoder.decode(randomBytes(4))]).toThrow(/bad prefix/)
  })
})

describe('Ed25519 keys parsed once (change 3)', () => {
  beforeAll(() => { tuneLibp2pStack({}) })
  const message = new TextEncoder().encode('libp2p-pubsub: a heartbeat')

  it('signs exactly as Node\'s crypto does, and verifies good, tampered and foreign signatures as before', async () => {
    const key = await generateKeyPair('Ed25519')
    const other = await generateKeyPair('Ed25519')
    const sig = await key.sign(message)
    // The reference: the same seed through Node's JWK import, as @libp2p/crypto ships it.
    const jwk = { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'), x: Buffer.from(key.publicKey.raw).toString('base64url') }
    expect(Buffer.from(sig).equals(nodeSign(null, message, createPrivateKey({ key: jwk, format: 'jwk' })))).toBe(true)
    expect(await key.sign(message)).toEqual(sig) // the cached KeyObject signs the same
    expect(await key.publicKey.verify(message, sig)).toBe(true)
    expect(await key.publicKey.verify(new Uint8ArrayList(message.subarray(0, 10), message.subarray(10)), sig)).toBe(true)
    const tampered = Uint8Array.from(message)
    tampered[3]! ^= 1
    expect(await key.publicKey.verify(tampered, sig)).toBe(false)
    expect(await other.publicKey.verify(message, sig)).toBe(false)
    // A new object for the same key (gossipsub builds one per message) verifies from the cache.
    expect(await publicKeyFromRaw(key.publicKey.raw).verify(message, sig)).toBe(true)
  })

  it('goes the shipped way for a signature of the wrong length (its TypeError included)', async () => {
    const key = await generateKeyPair('Ed25519')
    expect(() => key.publicKey.verify(message, new Uint8Array(63))).toThrow(TypeError)
  })

  it('keeps at most ED25519_KEY_CACHE_SIZE public keys, one entry per key however often it verifies', async () => {
    const key = await generateKeyPair('Ed25519')
    const sig = await key.sign(message)
    await key.publicKey.verify(message, sig)
    const size = ed25519KeyCacheSize()
    for (let i = 0; i < 10; i++) expect(await publicKeyFromRaw(key.publicKey.raw).verify(message, sig)).toBe(true)
    expect(ed25519KeyCacheSize()).toBe(size)
    for (let i = 0; i <= ED25519_KEY_CACHE_SIZE; i++) {
      const raw = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x!
      expect(await publicKeyFromRaw(Buffer.from(raw, 'base64url')).verify(message, sig)).toBe(false)
    }
    expect(ed25519KeyCacheSize()).toBe(ED25519_KEY_CACHE_SIZE)
    // Dropped as the least recently used, the first key still verifies (made again).
    expect(await key.publicKey.verify(message, sig)).toBe(true)
  })
})
