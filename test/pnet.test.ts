import { createRequire } from 'node:module'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { noise } from '@libp2p/noise'
import { preSharedKey } from '@libp2p/pnet'
import { tcp } from '@libp2p/tcp'
import { byteStream, multiaddrConnectionPair } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { ManualClock } from '../core/clock.js'
import { seededRandom } from '../core/random.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import {
  PNET_MAX_BLOCKS, PnetConnection, PnetError, XSalsa20Stream, decodeSwarmKey, tuttiPreSharedKey
} from '../node/mesh/pnet.js'
import type { Libp2p, MultiaddrConnection, Stream, StreamCloseEvent } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/** The `xsalsa20` package stock `@libp2p/pnet` peers run: the reference our keystream must match. */
const stockXsalsa20 = createRequire(import.meta.url)('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { update(input: Uint8Array): Uint8Array }

const ECHO = '/tutti-test/echo/1.0.0'

function seededBytes (random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256)
  return out
}

function swarmKeyFile (key: Uint8Array): Uint8Array {
  const hex = Array.from(key, b => b.toString(16).padStart(2, '0')).join('')
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`)
}

/** Cuts `n` bytes into seeded pieces of 0..200 bytes, so chunks straddle 64-byte blocks. */
function cuts (random: () => number, n: number): number[] {
  const sizes: number[] = []
  for (let left = n; left > 0;) {
    const size = Math.min(left, Math.floor(random() * 201))
    sizes.push(size)
    left -= size
  }
  return sizes
}

async function echo (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
}

function closed (conn: MultiaddrConnection): Promise<StreamCloseEvent> {
  return new Promise(resolve => { conn.addEventListener('close', resolve, { once: true }) })
}

describe('XSalsa20Stream', () => {
  it('continues the keystream across writes of any size, as one xsalsa20 call would', () => {
    const random = seededRandom(11)
    const key = seededBytes(random, 32)
    const nonce = seededBytes(random, 24)
    const plain = seededBytes(random, 70_000)
    const whole = xsalsa20(key, nonce, plain)
    const reference = stockXsalsa20(nonce, key)
    const stream = new XSalsa20Stream(key, nonce)
    const sealed = new Uint8Array(plain.length)
    let offset = 0
    for (const size of [...cuts(random, 1000), 63, 1, 64, 65, 4096, 130]) {
      if (offset + size > plain.length) break
      const piece = plain.subarray(offset, offset + size)
      stream.xor(piece, sealed.subarray(offset, offset + size))
      expect(Buffer.compare(sealed.subarray(offset, offset + size), reference.update(piece))).toBe(0)
      offset += size
    }
    stream.xor(plain.subarray(offset), sealed.subarray(offset))
    expect(Buffer.compare(sealed, whole)).toBe(0)
  })

  it('encrypts in place', () => {
    const random = seededRandom(12)
    const key = seededBytes(random, 32)
    const nonce = seededBytes(random, 24)
    const data = seededBytes(random, 1000)
    const expected = xsalsa20(key, nonce, data)
    const stream = new XSalsa20Stream(key, nonce)
    stream.xor(data.subarray(0, 10), data.subarray(0, 10))
    stream.xor(data.subarray(10), data.subarray(10))
    expect(Buffer.compare(data, expected)).toBe(0)
  })

  it('refuses to run past the 32-bit block counter, consuming nothing', () => {
    const random = seededRandom(13)
    const key = seededBytes(random, 32)
    const nonce = seededBytes(random, 24)
    const stream = new XSalsa20Stream(key, nonce, PNET_MAX_BLOCKS - 2)
    const out = new Uint8Array(100)
    stream.xor(new Uint8Array(100), out)
    expect(Buffer.compare(out, xsalsa20(key, nonce, new Uint8Array(100), undefined, PNET_MAX_BLOCKS - 2))).toBe(0)
    // 28 bytes of the last block are left: 29 is one too many.
    expect(() => { stream.xor(new Uint8Array(29), new Uint8Array(29)) }).toThrow(expect.objectContaining({ code: 'ERR_PNET_KEYSTREAM_EXHAUSTED' }))
    const last = new Uint8Array(28)
    stream.xor(new Uint8Array(28), last)
    expect(Buffer.compare(last, xsalsa20(key, nonce, new Uint8Array(128), undefined, PNET_MAX_BLOCKS - 2).subarray(100))).toBe(0)
  })
})

describe('decodeSwarmKey', () => {
  const hex = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d'
  it.each([
    ['unix lines', `/key/swarm/psk/1.0.0/\n/base16/\n${hex}`],
    ['windows lines and a final newline', `/key/swarm/psk/1.0.0/\r\n/base16/\r\n${hex}\r\n`],
    ['upper-case hex', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.toUpperCase()}`]
  ])('reads a key with %s', (_name, text) => {
    const key = decodeSwarmKey(new TextEncoder().encode(text))
    expect(Buffer.from(key).toString('hex')).toBe(hex)
  })

  it.each([
    ['another tag', `/key/swarm/psk/2.0.0/\n/base16/\n${hex}`],
    ['another encoding', `/key/swarm/psk/1.0.0/\n/base64/\n${hex}`],
    ['a short key', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(2)}`],
    ['a non-hex digit', `/key/swarm/psk/1.0.0/\n/base16/\n${hex.slice(1)}g`],
    ['extra lines', `/key/swarm/psk/1.0.0/\n/base16/\n${hex}\nmore`],
    ['nothing', '']
  ])('rejects %s', (_name, text) => {
    expect(() => decodeSwarmKey(new TextEncoder().encode(text))).toThrow(expect.objectContaining({ code: 'ERR_PNET_KEY' }))
  })
})

describe('PnetConnection', () => {
  const random = seededRandom(21)
  const key = seededBytes(random, 32)
  const nonceA = seededBytes(random, 24)
  const nonceB = seededBytes(random, 24)

  it('aborts only its connection when the inbound keystream fails inside a socket event', async () => {
    const [rawA, rawB] = multiaddrConnectionPair()
    const a = new PnetConnection({ maConn: rawA, inbound: new XSalsa20Stream(key, nonceB), outbound: new XSalsa20Stream(key, nonceA) })
    const b = new PnetConnection({ maConn: rawB, inbound: new XSalsa20Stream(key, nonceA, PNET_MAX_BLOCKS - 1), outbound: new XSalsa20Stream(key, nonceB) })
    const bClosed = closed(b)
    a.send(new Uint8Array(100))
    const evt = await bClosed
    expect(evt.error).toBeInstanceOf(PnetError)
    expect((evt.error as PnetError).code).toBe('ERR_PNET_KEYSTREAM_EXHAUSTED')
    expect(b.status).toBe('aborted')
  })

  it('sends nothing of a chunk it cannot encrypt, and aborts instead of throwing', async () => {
    const [rawA, rawB] = multiaddrConnectionPair()
    const a = new PnetConnection({ maConn: rawA, inbound: new XSalsa20Stream(key, nonceB), outbound: new XSalsa20Stream(key, nonceA, PNET_MAX_BLOCKS - 1) })
    const b = new PnetConnection({ maConn: rawB, inbound: new XSalsa20Stream(key, nonceA, PNET_MAX_BLOCKS - 1), outbound: new XSalsa20Stream(key, nonceB) })
    const received: number[] = []
    b.addEventListener('message', evt => { received.push(evt.data.byteLength) })
    const aClosed = closed(a)
    const bClosed = closed(b)
    expect(a.send(new Uint8Array(64))).toBe(true)
    a.send(new Uint8Array(1))
    const evt = await aClosed
    expect((evt.error as PnetError).code).toBe('ERR_PNET_KEYSTREAM_EXHAUSTED')
    await bClosed
    expect(received.reduce((sum, n) => sum + n, 0)).toBe(64)
  })
})

describe('the nonce exchange', () => {
  it('gives up with ERR_PNET_HANDSHAKE when the peer sends no nonce in time', async () => {
    const clock = new ManualClock()
    const protector = tuttiPreSharedKey({ psk: swarmKeyFile(new Uint8Array(32)), clock, handshakeTimeoutMs: 500 })()
    const [outbound] = multiaddrConnectionPair()
    const protecting = protector.protect(outbound)
    const outcome = protecting.then(() => 'protected', (err: unknown) => err)
    clock.advance(499)
    clock.advance(1)
    const err = await outcome
    expect(err).toBeInstanceOf(PnetError)
    expect((err as PnetError).code).toBe('ERR_PNET_HANDSHAKE')
  })
})

describe('our protector and stock @libp2p/pnet on one network', () => {
  const nodes: Libp2p[] = []
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  async function stockNode (swarmKey: Uint8Array): Promise<Libp2p> {
    const node = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionProtector: preSharedKey({ psk: swarmKey }),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify() }
    })
    nodes.push(node)
    return node
  }

  async function ourNode (swarmKey: Uint8Array): Promise<Libp2p> {
    const node = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey, listen: ['/ip4/127.0.0.1/tcp/0'], start: true })
    nodes.push(node)
    return node
  }

  async function roundTrips (from: Libp2p, to: Multiaddr, random: () => number): Promise<void> {
    const signal = AbortSignal.timeout(20_000)
    const bytes = byteStream(await from.dialProtocol(to, ECHO, { signal }))
    for (const size of [1, 63, 64, 65, 1000, 70_000]) {
      const message = seededBytes(random, size)
      await bytes.write(message, { signal })
      const back = await bytes.read({ bytes: size, signal })
      expect(Buffer.compare(back.subarray(), message)).toBe(0)
    }
  }

  it('exchanges messages with a stock peer, dialing and dialed', async () => {
    const random = seededRandom(31)
    const swarmKey = swarmKeyFile(seededBytes(random, 32))
    const dialed = await stockNode(swarmKey)
    const dialing = await stockNode(swarmKey)
    const ours = await ourNode(swarmKey)
    for (const n of [dialed, ours]) await n.handle(ECHO, async stream => { await echo(stream) })
    await roundTrips(ours, dialed.getMultiaddrs()[0]!, random)
    await roundTrips(dialing, ours.getMultiaddrs()[0]!, random)
  })

  it('cannot connect to a node with another key', async () => {
    const random = seededRandom(32)
    const ours = await ourNode(swarmKeyFile(seededBytes(random, 32)))
    const stranger = await ourNode(swarmKeyFile(seededBytes(random, 32)))
    await stranger.handle(ECHO, async stream => { await echo(stream) })
    await expect(ours.dialProtocol(stranger.getMultiaddrs()[0]!, ECHO, { signal: AbortSignal.timeout(10_000) })).rejects.toThrow()
    expect(ours.getConnections(stranger.peerId)).toHaveLength(0)
  })
})
