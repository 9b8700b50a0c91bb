/**
 * What the chunk client makes of a peer's bad answers, over real libp2p streams (memory
 * transport): an undecodable frame is the peer breaking the protocol (typed at the decoder, not
 * guessed from message text); a reset is a transport failure, not the peer's fault.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterEach, describe, expect, it } from 'vitest'
import { systemClock } from '../core/clock.js'
import { manifestCid } from '../core/cid.js'
import { swarmKey } from '../node/fleet/fleet.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { CHUNKS_PROTOCOL, ChunkProtocolError, ChunkTransportError, requestHave } from '../protocols/chunks/index.js'
import { createTestFleet } from '../sim/local-mesh.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { Stream } from '@libp2p/interface'

let counter = 0

describe('the chunk client on a misbehaving peer', () => {
  const nodes: MeshLibp2p[] = []
  afterEach(async () => { await Promise.all(nodes.splice(0).map(async n => { await n.stop() })) })

  /** A peer whose chunk protocol reads one request and then does `answer`. */
  async function peers (answer: (stream: Stream) => Promise<void>): Promise<{ asker: MeshLibp2p, holder: MeshLibp2p }> {
    const { fleet } = await createTestFleet()
    const address = `/memory/chunks-errors-${process.pid}-${counter++}`
    const holder = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', listen: [address], start: true })
    const asker = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), swarmKey: swarmKey(fleet), transport: 'memory', start: true })
    nodes.push(holder, asker)
    await holder.handle(CHUNKS_PROTOCOL, async (stream) => {
      await lpStream(stream).read()
      await answer(stream)
    })
    await asker.dial(multiaddr(`${address}/p2p/${holder.peerId.toString()}`))
    return { asker, holder }
  }

  const cid = manifestCid(new TextEncoder().encode('{}'))

  it('an answer with an invalid wire type is a ChunkProtocolError', async () => {
    // An unknown field (15) with wire type 7: the decoder cannot skip it.
    const { asker, holder } = await peers(async stream => { await lpStream(stream).write(Uint8Array.of((15 << 3) | 7, 0x00)) })
    const err = await requestHave({ libp2p: asker, clock: systemClock }, holder.peerId, cid).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ChunkProtocolError)
    expect((err as Error).message).toMatch(/^peer sent an undecodable frame: /)
  })

  it('an answer cut inside a field is a ChunkProtocolError', async () => {
    // Field 2 (a string) announcing 50 bytes, with 1.
    const { asker, holder } = await peers(async stream => { await lpStream(stream).write(Uint8Array.of(0x12, 50, 0x41)) })
    const err = await requestHave({ libp2p: asker, clock: systemClock }, holder.peerId, cid).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ChunkProtocolError)
  })

  it('a stream reset instead of an answer is a ChunkTransportError', async () => {
    const { asker, holder } = await peers(async stream => { stream.abort(new Error('going away')) })
    const err = await requestHave({ libp2p: asker, clock: systemClock }, holder.peerId, cid).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(ChunkTransportError)
  })
})
