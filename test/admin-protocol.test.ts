import { generateKeyPair } from '@libp2p/crypto/keys'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { swarmKey } from '../node/fleet/fleet.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import {
  ADMIN_PROTOCOL, AdminErrorCode, AdminRemoteError, AdminRequestError, AdminTransportError, MAX_REQUEST_BYTES, MAX_RESPONSE_BYTES,
  callAdmin, describeDialError
} from '../protocols/admin/index.js'
import { AdminRequest, AdminResponse } from '../protocols/admin/pb/admin.js'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { MemberInfo } from '../node/membership/membership.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { NodeDescription, NodeInfo } from '../node/tutti-node.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

async function client (fleet: FleetConfig, privateKey: PrivateKey): Promise<MeshLibp2p> {
  return await createMeshLibp2p({ privateKey, swarmKey: swarmKey(fleet), transport: 'memory', start: true })
}

async function remoteError (promise: Promise<unknown>): Promise<AdminRemoteError> {
  try {
    await promise
  } catch (err) {
    expect(err).toBeInstanceOf(AdminRemoteError)
    return err as AdminRemoteError
  }
  throw new Error('expected an AdminRemoteError')
}

/** One hand-written request on a fresh stream, answered with the raw response envelope. */
async function rawExchange (libp2p: MeshLibp2p, target: Multiaddr, request: AdminRequest): Promise<AdminResponse> {
  const signal = AbortSignal.timeout(10_000)
  const stream = await libp2p.dialProtocol(target, ADMIN_PROTOCOL, { signal })
  const pb = pbStream(stream)
  await pb.write(request, AdminRequest, { signal })
  const res = await pb.read(AdminResponse, { signal })
  await stream.close({ signal })
  return res
}

describe('the admin protocol between real nodes', () => {
  let fleet: FleetConfig
  let mesh: LocalMesh
  let admin: MeshLibp2p
  const clients: MeshLibp2p[] = []
  let target: Multiaddr

  beforeAll(async () => {
    const created = await createTestFleet()
    fleet = created.fleet
    mesh = await startLocalMesh({ size: 3, fleet })
    await waitFor('3 nodes to converge', () => fullyConverged(mesh.nodes), 30_000)
    admin = await client(fleet, created.adminKey)
    clients.push(admin)
    target = multiaddr(mesh.nodes[0]!.addresses()[0]!)
  })

  afterAll(async () => {
    await Promise.all(clients.map(async c => { await c.stop() }))
    await mesh?.stop()
  })

  it('nodes.list returns every node of the mesh, as the asked node sees it', async () => {
    const res = await callAdmin<{ observer: string, nodes: MemberInfo[] }>(admin, target, 'nodes.list')
    expect(res.observer).toBe(mesh.nodes[0]!.peerId)
    expect(res.nodes.map(n => n.peerId).sort()).toEqual(mesh.nodes.map(n => n.peerId).sort())
    expect(res.nodes.every(n => n.status !== 'dead')).toBe(true)
    expect(res.nodes.filter(n => n.self).map(n => n.peerId)).toEqual([mesh.nodes[0]!.peerId])
  })

  it('any node answers, not only the one dialled first', async () => {
    const other = mesh.nodes[2]!
    const info = await callAdmin<NodeInfo>(admin, multiaddr(other.addresses()[0]!), 'node.info')
    expect(info.peerId).toBe(other.peerId)
    expect(info.fleetId).toBe(fleet.fleetId)
    expect(info.meshSize).toBe(3)
  })

  it('nodes.get finds a node by full peer id and by a unique suffix', async () => {
    const wanted = mesh.nodes[1]!.peerId
    const full = await callAdmin<{ node: NodeDescription }>(admin, target, 'nodes.get', { peerId: wanted })
    expect(full.node.peerId).toBe(wanted)
    expect(full.node.status).not.toBe('dead')
    expect(full.node.connected).toBe(mesh.nodes[0]!.libp2p.getConnections().some(c => c.remotePeer.toString() === wanted))
    const bySuffix = await callAdmin<{ node: NodeDescription }>(admin, target, 'nodes.get', { peerId: wanted.slice(-8) })
    expect(bySuffix.node.peerId).toBe(wanted)
  })

  it('nodes.get of an unknown node answers ERR_NOT_FOUND', async () => {
    const stranger = (await generateKeyPair('Ed25519'))
    const { peerIdFromPrivateKey } = await import('@libp2p/peer-id')
    const err = await remoteError(callAdmin(admin, target, 'nodes.get', { peerId: peerIdFromPrivateKey(stranger).toString() }))
    expect(err.code).toBe(AdminErrorCode.NotFound)
    // A suffix every peer id shares is ambiguous, so not found either.
    expect((await remoteError(callAdmin(admin, target, 'nodes.get', { peerId: mesh.nodes[0]!.peerId.slice(0, 4) }))).code).toBe(AdminErrorCode.NotFound)
  })

  it('nodes.get without a peer id answers ERR_BAD_REQUEST', async () => {
    expect((await remoteError(callAdmin(admin, target, 'nodes.get', {}))).code).toBe(AdminErrorCode.BadRequest)
    expect((await remoteError(callAdmin(admin, target, 'nodes.get', { peerId: 42 }))).code).toBe(AdminErrorCode.BadRequest)
  })

  it('answers ERR_BAD_REQUEST naming the field to params of the wrong shape', async () => {
    const bad = async (method: string, params: Record<string, unknown>): Promise<string> => {
      const err = await remoteError(callAdmin(admin, target, method, params))
      expect(err.code, method).toBe(AdminErrorCode.BadRequest)
      return err.message
    }
    expect(await bad('nodes.get', { peerId: 'x'.repeat(129) })).toBe('peerId: must be a peer id or a unique suffix of one of at most 128 characters')
    expect(await bad('policies.get', { name: ['a'] })).toBe('name: must be a rollout name')
    expect(await bad('policies.apply', { envelope: '%%%%' })).toBe('envelope: must be a base64 policy envelope')
    expect(await bad('model.activate', { ref: 'face@1.0.0', cpu: true })).toBe('cpu: must be a quantity like "500m" or "256Mi"')
    expect(await bad('model.shadow', { ref: 'face@1.0.0', fraction: 2 })).toBe('fraction: must be above 0, at most 1')
    expect(await bad('model.deactivate', {})).toBe('name: must be NAME, NAME@VERSION or a manifest CID')
    expect(await bad('infer', { model: 'face', version: '' })).toBe('version: must be a version string, not empty')
    expect(mesh.nodes[0]!.rollouts).toBeDefined()
    expect(await bad('rollouts.get', { name: '' })).toBe('name: must be a rollout name, not empty')
    expect(await bad('rollouts.plan', { name: 'r' })).toBe('spec: must be a map')
    expect(await bad('rollouts.plan', { name: 'r', spec: { model: { cid: 'nope' } } })).toMatch(/^spec\.model\.cid: must be a model manifest CID.*; spec\.selector: /)
  })

  it('node.setProperty overrides a live property: the next heartbeat carries it to the others; a bad key changes nothing', async () => {
    const one = multiaddr(mesh.nodes[1]!.addresses()[0]!)
    expect(await callAdmin(admin, one, 'node.setProperty', { key: 'battery', value: '12' })).toMatchObject({ key: 'battery', value: '12' })
    const seen = async (): Promise<unknown> => (await callAdmin<{ nodes: MemberInfo[] }>(admin, target, 'nodes.list')).nodes.find(n => n.peerId === mesh.nodes[1]!.peerId)?.props.battery
    await waitFor('node 0 to hear battery=12 from node 1', async () => await seen() === '12', 10_000)
    const err = await remoteError(callAdmin(admin, one, 'node.setProperty', { key: 'bad key', value: '1' }))
    expect(err.code).toBe(AdminErrorCode.BadRequest)
    expect(err.message).toMatch(/^key: key "bad key" may hold only/)
    expect(mesh.nodes[1]!.membership.propertyOverrides()).toEqual({ battery: '12' })
    // Without a value the override is lifted.
    expect(await callAdmin(admin, one, 'node.setProperty', { key: 'battery' })).toMatchObject({ key: 'battery', value: null })
    expect(mesh.nodes[1]!.membership.propertyOverrides()).toEqual({})
  })

  it('models.serverStats of a node without a model store answers ERR_NO_MODEL_STORE', async () => {
    expect((await remoteError(callAdmin(admin, target, 'models.serverStats'))).code).toBe('ERR_NO_MODEL_STORE')
  })

  it('refuses a peer that is in the fleet but not an admin: ERR_NOT_AUTHORIZED', async () => {
    const outsider = await client(fleet, await generateKeyPair('Ed25519'))
    clients.push(outsider)
    const err = await remoteError(callAdmin(outsider, target, 'nodes.list'))
    expect(err.code).toBe(AdminErrorCode.NotAuthorized)
    expect(err.message).toContain(outsider.peerId.toString())
  })

  it('answers ERR_UNKNOWN_METHOD to a method nobody registered', async () => {
    expect((await remoteError(callAdmin(admin, target, 'models.deploy'))).code).toBe(AdminErrorCode.UnknownMethod)
    // Not an inherited property either.
    expect((await remoteError(callAdmin(admin, target, 'constructor'))).code).toBe(AdminErrorCode.UnknownMethod)
    expect((await remoteError(callAdmin(admin, target, '__proto__'))).code).toBe(AdminErrorCode.UnknownMethod)
  })

  it('runs handlers registered later, with the caller, and maps their errors', async () => {
    const node = mesh.nodes[0]!
    node.handleAdmin('test.echo', async (params, ctx) => ({ params, caller: ctx.caller }))
    node.handleAdmin('test.refuse', async () => { throw new AdminRequestError('ERR_POLICY', 'not today') })
    node.handleAdmin('test.crash', async () => { throw new Error('boom') })
    const echo = await callAdmin<{ params: unknown, caller: string }>(admin, target, 'test.echo', { a: [1, 'two'] })
    expect(echo).toEqual({ params: { a: [1, 'two'] }, caller: admin.peerId.toString() })
    const refused = await remoteError(callAdmin(admin, target, 'test.refuse'))
    expect([refused.code, refused.message]).toEqual(['ERR_POLICY', 'not today'])
    const crashed = await remoteError(callAdmin(admin, target, 'test.crash'))
    expect(crashed.code).toBe(AdminErrorCode.Internal)
    expect(crashed.message).toMatch(/test\.crash failed: boom/)
  })

  it('answers ERR_UNSUPPORTED_VERSION to a request envelope of version 2', async () => {
    const res = await rawExchange(admin, target, { version: 2, method: 'nodes.list', params: new Uint8Array() })
    expect(res.ok).toBe(false)
    expect(res.errorCode).toBe(AdminErrorCode.UnsupportedVersion)
    expect(res.errorMessage).toMatch(/version 2 is not supported/)
  })

  it('answers ERR_BAD_REQUEST to params that are not a JSON object', async () => {
    for (const params of ['[1,2]', 'nope', '"x"']) {
      const res = await rawExchange(admin, target, { version: 1, method: 'node.info', params: new TextEncoder().encode(params) })
      expect(res.errorCode, params).toBe(AdminErrorCode.BadRequest)
    }
    const ok = await rawExchange(admin, target, { version: 1, method: 'node.info', params: new Uint8Array() })
    expect(ok.ok).toBe(true)
  })

  it('refuses an oversized request and keeps serving the next one', async () => {
    const huge = { pad: 'x'.repeat(MAX_REQUEST_BYTES + 1) }
    const err = await callAdmin(admin, target, 'nodes.list', huge).then(() => undefined, (e: unknown) => e)
    // Either answered with an error code, or the stream was closed on the sender: never served.
    if (err instanceof AdminRemoteError) {
      expect(err.code).toBe(AdminErrorCode.BadRequest)
    } else {
      expect(err).toBeInstanceOf(AdminTransportError)
    }
    const res = await callAdmin<{ nodes: MemberInfo[] }>(admin, target, 'nodes.list')
    expect(res.nodes).toHaveLength(3)
  })

  it('closes the stream of every refused request: 40 refusals on one connection, then a call still served', async () => {
    const connections = (): number => admin.getConnections().filter(c => c.remotePeer.toString() === mesh.nodes[0]!.peerId).length
    await callAdmin(admin, target, 'node.info')
    expect(connections()).toBe(1)
    for (let i = 0; i < 40; i++) {
      const unknown = await remoteError(callAdmin(admin, target, 'no.such.method'))
      expect(unknown.code).toBe(AdminErrorCode.UnknownMethod)
    }
    for (let i = 0; i < 5; i++) {
      const res = await rawExchange(admin, target, { version: 2, method: 'node.info', params: new Uint8Array() })
      expect(res.errorCode).toBe(AdminErrorCode.UnsupportedVersion)
    }
    const res = await callAdmin<{ nodes: MemberInfo[] }>(admin, target, 'nodes.list', {}, { signal: AbortSignal.timeout(10_000) })
    expect(res.nodes).toHaveLength(3)
    expect(connections()).toBe(1) // the same connection served them all
  })

  it('reads results up to MAX_RESPONSE_BYTES (16 MiB), not pbStream\'s 4 MiB buffer, and refuses a larger one with a code', async () => {
    const node = mesh.nodes[1]!
    const other = multiaddr(node.addresses()[0]!)
    node.handleAdmin('test.big', async (params) => ({ pad: 'x'.repeat(Number(params.bytes)) }))
    const big = await callAdmin<{ pad: string }>(admin, other, 'test.big', { bytes: 6 * 1024 * 1024 })
    expect(big.pad).toHaveLength(6 * 1024 * 1024)
    const tooBig = await remoteError(callAdmin(admin, other, 'test.big', { bytes: MAX_RESPONSE_BYTES }))
    expect(tooBig.code).toBe(AdminErrorCode.ResponseTooLarge)
    const res = await callAdmin<{ nodes: MemberInfo[] }>(admin, other, 'nodes.list')
    expect(res.nodes).toHaveLength(3)
  })

  it('takes a models.push request past MAX_REQUEST_BYTES from an admin only', async () => {
    const params = { envelope: 'A'.repeat(200 * 1024) }
    // An admin's large push reaches the method (which judges the envelope), not the size check.
    const pushed = await remoteError(callAdmin(admin, target, 'models.push', params))
    expect(pushed.message).not.toMatch(/larger than|could not be read/)
    // Other methods keep MAX_REQUEST_BYTES.
    const other = await remoteError(callAdmin(admin, target, 'nodes.list', params))
    expect(other.code).toBe(AdminErrorCode.BadRequest)
    // A member that is not an admin cannot send it at all.
    const member = await client(fleet, await generateKeyPair('Ed25519'))
    clients.push(member)
    const err = await callAdmin(member, target, 'models.push', params).then(() => undefined, (e: unknown) => e)
    if (err instanceof AdminRemoteError) expect(err.message).toMatch(/could not be read/)
    else expect(err).toBeInstanceOf(AdminTransportError)
  })

  it('does not speak /tutti/admin/2.0.0: the dial fails as unsupported', async () => {
    const err = await admin.dialProtocol(target, '/tutti/admin/2.0.0', { signal: AbortSignal.timeout(10_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(Error)
    expect((err as Error).name).toBe('UnsupportedProtocolError')
    expect(describeDialError(err)).toMatch(/does not speak \/tutti\/admin\/1\.0\.0/)
  })

  it('a client with another fleet\'s network key cannot connect at all', async () => {
    const { fleet: otherFleet, adminKey: otherAdmin } = await createTestFleet('other')
    const stranger = await client(otherFleet, otherAdmin)
    clients.push(stranger)
    const err = await callAdmin(stranger, target, 'nodes.list', {}, { signal: AbortSignal.timeout(5_000) }).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(AdminTransportError)
    expect((err as Error).message).toMatch(/a different fleet: its network key does not match/)
    expect(stranger.getConnections()).toHaveLength(0)
    // The admin of the other fleet is not this fleet's admin either way: the node never saw it.
    expect(mesh.nodes[0]!.libp2p.getConnections().some(c => c.remotePeer.equals(stranger.peerId))).toBe(false)
  })
})
