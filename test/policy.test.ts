/**
 * Policies across real libp2p nodes on the memory transport (private network, noise, yamux,
 * identify, gossipsub: the mesh's stack, with a connection gater so a test can partition the
 * mesh). Anti-entropy intervals run on a shared ManualClock, so a sync happens only when a
 * connection opens or the test advances the clock.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { gossipsub } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import { memory } from '@libp2p/memory'
import { noise } from '@libp2p/noise'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { preSharedKey } from '@libp2p/pnet'
import { lpStream } from '@libp2p/utils'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterEach, describe, expect, it } from 'vitest'
import { canonicalBytes } from '../core/canonical-json.js'
import { ManualClock } from '../core/clock.js'
import { sealEnvelope } from '../core/envelope.js'
import { silentLogger } from '../core/logger.js'
import { SignedEnvelope } from '../core/pb/envelope.js'
import { seededRandom } from '../core/random.js'
import { swarmKey } from '../node/fleet/fleet.js'
import { gossipsubTransport } from '../node/mesh/pubsub.js'
import { sealPolicy } from '../node/policy/document.js'
import { PolicyErrorCode } from '../node/policy/errors.js'
import { DEFAULT_SYNC_INTERVAL_MS, PolicyService } from '../node/policy/service.js'
import { MAX_POLICY_BYTES, POLICY_PAYLOAD_TYPE, POLICY_SYNC_PROTOCOL, POLICY_TOPIC } from '../protocols/policy/index.js'
import { SyncResponse } from '../protocols/policy/pb/policy-sync.js'
import { policyDoc } from './policy-helpers.js'
import { createTestFleet, waitFor } from '../sim/local-mesh.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PolicyChange } from '../node/policy/store.js'
import type { PolicyServiceInit } from '../node/policy/service.js'
import type { GossipSub } from '@libp2p/gossipsub'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

type TestLibp2p = Libp2p<{ identify: unknown, pubsub: GossipSub }>

interface TestNode {
  name: string
  key: PrivateKey
  peerId: string
  address: string
  libp2p: TestLibp2p
  service: PolicyService
  dataDir?: string
}

/** Resolves after `n` gossipsub heartbeats of `node` (its message cache shifts once per heartbeat). */
async function gossipHeartbeats (node: TestNode, n: number): Promise<void> {
  const pubsub = (node.libp2p.services as { pubsub: EventTarget }).pubsub
  await new Promise<void>(resolve => {
    let seen = 0
    const onBeat = (): void => {
      if (++seen < n) return
      pubsub.removeEventListener('gossipsub:heartbeat', onBeat)
      resolve()
    }
    pubsub.addEventListener('gossipsub:heartbeat', onBeat)
  })
}

/** Resolves once `node` holds `name` at `version`: at once, or on its 'policy:changed' event. */
async function holds (node: TestNode, name: string, version: number): Promise<PolicyChange | undefined> {
  if (node.service.get(name)?.doc.version === version) return undefined
  return await new Promise((resolve, reject) => {
    const failsafe = setTimeout(() => {
      node.service.removeEventListener('policy:changed', listener)
      reject(new Error(`${node.name} never held ${name}@${version} (holds ${node.service.get(name)?.doc.version ?? 'nothing'})`))
    }, 20_000)
    const listener = (evt: CustomEvent<PolicyChange>): void => {
      if (evt.detail.policy.doc.name !== name || evt.detail.policy.doc.version !== version) return
      clearTimeout(failsafe)
      node.service.removeEventListener('policy:changed', listener)
      resolve(evt.detail)
    }
    node.service.addEventListener('policy:changed', listener)
  })
}

describe('policies across a mesh', () => {
  const nodes: TestNode[] = []
  const others: TestLibp2p[] = []
  const dirs: string[] = []
  /** Pairs of peer ids that may not connect (either direction). */
  const blocked = new Set<string>()
  const tag = randomBytes(3).toString('hex')
  let counter = 0
  let fleet: FleetConfig
  let adminKey: PrivateKey
  let clock: ManualClock

  const pair = (a: string, b: string): string => a < b ? `${a}|${b}` : `${b}|${a}`

  afterEach(async () => {
    await Promise.all(nodes.splice(0).map(async n => { await n.service.stop(); await n.libp2p.stop() }))
    await Promise.all(others.splice(0).map(async l => { await l.stop() }))
    await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) }))
    blocked.clear()
  })

  async function setup (): Promise<void> {
    ({ fleet, adminKey } = await createTestFleet())
    clock = new ManualClock()
  }

  async function createLibp2pNode (key: PrivateKey, address: string): Promise<TestLibp2p> {
    const self = peerIdFromPrivateKey(key).toString()
    const denied = (peer: { toString: () => string }): boolean => blocked.has(pair(self, peer.toString()))
    const libp2p = await createLibp2p({
      privateKey: key,
      addresses: { listen: [address] },
      transports: [memory()],
      connectionProtector: preSharedKey({ psk: swarmKey(fleet) }),
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionGater: {
        denyDialPeer: denied,
        denyInboundEncryptedConnection: denied,
        denyOutboundEncryptedConnection: denied
      },
      services: {
        identify: identify(),
        pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, emitSelf: false, maxInboundDataLength: 1024 * 1024 })
      }
    })
    return libp2p as unknown as TestLibp2p
  }

  async function startNode (name: string, options: { key?: PrivateKey, dataDir?: string, init?: PolicyServiceInit } = {}): Promise<TestNode> {
    const key = options.key ?? await generateKeyPair('Ed25519')
    const address = `/memory/policy-${tag}-${counter++}`
    const libp2p = await createLibp2pNode(key, address)
    const peerId = libp2p.peerId.toString()
    const service = new PolicyService({
      clock,
      random: seededRandom(counter),
      logger: silentLogger,
      peerId,
      pubsub: gossipsubTransport(libp2p.services.pubsub),
      libp2p,
      fleet,
      dataDir: options.dataDir
    }, options.init)
    await service.start()
    const node: TestNode = { name, key, peerId, address, libp2p, service, dataDir: options.dataDir }
    nodes.push(node)
    return node
  }

  async function stopNode (node: TestNode): Promise<void> {
    await node.service.stop()
    await node.libp2p.stop()
    nodes.splice(nodes.indexOf(node), 1)
  }

  async function connect (a: TestNode, b: TestNode): Promise<void> {
    await a.libp2p.dial(multiaddr(`${b.address}/p2p/${b.peerId}`))
  }

  /** Until every node's background syncs have finished. */
  async function settled (): Promise<void> {
    await waitFor('background policy syncs to finish', () => nodes.every(n => n.service.stats().syncs.inFlight === 0), 20_000, 10)
  }

  /** Until both ends of every link have each other in their gossip mesh on the policy topic. */
  async function gossipReady (links: Array<[TestNode, TestNode]>): Promise<void> {
    // getMeshPeers is on gossipsub's class, not on its exported interface.
    const mesh = (n: TestNode): string[] => (n.libp2p.services.pubsub as unknown as { getMeshPeers: (topic: string) => string[] }).getMeshPeers(POLICY_TOPIC)
    await waitFor('gossip meshes on the policy topic', () => links.every(([a, b]) => mesh(a).includes(b.peerId) && mesh(b).includes(a.peerId)), 20_000)
  }

  async function dataDir (): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-policy-mesh-'))
    dirs.push(dir)
    return dir
  }

  it('spreads an applied policy to every node over gossip, beyond the peers it pushes to', async () => {
    await setup()
    const [a, b, c, d] = [await startNode('a'), await startNode('b'), await startNode('c'), await startNode('d')]
    // A line: a - b - c - d. Only gossip carries the policy past b (no interval sync runs).
    await connect(a, b)
    await connect(b, c)
    await connect(c, d)
    await gossipReady([[a, b], [b, c], [c, d]])
    await settled()

    const farC = holds(c, 'cams', 1)
    const farD = holds(d, 'cams', 1)
    const result = await a.service.apply(await sealPolicy(policyDoc('cams', 1), adminKey))
    expect(result).toEqual({ version: 1, cid: a.service.get('cams')!.cid, durable: true, peers: 1 })
    const [atC, atD] = await Promise.all([farC, farD])
    for (const change of [atC, atD]) expect(change).toMatchObject({ via: 'gossip', from: a.peerId })
    await holds(b, 'cams', 1)
    for (const n of [a, b, c, d]) expect(n.service.get('cams')?.cid).toBe(result.cid)
    expect(d.service.stats()).toMatchObject({ held: 1, accepted: 1 })
  })

  it('brings a node that was offline during an apply up to date when it connects (more than one message of policies)', async () => {
    await setup()
    const init = { sync: { envelopesPerMessage: 2 } }
    const a = await startNode('a', { init })
    const cDir = await dataDir()
    const cKey = await generateKeyPair('Ed25519')
    let c = await startNode('c', { key: cKey, dataDir: cDir, init })
    await connect(c, a)
    await a.service.apply(await sealPolicy(policyDoc('cams', 1), adminKey))
    await holds(c, 'cams', 1)
    await stopNode(c)

    // While c is down: a newer cams, and four more rollouts.
    expect((await a.service.apply(await sealPolicy(policyDoc('cams', 2), adminKey))).peers).toBe(0)
    for (const name of ['doors', 'gates', 'lifts', 'vents']) await a.service.apply(await sealPolicy(policyDoc(name, 1), adminKey))
    // gossipsub would also offer these to c from its message cache (IHAVE/IWANT) for a few of its
    // heartbeats; let them pass so that what c gets can only come through anti-entropy.
    await gossipHeartbeats(a, 6)

    c = await startNode('c', { key: cKey, dataDir: cDir, init })
    expect(c.service.get('cams')?.doc.version).toBe(1) // from its own disk
    const caughtUp = Promise.all([holds(c, 'cams', 2), ...['doors', 'gates', 'lifts', 'vents'].map(async n => await holds(c, n, 1))])
    await connect(c, a)
    const changes = await caughtUp
    for (const change of changes) expect(change).toMatchObject({ via: 'sync', from: a.peerId })
    await settled()
    expect(c.service.list().map(p => `${p.doc.name}@${p.doc.version}`)).toEqual(['cams@2', 'doors@1', 'gates@1', 'lifts@1', 'vents@1'])
    expect(c.service.stats().rejected[PolicyErrorCode.Stale]).toBe(0)
  })

  it('rejects forged, non-admin, oversized and replayed policies everywhere, counts them, and still does after a restart', async () => {
    await setup()
    const aDir = await dataDir()
    const aKey = await generateKeyPair('Ed25519')
    let a = await startNode('a', { key: aKey, dataDir: aDir })
    const b = await startNode('b')
    const c = await startNode('c')
    await connect(a, b)
    await connect(a, c)
    await connect(b, c)
    const v1 = await sealPolicy(policyDoc('cams', 1), adminKey)
    await a.service.apply(v1)
    const v2 = await sealPolicy(policyDoc('cams', 2), adminKey)
    expect((await a.service.apply(v2)).peers).toBe(2)
    await settled()

    const pb = SignedEnvelope.decode(await sealPolicy(policyDoc('cams', 8), adminKey))
    const forged = SignedEnvelope.encode({ ...pb, payload: canonicalBytes(policyDoc('cams', 9, { undo: true })) as Uint8Array<ArrayBuffer> })
    const stranger = await sealPolicy(policyDoc('cams', 10), await generateKeyPair('Ed25519'))
    const oversized = await sealEnvelope(adminKey, POLICY_PAYLOAD_TYPE, canonicalBytes({ ...policyDoc('cams', 11), spec: { pad: 'x'.repeat(MAX_POLICY_BYTES) } }))
    const bad = [forged, stranger, oversized, v1]
    const expected = { [PolicyErrorCode.Signature]: 1, [PolicyErrorCode.NotAdmin]: 1, [PolicyErrorCode.TooLarge]: 1, [PolicyErrorCode.Stale]: 1 }

    // A fleet member gone rogue: it publishes them on gossip, and serves them on the sync protocol.
    const mallory = await createLibp2pNode(await generateKeyPair('Ed25519'), `/memory/policy-${tag}-${counter++}`)
    others.push(mallory)
    mallory.services.pubsub.subscribe(POLICY_TOPIC)
    await mallory.handle(POLICY_SYNC_PROTOCOL, async stream => {
      const lp = lpStream(stream)
      await lp.read()
      await lp.write(SyncResponse.encode({ envelopes: bad as Array<Uint8Array<ArrayBuffer>>, entries: [], more: false, errorCode: '' }))
      await lp.read()
      await lp.write(new Uint8Array())
      await stream.close()
    })
    for (const n of [a, b, c]) await mallory.dial(multiaddr(`${n.address}/p2p/${n.peerId}`))
    await waitFor('every node to see mallory subscribed', () => [a, b, c].every(n => n.libp2p.services.pubsub.getSubscribers(POLICY_TOPIC).some(p => p.toString() === mallory.peerId.toString())), 20_000)
    await waitFor('mallory to see every node subscribed', () => mallory.services.pubsub.getSubscribers(POLICY_TOPIC).length === 3, 20_000)
    await settled()
    for (const n of [a, b, c]) expect(n.service.stats().rejected).toMatchObject(expected) // the connect syncs pulled them

    for (const bytes of bad) await mallory.services.pubsub.publish(POLICY_TOPIC, bytes)
    const twice = Object.fromEntries(Object.entries(expected).map(([k, v]) => [k, 2 * v]))
    await waitFor('every node to reject what mallory published', () => [a, b, c].every(n => n.service.stats().rejected[PolicyErrorCode.Stale] === 2 && n.service.stats().rejected[PolicyErrorCode.TooLarge] === 2), 20_000)
    for (const n of [a, b, c]) {
      expect(n.service.stats().rejected).toMatchObject(twice)
      expect(n.service.get('cams')).toMatchObject({ doc: { version: 2, control: { undo: false } }, signer: a.service.get('cams')!.signer })
    }

    // a restarts from its data directory: v2 is on disk, so the replay of v1 is still stale.
    await stopNode(a)
    a = await startNode('a', { key: aKey, dataDir: aDir })
    expect(a.service.get('cams')?.doc.version).toBe(2)
    expect(a.service.stats().rejected[PolicyErrorCode.Stale]).toBe(0)
    await mallory.dial(multiaddr(`${a.address}/p2p/${a.peerId}`))
    await settled()
    expect(a.service.stats().rejected).toMatchObject(expected)
    await expect(a.service.apply(v1)).rejects.toMatchObject({ code: PolicyErrorCode.Stale })
    await expect(a.service.apply(forged)).rejects.toMatchObject({ code: PolicyErrorCode.Signature })
    expect(a.service.get('cams')?.doc.version).toBe(2)
  })

  it('converges after a partition heals, the newest version winning', async () => {
    await setup()
    const [a, b, c, d] = [await startNode('a'), await startNode('b'), await startNode('c'), await startNode('d')]
    for (const [x, y] of [[a, b], [a, c], [a, d], [b, c], [b, d], [c, d]] as const) await connect(x, y)
    await a.service.apply(await sealPolicy(policyDoc('cams', 1), adminKey))
    await Promise.all([b, c, d].map(async n => await holds(n, 'cams', 1)))
    await settled()

    // Partition {a, b} | {c, d}: cut the links between the groups and refuse new ones.
    for (const x of [a, b]) {
      for (const y of [c, d]) {
        blocked.add(pair(x.peerId, y.peerId))
        await x.libp2p.hangUp(y.libp2p.peerId)
      }
    }
    await waitFor('the groups to be apart', () => [a, b, c, d].every(n => n.libp2p.getPeers().length === 1), 20_000)
    expect((await a.service.apply(await sealPolicy(policyDoc('cams', 2), adminKey))).peers).toBe(1)
    expect((await c.service.apply(await sealPolicy(policyDoc('cams', 3), adminKey))).peers).toBe(1)
    expect((await d.service.apply(await sealPolicy(policyDoc('gates', 1), adminKey))).peers).toBe(1)
    await Promise.all([holds(b, 'cams', 2), holds(d, 'cams', 3), holds(c, 'gates', 1)])
    // Anti-entropy during the partition changes nothing across it.
    clock.advance(DEFAULT_SYNC_INTERVAL_MS)
    await settled()
    expect([a, b, c, d].map(n => n.service.get('cams')?.doc.version)).toEqual([2, 2, 3, 3])
    expect(b.service.get('gates')).toBeUndefined()

    // Heal: one link between the groups; connect syncs and then the interval carry the rest.
    blocked.clear()
    await connect(a, c)
    const converged = (): boolean => [a, b, c, d].every(n => n.service.get('cams')?.doc.version === 3 && n.service.get('gates')?.doc.version === 1)
    for (let round = 0; round < 10 && !converged(); round++) {
      await settled()
      if (converged()) break
      clock.advance(DEFAULT_SYNC_INTERVAL_MS)
    }
    await settled()
    expect(converged()).toBe(true)
    const cid = c.service.get('cams')!.cid
    for (const n of [a, b, c, d]) expect(n.service.get('cams')?.cid).toBe(cid)
    expect(b.service.stats().rejected[PolicyErrorCode.Stale]).toBe(0)
  })
})
