import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream, streamPair } from '@libp2p/utils'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { ManualClock } from '../../core/clock.js'
import { silentLogger } from '../../core/logger.js'
import { MAX_REQUEST_BYTES, POLICY_SYNC_VERSION, SYNC_READ_TIMEOUT_MS } from './constants.js'
import { compareHeads } from './digest.js'
import { SyncRequest } from './pb/policy-sync.js'
import { PolicySync } from './sync.js'
import type { DigestEntry, PolicyOfferOutcome, PolicySyncStore } from './index.js'
import type { Connection, Stream, StreamHandler } from '@libp2p/interface'

const PEER_A = '12D3KooWLRPJAA5o6Zu4gvbQmSxXxkjN6rXHnUxQvX8K9WYGYMZx'
const PEER_B = '12D3KooWQYV9dGMFoRzNStwpXztXaBUjtPqi6aU76ZgUriHhKust'

/**
 * The store the protocol is written against, holding "envelopes" that are JSON heads: the
 * protocol never looks inside an envelope, so this is all it can rely on too.
 */
class MapStore implements PolicySyncStore {
  readonly heads = new Map<string, DigestEntry>()
  readonly offered: string[] = []

  constructor (entries: DigestEntry[] = []) {
    for (const e of entries) this.heads.set(e.name, e)
  }

  digest (): DigestEntry[] { return [...this.heads.values()] }
  get (name: string): Uint8Array | undefined {
    const head = this.heads.get(name)
    return head == null ? undefined : new TextEncoder().encode(JSON.stringify(head))
  }

  async offer (envelope: Uint8Array): Promise<PolicyOfferOutcome> {
    const head = JSON.parse(new TextDecoder().decode(envelope)) as DigestEntry
    this.offered.push(`${head.name}@${head.version}`)
    const held = this.heads.get(head.name)
    if (held != null && compareHeads(head, held) <= 0) return { kind: held.cid === head.cid && held.version === head.version ? 'duplicate' : 'rejected', name: head.name }
    this.heads.set(head.name, head)
    return { kind: 'accepted', name: head.name }
  }
}

/** Two PolicySync ends joined by an in-memory stream pair per dial. */
function pairOf (storeA: MapStore, storeB: MapStore, clock = new ManualClock(), envelopesPerMessage?: number): { a: PolicySync, b: PolicySync, dialB: () => Promise<Stream> } {
  const handlers = new Map<string, StreamHandler>()
  const connection = (peer: string): Connection => ({ remotePeer: peerIdFromString(peer) }) as unknown as Connection
  const dialB = async (): Promise<Stream> => {
    const [outbound, inbound] = await streamPair()
    void handlers.get(PEER_B)!(inbound, connection(PEER_A))
    return outbound
  }
  const libp2p = (self: string): ConstructorParameters<typeof PolicySync>[0]['libp2p'] => ({
    handle: async (_protocol: string, handler: StreamHandler) => { handlers.set(self, handler) },
    unhandle: async () => { handlers.delete(self) },
    dialProtocol: (async () => await dialB()) as never
  })
  const init = envelopesPerMessage == null ? {} : { envelopesPerMessage }
  return {
    a: new PolicySync({ libp2p: libp2p(PEER_A), store: storeA, clock, logger: silentLogger }, init),
    b: new PolicySync({ libp2p: libp2p(PEER_B), store: storeB, clock, logger: silentLogger }, init),
    dialB
  }
}

const closed = async (stream: Stream): Promise<void> => {
  if (stream.status === 'closed' || stream.status === 'aborted' || stream.status === 'reset') return
  await new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
}

describe('the policy sync exchange', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('brings both sides up to date in one exchange', async () => {
    const storeA = new MapStore([{ name: 'x', version: 2, cid: 'c2' }, { name: 'y', version: 1, cid: 'c1' }])
    const storeB = new MapStore([{ name: 'x', version: 1, cid: 'c1' }, { name: 'z', version: 1, cid: 'c1' }])
    const { a, b } = pairOf(storeA, storeB)
    await b.start()
    const result = await a.sync(peerIdFromString(PEER_B))
    expect(result).toMatchObject({ rounds: 1, received: 1, accepted: 1, pushed: 2, more: false })
    expect(storeA.offered).toEqual(['z@1'])
    expect(storeB.offered.sort()).toEqual(['x@2', 'y@1'])
    expect(storeA.digest().sort((p, q) => p.name.localeCompare(q.name))).toEqual(storeB.digest().sort((p, q) => p.name.localeCompare(q.name)))
    // The acknowledgement tells the dialer what the listener holds now.
    expect(result.remote.get('x')).toEqual({ name: 'x', version: 2, cid: 'c2' })
  })

  it('runs more rounds while a side has more than one message carries', async () => {
    const names = ['a', 'b', 'c', 'd', 'e']
    const storeB = new MapStore(names.map(name => ({ name, version: 1, cid: 'c' })))
    const storeA = new MapStore()
    const { a, b } = pairOf(storeA, storeB, new ManualClock(), 2)
    await b.start()
    const result = await a.sync(peerIdFromString(PEER_B))
    expect(result).toMatchObject({ rounds: 3, received: 5, accepted: 5, more: false })
    expect(storeA.offered).toEqual(['a@1', 'b@1', 'c@1', 'd@1', 'e@1'])
  })

  it('refuses a request longer than MAX_REQUEST_BYTES from its length prefix, before decoding', async () => {
    const storeB = new MapStore([{ name: 'x', version: 1, cid: 'c' }])
    const { b, dialB } = pairOf(new MapStore(), storeB)
    await b.start()
    const decode = vi.spyOn(SyncRequest, 'decode')
    const stream = await dialB()
    // A length prefix of MAX_REQUEST_BYTES + 1 (varint), then a few bytes of the promised body.
    let n = MAX_REQUEST_BYTES + 1
    const prefix: number[] = []
    while (n >= 0x80) { prefix.push((n & 0x7f) | 0x80); n = Math.floor(n / 128) }
    prefix.push(n)
    stream.send(Uint8Array.from([...prefix, 1, 2, 3]))
    await closed(stream)
    expect(decode).not.toHaveBeenCalled()
    expect(storeB.offered).toEqual([])
  })

  it('ends an exchange whose digest lists a name twice, offering nothing', async () => {
    const storeB = new MapStore()
    const { b, dialB } = pairOf(new MapStore(), storeB)
    await b.start()
    const stream = await dialB()
    const entry = { name: 'x', version: 1n, cid: 'c' }
    await lpStream(stream).write(SyncRequest.encode({ version: POLICY_SYNC_VERSION, entries: [entry, entry] }))
    await closed(stream)
    expect(stream.status).not.toBe('open')
    expect(storeB.offered).toEqual([])
  })

  it('gives up on a silent dialer after SYNC_READ_TIMEOUT_MS on the injected clock', async () => {
    const clock = new ManualClock()
    const { b, dialB } = pairOf(new MapStore(), new MapStore(), clock)
    await b.start()
    const stream = await dialB()
    await new Promise(resolve => setImmediate(resolve))
    clock.advance(SYNC_READ_TIMEOUT_MS - 1)
    await new Promise(resolve => setImmediate(resolve))
    expect(stream.status).toBe('open')
    clock.advance(1)
    await closed(stream)
    expect(stream.status).not.toBe('open')
  })
})
