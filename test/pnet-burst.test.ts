/**
 * Regression for the private-network crash: with `@libp2p/pnet` (xsalsa20's WebAssembly), one
 * write over 640 KiB made the shared WASM memory grow again at every switch between connections,
 * until `WebAssembly.Memory.grow()` threw inside a socket event and the process died. The traffic
 * below (a 6 MiB answer, then small messages alternating over two connections) reaches that
 * within a few hundred round trips with the stock protector; ours must carry all of it.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { byteStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { seededRandom } from '../core/random.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { Stream } from '@libp2p/interface'

const ECHO = '/tutti-test/echo/1.0.0'
const BURST_BYTES = 6 * 1024 * 1024
const SMALL_BYTES = 200
/** Each round trip runs four ciphers in turn; stock xsalsa20 fails after about 990 switches. */
const ROUNDS = 600

function seededBytes (random: () => number, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256)
  return out
}

function testSwarmKey (bytes: Uint8Array): Uint8Array {
  const hex = Array.from(bytes, b => b.toString(16).padStart(2, '0')).join('')
  return new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`)
}

async function echo (stream: Stream): Promise<void> {
  for await (const chunk of stream) {
    if (!stream.send(chunk)) await stream.onDrain()
  }
  await stream.close()
}

describe('private network under a burst and alternating traffic', () => {
  const nodes: MeshLibp2p[] = []

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.stop() }))
  })

  it('carries a 6 MiB answer, then 600 round trips alternating over two connections', async () => {
    const random = seededRandom(7)
    const swarmKey = testSwarmKey(seededBytes(random, 32))
    for (let i = 0; i < 3; i++) {
      nodes.push(await createMeshLibp2p({
        privateKey: await generateKeyPair('Ed25519'),
        swarmKey,
        transport: 'tcp',
        listen: ['/ip4/127.0.0.1/tcp/0'],
        start: true
      }))
    }
    const [a, b, c] = nodes as [MeshLibp2p, MeshLibp2p, MeshLibp2p]
    for (const n of [b, c]) await n.handle(ECHO, async stream => { await echo(stream) })
    const signal = AbortSignal.timeout(50_000)
    const toB = byteStream(await a.dialProtocol(b.getMultiaddrs()[0]!, ECHO, { signal }), { maxBufferSize: 2 * BURST_BYTES })
    const toC = byteStream(await a.dialProtocol(c.getMultiaddrs()[0]!, ECHO, { signal }), { maxBufferSize: 2 * BURST_BYTES })

    const burst = seededBytes(random, BURST_BYTES)
    const [, burstBack] = await Promise.all([
      toB.write(burst, { signal }),
      toB.read({ bytes: BURST_BYTES, signal })
    ])
    expect(Buffer.compare(burstBack.subarray(), burst)).toBe(0)

    for (let round = 0; round < ROUNDS; round++) {
      for (const peer of [toB, toC]) {
        const small = seededBytes(random, SMALL_BYTES)
        await peer.write(small, { signal })
        const back = await peer.read({ bytes: SMALL_BYTES, signal })
        expect(Buffer.compare(back.subarray(), small)).toBe(0)
      }
    }
    expect(a.getConnections(b.peerId).map(conn => conn.status)).toContain('open')
    expect(a.getConnections(c.peerId).map(conn => conn.status)).toContain('open')
  })
})
