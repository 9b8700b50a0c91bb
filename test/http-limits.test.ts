/**
 * The HTTP API's defences, on real HTTP servers: the bearer token beyond loopback, the cap on
 * request bodies handled at once, and unknown models answered before their body is read.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { ConfigError } from '../core/errors.js'
import { silentLogger } from '../core/logger.js'
import { ApiRouter, MAX_CONCURRENT_BODIES, startApiServer } from '../node/api/http.js'
import { isLoopbackHost, loadOrCreateApiToken } from '../node/api/token.js'
import { TuttiNode } from '../node/tutti-node.js'
import { runTutti } from '../cli/process-nodes.js'
import { createTestFleet } from '../sim/local-mesh.js'
import type { ApiServer } from '../node/api/http.js'
import type { FleetConfig } from '../node/fleet/fleet.js'

interface Answer { status: number, body: string, headers: Record<string, string | string[] | undefined> }

/**
 * Sends headers announcing `declaredBytes` of body and only the first `sentBytes` of it, and
 * resolves with the answer (which must then come before the body is complete).
 */
async function partialPost (base: string, path: string, declaredBytes: number, sentBytes: number, headers: Record<string, string> = {}): Promise<Answer & { abort: () => void }> {
  const { hostname, port } = new URL(base)
  return await new Promise((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': String(declaredBytes), ...headers }, signal: AbortSignal.timeout(20_000) }, res => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', chunk => { body += chunk })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, body, headers: res.headers, abort: () => { req.destroy() } }) })
    })
    req.on('error', err => { if ((err as NodeJS.ErrnoException).code !== 'ECONNRESET') reject(err) })
    req.write(Buffer.alloc(sentBytes, 0x20))
  })
}

describe('the API token', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'tutti-api-token-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('tells loopback hosts from the rest', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true)
    for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', '::ffff:10.0.0.1', 'example.com']) expect(isLoopbackHost(h), h).toBe(false)
  })

  it('creates a token file readable by its owner only, and reads it back', async () => {
    const file = join(dir, 'api-token')
    const token = await loadOrCreateApiToken(file)
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    expect((await stat(file)).mode & 0o777).toBe(0o600)
    expect(await loadOrCreateApiToken(file)).toBe(token)
  })

  it('refuses a token file others can read, or one too short', async () => {
    const open = join(dir, 'open-token')
    await writeFile(open, 'x'.repeat(32), { mode: 0o644 })
    await expect(loadOrCreateApiToken(open)).rejects.toThrow(/can be read by other users/)
    const short = join(dir, 'short-token')
    await writeFile(short, 'abc', { mode: 0o600 })
    await expect(loadOrCreateApiToken(short)).rejects.toBeInstanceOf(ConfigError)
  })
})

describe('a node whose API listens beyond loopback', () => {
  let fleet: FleetConfig
  let dir: string
  const nodes: TuttiNode[] = []
  beforeAll(async () => {
    fleet = (await createTestFleet()).fleet
    dir = await mkdtemp(join(tmpdir(), 'tutti-api-open-'))
  })
  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await rm(dir, { recursive: true, force: true })
  })

  const create = async (api: { host: string, port: number, tokenFile?: string }): Promise<TuttiNode> => {
    const node = await TuttiNode.create({ fleet, transport: 'memory', listen: [`/memory/api-open-${nodes.length}-${process.pid}`], api, models: false }, { logger: silentLogger })
    nodes.push(node)
    return node
  }

  it('refuses to start without a token', async () => {
    const node = await create({ host: '0.0.0.0', port: 0 })
    await expect(node.start()).rejects.toThrow(/without authentication: give it a token file/)
    expect(node.apiUrl).toBeUndefined()
  })

  it('with a token file, answers only requests that carry the token', async () => {
    const tokenFile = join(dir, 'token')
    const node = await create({ host: '0.0.0.0', port: 0, tokenFile })
    await node.start()
    const token = await loadOrCreateApiToken(tokenFile)
    expect((await stat(tokenFile)).mode & 0o777).toBe(0o600)
    const url = node.apiUrl!.replace('0.0.0.0', '127.0.0.1')
    const none = await fetch(`${url}/v1/node`)
    expect(none.status).toBe(401)
    expect(none.headers.get('www-authenticate')).toBe('Bearer')
    expect(((await none.json()) as { error: { code: string } }).error.code).toBe('ERR_UNAUTHORIZED')
    expect((await fetch(`${url}/v1/node`, { headers: { authorization: 'Bearer wrong-token-wrong-token' } })).status).toBe(401)
    // Refused before routing: an unknown path does not tell itself apart.
    expect((await fetch(`${url}/no/such/path`)).status).toBe(401)
    const ok = await fetch(`${url}/v1/node`, { headers: { authorization: `Bearer ${token}` } })
    expect(ok.status).toBe(200)
    // And an unauthenticated 15 MiB body is not read.
    const big = await partialPost(url, '/v2/models/m/infer', 15 * 1024 * 1024, 1024)
    expect(big.status).toBe(401)
    expect(big.headers.connection).toBe('close')
    big.abort()
  })

  it('tutti node start --api 0.0.0.0:PORT without --api-token-file exits 2 and says why', async () => {
    const fleetFile = join(dir, 'fleet.json')
    await writeFile(fleetFile, JSON.stringify(fleet))
    const res = await runTutti(['node', 'start', '--data', join(dir, 'cli-node'), '--fleet', fleetFile, '--listen', '/ip4/127.0.0.1/tcp/0', '--api', '0.0.0.0:0'])
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/--api 0\.0\.0\.0:0 listens beyond loopback.*--api-token-file/)
  }, 60_000)
})

describe('request bodies', () => {
  let server: ApiServer | undefined
  afterEach(async () => { await server?.close() })

  it(`handles at most ${MAX_CONCURRENT_BODIES} bodies at once: the next gets 503 at once, unread; a slot frees when one ends`, async () => {
    const release: Array<() => void> = []
    const reading: Array<Promise<void>> = []
    const router = new ApiRouter().add('POST', '/slow', async ({ body }) => {
      const bytes = await body()
      await new Promise<void>(resolve => { release.push(resolve) })
      return { body: { bytes: bytes.byteLength } }
    })
    server = await startApiServer({ router, logger: silentLogger, port: 0 })
    const post = async (): Promise<Response> => await fetch(`${server!.url}/slow`, { method: 'POST', body: 'x'.repeat(1000), signal: AbortSignal.timeout(20_000) })
    for (let i = 0; i < MAX_CONCURRENT_BODIES; i++) {
      reading.push(post().then(async res => { expect(res.status).toBe(200) }))
    }
    await waitUntil(() => release.length === MAX_CONCURRENT_BODIES)
    const busy = await post()
    expect(busy.status).toBe(503)
    expect(((await busy.json()) as { error: { code: string } }).error.code).toBe('ERR_BUSY')
    release.shift()!()
    await reading.shift()
    const next = post()
    await waitUntil(() => release.length === MAX_CONCURRENT_BODIES)
    for (const r of release.splice(0)) r()
    expect((await next).status).toBe(200)
    await Promise.all(reading)
  })

  it('answers an inference request for an unknown model before its 15 MiB body arrives', async () => {
    const { fleet } = await createTestFleet()
    const node = await TuttiNode.create({ fleet, transport: 'memory', listen: [`/memory/api-unknown-${process.pid}`], api: { host: '127.0.0.1', port: 0 }, models: false }, { logger: silentLogger })
    await node.start()
    try {
      const answers = await Promise.all(Array.from({ length: 32 }, async () => await partialPost(node.apiUrl!, '/v2/models/nope/infer', 15 * 1024 * 1024, 64 * 1024)))
      for (const a of answers) {
        expect(a.status).toBe(404)
        expect(a.headers.connection).toBe('close')
        expect(JSON.parse(a.body)).toEqual({ error: 'model nope is not loaded here' })
        a.abort()
      }
    } finally {
      await node.stop()
    }
  })
})

/** Waits for a condition that follows from I/O this test started (no wall-clock assertion). */
async function waitUntil (predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 2000 && !predicate(); i++) await new Promise(resolve => setTimeout(resolve, 10))
  expect(predicate()).toBe(true)
}
