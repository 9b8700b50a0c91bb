import { mkdtemp, rm } from 'node:fs/promises'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ApiRouter, startApiServer } from '../api/http.js'
import { silentLogger } from '../../core/logger.js'
import { inferenceAdminHandlers } from './admin.js'
import { OipBodyParser } from './body-parser.js'
import { registerOipRoutes } from './oip.js'
import { InferenceRuntime } from './runtime.js'
import { openDirect, SILERO_VAD_PATH } from './testing/direct.js'
import { linearClassifier, writeTestModel } from './testing/models.js'
import type { ApiServer } from '../api/http.js'
import type { InferenceModel } from './runtime.js'

let dir: string
let runtime: InferenceRuntime
let server: ApiServer
let clf: InferenceModel

async function http (method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(server.url + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json() }
}

const x = (data: unknown, shape = [2, 8], datatype = 'FP32'): unknown => ({ name: 'x', shape, datatype, data })
const row = [0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8]

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tutti-oip-'))
  clf = await writeTestModel(dir, 'clf', '1.0.0', linearClassifier({ seed: 1 }))
  runtime = new InferenceRuntime({}, { deviceCores: 2 })
  runtime.start()
  await runtime.activate(clf, { cpu: '1' })
  await runtime.activate({ name: 'vad', version: '4.0.0', path: SILERO_VAD_PATH, inputs: [], outputs: [], memoryEstimateBytes: 32 * 2 ** 20 }, { cpu: '1' })
  const router = new ApiRouter()
  router.add('GET', '/v1/node', () => ({ body: { ok: true } }))
  registerOipRoutes(router, runtime, { maxBodyBytes: 64 * 1024 })
  server = await startApiServer({ router, logger: silentLogger, port: 0 })
})

afterAll(async () => {
  await server?.close()
  await runtime?.stop()
  await rm(dir, { recursive: true, force: true })
})

describe('Open Inference Protocol over HTTP', () => {
  it('answers the health and server metadata endpoints', async () => {
    expect(await http('GET', '/v2/health/live')).toEqual({ status: 200, json: { live: true } })
    expect(await http('GET', '/v2/health/ready')).toEqual({ status: 200, json: { ready: true } })
    const meta = await http('GET', '/v2')
    expect(meta.status).toBe(200)
    expect(meta.json.name).toBe('tutti')
  })

  it('describes a model with v2 datatypes and -1 for dynamic dimensions', async () => {
    const expected = {
      name: 'clf',
      versions: ['1.0.0'],
      platform: 'onnxruntime',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [-1, 8] }],
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [-1, 4] }, { name: 'probs', datatype: 'FP32', shape: [-1, 4] }]
    }
    expect(await http('GET', '/v2/models/clf')).toEqual({ status: 200, json: expected })
    expect(await http('GET', '/v2/models/clf/versions/1.0.0')).toEqual({ status: 200, json: expected })
    const vad = await http('GET', '/v2/models/vad')
    expect(vad.json.inputs).toEqual([
      { name: 'input', datatype: 'FP32', shape: [-1, -1] },
      { name: 'sr', datatype: 'INT64', shape: [] },
      { name: 'h', datatype: 'FP32', shape: [2, -1, 64] },
      { name: 'c', datatype: 'FP32', shape: [2, -1, 64] }
    ])
  })

  it('reports model readiness, and 404 for unknown models and versions', async () => {
    expect(await http('GET', '/v2/models/clf/ready')).toEqual({ status: 200, json: { name: 'clf', ready: true } })
    expect(await http('GET', '/v2/models/clf/versions/1.0.0/ready')).toEqual({ status: 200, json: { name: 'clf', ready: true } })
    for (const path of ['/v2/models/nope', '/v2/models/nope/ready', '/v2/models/clf/versions/9.9.9', '/v2/models/clf/versions/9.9.9/ready']) {
      const res = await http('GET', path)
      expect(res.status).toBe(404)
      expect(Object.keys(res.json)).toEqual(['error'])
      expect(typeof res.json.error).toBe('string')
    }
  })

  it('infers with nested data, echoes the id, and returns what onnxruntime computes', async () => {
    const res = await http('POST', '/v2/models/clf/infer', { id: 'req-7', inputs: [x([row, row.map(v => -v)])] })
    expect(res.status).toBe(200)
    const direct = await openDirect(clf.path, 1)
    const expected = await direct.run({ x: { type: 'float32', dims: [2, 8], data: Float32Array.from([...row, ...row.map(v => -v)]) } })
    await direct.release()
    expect(res.json).toEqual({
      model_name: 'clf',
      model_version: '1.0.0',
      id: 'req-7',
      outputs: [
        { name: 'logits', shape: [2, 4], datatype: 'FP32', data: Array.from(expected.logits!.data as Float32Array) },
        { name: 'probs', shape: [2, 4], datatype: 'FP32', data: Array.from(expected.probs!.data as Float32Array) }
      ]
    })
  })

  it('returns only the requested outputs, on the versioned path too', async () => {
    const res = await http('POST', '/v2/models/clf/versions/1.0.0/infer', { inputs: [x([...row, ...row])], outputs: [{ name: 'probs' }] })
    expect(res.status).toBe(200)
    expect(res.json.outputs.map((o: { name: string }) => o.name)).toEqual(['probs'])
    expect(res.json.id).toBeUndefined()
  })

  it('runs the Silero VAD model with an INT64 scalar input', async () => {
    const audio = Array.from({ length: 512 }, (_, i) => Math.sin(i / 4) * 0.5)
    const zeros = new Array(128).fill(0)
    const res = await http('POST', '/v2/models/vad/infer', {
      inputs: [
        { name: 'input', shape: [1, 512], datatype: 'FP32', data: audio },
        { name: 'sr', shape: [], datatype: 'INT64', data: [16000] },
        { name: 'h', shape: [2, 1, 64], datatype: 'FP32', data: zeros },
        { name: 'c', shape: [2, 1, 64], datatype: 'FP32', data: zeros }
      ]
    })
    expect(res.status).toBe(200)
    const direct = await openDirect(SILERO_VAD_PATH, 1)
    const expected = await direct.run({
      input: { type: 'float32', dims: [1, 512], data: Float32Array.from(audio) },
      sr: { type: 'int64', dims: [], data: BigInt64Array.from([16000n]) },
      h: { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) },
      c: { type: 'float32', dims: [2, 1, 64], data: new Float32Array(128) }
    })
    await direct.release()
    expect(res.json.outputs[0]).toEqual({ name: 'output', shape: [1, 1], datatype: 'FP32', data: Array.from(expected.output!.data as Float32Array) })
  })

  it.each([
    ['a wrong shape', { inputs: [x(row, [1, 7])] }, 400, /shape/],
    ['a wrong datatype', { inputs: [x(row, [1, 8], 'FP64')] }, 400, /datatype FP64/],
    ['an unsupported datatype', { inputs: [x(row, [1, 8], 'FP8')] }, 400, /not supported/],
    ['too little data', { inputs: [x(row.slice(1), [1, 8])] }, 400, /needs 8 elements/],
    ['a missing input', { inputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [1] }] }, 400, /unknown input "y"/],
    ['no inputs', { inputs: [] }, 400, /inputs/],
    ['an unknown output', { inputs: [x(row, [1, 8])], outputs: [{ name: 'nope' }] }, 400, /unknown output/],
    ['a body that is not JSON', '{"inputs": [', 400, /not valid JSON/]
  ])('answers %s with a spec-shaped error', async (_what, body, status, message) => {
    const res = await http('POST', '/v2/models/clf/infer', body)
    expect(res.status).toBe(status)
    expect(Object.keys(res.json)).toEqual(['error'])
    expect(res.json.error).toMatch(message)
  })

  it('answers 404 for an unknown model or version, 413 for a body over the limit', async () => {
    const unknown = await http('POST', '/v2/models/nope/infer', { inputs: [x(row, [1, 8])] })
    expect(unknown.status).toBe(404)
    expect(unknown.json.error).toMatch(/nope/)
    expect((await http('POST', '/v2/models/clf/versions/2.0.0/infer', { inputs: [x(row, [1, 8])] })).status).toBe(404)
    const big = await http('POST', '/v2/models/clf/infer', { inputs: [x(new Array(20_000).fill(0.5), [2500, 8])] })
    expect(big.status).toBe(413)
    expect(Object.keys(big.json)).toEqual(['error'])
    expect(big.json.error).toMatch(/larger than 65536 bytes/)
    // the server is still fine afterwards
    expect((await http('POST', '/v2/models/clf/infer', { inputs: [x(row, [1, 8])] })).status).toBe(200)
  })

  it('answers 413 to a chunked body that grows past the limit, without reading it all', async () => {
    const res = await new Promise<{ status: number, body: string }>((resolve, reject) => {
      const req = request(server.url + '/v2/models/clf/infer', { method: 'POST', headers: { 'content-type': 'application/json' } }, (r) => {
        let body = ''
        r.setEncoding('utf8')
        r.on('data', (c: string) => { body += c })
        r.on('end', () => { resolve({ status: r.statusCode ?? 0, body }) })
      })
      req.on('error', reject)
      const chunk = '[' + new Array(4000).fill('0.5').join(',') + '],'
      for (let i = 0; i < 20; i++) req.write(chunk) // ~320 KB, no content-length: chunked
      req.end()
    })
    expect(res.status).toBe(413)
    expect(JSON.parse(res.body)).toEqual({ error: 'request body is larger than 65536 bytes' })
  })

  it('leaves /v1 errors in Tutti\'s own shape', async () => {
    expect(await http('GET', '/v1/node')).toEqual({ status: 200, json: { ok: true } })
    const res = await http('GET', '/v1/nope')
    expect(res.status).toBe(404)
    expect(res.json.error.code).toBe('ERR_NOT_FOUND')
    const wrongMethod = await http('GET', '/v2/models/clf/infer')
    expect(wrongMethod.status).toBe(405)
  })
})

describe('large bodies, parsed off the main thread', () => {
  const servers: Record<'inThread' | 'offThread', { server: ApiServer, parser: OipBodyParser }> = {} as any
  beforeAll(async () => {
    for (const [key, offThreadBytes] of [['inThread', Infinity], ['offThread', 0]] as const) {
      const router = new ApiRouter()
      const parser = registerOipRoutes(router, runtime, { parser: new OipBodyParser({}, { offThreadBytes }) })
      servers[key] = { server: await startApiServer({ router, logger: silentLogger, port: 0 }), parser }
    }
  })
  afterAll(async () => {
    for (const { server, parser } of Object.values(servers)) {
      await server.close()
      await parser.close()
    }
  })

  const post = async (url: string, path: string, body: string): Promise<{ status: number, text: string }> => {
    const res = await fetch(url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body })
    return { status: res.status, text: await res.text() }
  }

  it.each([
    ['a body that is not JSON', '/v2/models/clf/infer', '{"inputs": ['],
    ['a body that is not an object', '/v2/models/clf/infer', '"x"'],
    ['a wrong shape', '/v2/models/clf/infer', JSON.stringify({ inputs: [x(row, [1, 7])] })],
    ['a wrong datatype', '/v2/models/clf/infer', JSON.stringify({ inputs: [x(row, [1, 8], 'FP64')] })],
    ['an unsupported datatype', '/v2/models/clf/infer', JSON.stringify({ inputs: [x(row, [1, 8], 'FP8')] })],
    ['an FP32 value out of range', '/v2/models/clf/infer', JSON.stringify({ inputs: [x([...row.slice(1), 1e39], [1, 8])] })],
    ['a shape over the element limit', '/v2/models/clf/infer', JSON.stringify({ inputs: [x([1], [1 << 24, 8])] })],
    ['data nested deeper than its shape', '/v2/models/clf/infer', JSON.stringify({ inputs: [x([[row]], [1, 8])] })],
    ['too little data', '/v2/models/clf/infer', JSON.stringify({ inputs: [x(row.slice(1), [1, 8])] })],
    ['an unknown input', '/v2/models/clf/infer', JSON.stringify({ inputs: [{ name: 'y', shape: [1], datatype: 'FP32', data: [1] }] })],
    ['an unknown output', '/v2/models/clf/infer', JSON.stringify({ inputs: [x(row, [1, 8])], outputs: [{ name: 'nope' }] })],
    ['an unknown model', '/v2/models/nope/infer', JSON.stringify({ inputs: [x(row, [1, 8])] })],
    ['a good request', '/v2/models/clf/infer', JSON.stringify({ id: 'same', inputs: [x([...row, ...row], [2, 8])] })]
  ])('answers %s the same, byte for byte, whichever thread parses it', async (_what, path, body) => {
    const inThread = await post(servers.inThread.server.url, path, body)
    const offThread = await post(servers.offThread.server.url, path, body)
    expect(offThread).toEqual(inThread)
  })

  it('serves other requests while a large body is parsed in the worker', async () => {
    const rows = 120_000 // ~11 MB of JSON
    const body = JSON.stringify({ inputs: [x(new Array(rows).fill(row), [rows, 8])] })
    const { server, parser } = servers.offThread
    const events: string[] = []
    const live = new Promise<void>((resolve, reject) => {
      parser.addEventListener('parse:start', (e) => {
        if (e.detail.bytes !== Buffer.byteLength(body)) return
        events.push('parse started')
        // A request that arrives while the body is being parsed: on the event loop, it would wait for the parse.
        void fetch(server.url + '/v2/health/live').then(async res => { events.push(`live ${res.status}`); await res.body?.cancel(); resolve() }, reject)
      }, { once: true })
    })
    parser.addEventListener('parse:end', (e) => { if (e.detail.bytes === Buffer.byteLength(body)) events.push('parse ended') }, { once: true })
    const res = await post(server.url, '/v2/models/clf/infer', body)
    await live
    expect(res.status).toBe(200)
    expect(JSON.parse(res.text).outputs[0].shape).toEqual([rows, 4])
    expect(events).toEqual(['parse started', 'live 200', 'parse ended'])
  })
})

describe('admin methods', () => {
  it('infer answers an OIP request and maps errors to admin codes', async () => {
    const handlers = inferenceAdminHandlers(runtime)
    const ctx = { caller: 'peer' }
    const out = await handlers.infer!({ model: 'clf', id: 'a1', inputs: [x(row, [1, 8])], outputs: [{ name: 'probs' }] }, ctx) as { model_version: string, id: string, outputs: Array<{ name: string }> }
    expect(out.model_version).toBe('1.0.0')
    expect(out.id).toBe('a1')
    expect(out.outputs.map(o => o.name)).toEqual(['probs'])
    await expect(handlers.infer!({ model: 'clf', inputs: [x(row, [1, 7])] }, ctx)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    await expect(handlers.infer!({ model: 'nope', inputs: [x(row, [1, 8])] }, ctx)).rejects.toMatchObject({ code: 'ERR_NOT_FOUND' })
    await expect(handlers.infer!({ inputs: [] }, ctx)).rejects.toMatchObject({ code: 'ERR_BAD_REQUEST' })
    const status = await handlers['inference.status']!({}, ctx) as { status: { models: Array<{ name: string, active: string }> }, summary: Record<string, unknown> }
    expect(status.status.models.map(m => [m.name, m.active])).toEqual([['clf', '1.0.0'], ['vad', '4.0.0']])
    expect(Object.keys(status.summary)).toEqual(['clf@1.0.0', 'vad@4.0.0'])
  })
})
