import { request } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestFleet, fullyConverged, startLocalMesh, waitFor } from '../sim/local-mesh.js'
import type { MemberInfo } from '../node/membership/membership.js'
import type { NodeDescription, NodeInfo } from '../node/tutti-node.js'
import type { LocalMesh } from '../sim/local-mesh.js'

interface ErrorBody { error: { code: string, message: string } }

/** A GET with the request target sent exactly as given (fetch would normalise it). */
async function rawGet (base: string, target: string): Promise<{ status: number, body: string }> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path: target, method: 'GET', signal: AbortSignal.timeout(10_000) }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body }) })
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

describe('the local HTTP API of a real node', () => {
  let mesh: LocalMesh
  let base: string

  beforeAll(async () => {
    const { fleet } = await createTestFleet()
    mesh = await startLocalMesh({ size: 2, fleet, node: () => ({ api: { host: '127.0.0.1', port: 0 }, labels: { zone: 'lab' } }) })
    await waitFor('2 nodes to converge', () => fullyConverged(mesh.nodes), 30_000)
    base = mesh.nodes[0]!.apiUrl!
  })

  afterAll(async () => {
    await mesh?.stop()
  })

  async function get<T> (path: string, init: RequestInit = {}): Promise<{ status: number, body: T, headers: Headers }> {
    const res = await fetch(base + path, { ...init, signal: AbortSignal.timeout(10_000) })
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8')
    return { status: res.status, body: await res.json() as T, headers: res.headers }
  }

  it('listens on 127.0.0.1 on a port of its own', () => {
    expect(base).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/)
    expect(mesh.nodes[1]!.apiUrl).not.toBe(base)
  })

  it('GET /v1/node describes this node', async () => {
    const { status, body } = await get<NodeInfo>('/v1/node')
    expect(status).toBe(200)
    expect(body.peerId).toBe(mesh.nodes[0]!.peerId)
    expect(body.fleetId).toBe(mesh.nodes[0]!.fleet.fleetId)
    expect(body.api).toBe(base)
    expect(body.labels).toEqual({ zone: 'lab' })
    expect(body.meshSize).toBe(2)
  })

  it('GET /v1/nodes lists both nodes', async () => {
    const { status, body } = await get<{ observer: string, nodes: MemberInfo[] }>('/v1/nodes')
    expect(status).toBe(200)
    expect(body.observer).toBe(mesh.nodes[0]!.peerId)
    expect(body.nodes.map(n => n.peerId).sort()).toEqual(mesh.nodes.map(n => n.peerId).sort())
    expect(body.nodes.every(n => n.status !== 'dead' && n.labels.zone === 'lab')).toBe(true)
  })

  it('GET /v1/nodes/:id describes a node, by full id or unique suffix', async () => {
    const other = mesh.nodes[1]!.peerId
    const full = await get<NodeDescription>(`/v1/nodes/${other}`)
    expect(full.status).toBe(200)
    expect(full.body.peerId).toBe(other)
    expect(full.body.self).toBe(false)
    const suffix = await get<NodeDescription>(`/v1/nodes/${other.slice(-6)}`)
    expect(suffix.body.peerId).toBe(other)
    const self = await get<NodeDescription>(`/v1/nodes/${mesh.nodes[0]!.peerId}`)
    expect(self.body.self).toBe(true)
    expect(self.body.addresses).toEqual(mesh.nodes[0]!.addresses())
  })

  it('answers 404 with a JSON error for an unknown peer', async () => {
    const { status, body } = await get<ErrorBody>('/v1/nodes/12D3KooWNotAPeerOfThisMesh')
    expect(status).toBe(404)
    expect(body.error.code).toBe('ERR_NOT_FOUND')
    expect(body.error.message).toMatch(/not in the mesh view/)
  })

  it('answers 404 with a JSON error for an unknown path', async () => {
    for (const path of ['/v1/nope', '/', '/v1/nodes/a/b', '/v2/node']) {
      const { status, body } = await get<ErrorBody>(path)
      expect(status, path).toBe(404)
      expect(body.error.code).toBe('ERR_NOT_FOUND')
    }
  })

  it('answers 405 with the allowed methods to a POST', async () => {
    for (const path of ['/v1/node', '/v1/nodes', `/v1/nodes/${mesh.nodes[1]!.peerId}`]) {
      const { status, body, headers } = await get<ErrorBody>(path, { method: 'POST', body: '{}' })
      expect(status, path).toBe(405)
      expect(body.error.code).toBe('ERR_METHOD_NOT_ALLOWED')
      expect(headers.get('allow')).toBe('GET')
    }
  })

  it('answers 400 to a path with broken percent-encoding, and keeps serving', async () => {
    const { status, body } = await get<ErrorBody>('/v1/nodes/%E0%A4%A')
    expect(status).toBe(400)
    expect(body.error.code).toBe('ERR_BAD_REQUEST')
    expect((await get<NodeInfo>('/v1/node')).status).toBe(200)
  })

  it('answers 400 to a request target that is not a URL path, and keeps serving', async () => {
    for (const target of ['//', '//[']) {
      const res = await rawGet(base, target)
      expect(res.status, target).toBe(400)
      expect((JSON.parse(res.body) as ErrorBody).error.code).toBe('ERR_BAD_REQUEST')
    }
    expect((await get<NodeInfo>('/v1/node')).status).toBe(200)
  })
})
