import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { InferenceSession } from 'onnxruntime-node'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bytesMatchCid, rawCid } from '../core/cid.js'
import { cdcParamsFor, chunkLengths } from '../core/cdc.js'
import { chunkFileByContent } from '../node/models/chunking.js'
import { pack } from '../node/models/pack.js'
import { readPackageDir } from '../node/models/package-dir.js'
import { toOrtFeeds } from '../node/models/ort-feeds.js'
import { buildAddModel, buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { FIXED_CLOCK, packMatMul, SILERO_VAD, TempDirs, testFleet } from './models-helpers.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PrivateKey } from '@libp2p/interface'

async function runSample (modelFile: string, sample: Parameters<typeof toOrtFeeds>[0]): Promise<InferenceSession.ReturnType> {
  const session = await InferenceSession.create(modelFile)
  try {
    return await session.run(toOrtFeeds(sample))
  } finally {
    await session.release()
  }
}

async function expectCode (promise: Promise<unknown>, code: string): Promise<Error> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, `expected an error with code ${code}`).toBeInstanceOf(Error)
  expect((err as { code?: string }).code).toBe(code)
  return err as Error
}

describe('pack', () => {
  const tmp = new TempDirs()
  let fleet: FleetConfig
  let adminKey: PrivateKey

  beforeAll(async () => {
    ({ fleet, adminKey } = await testFleet())
  })
  afterEach(async () => { await tmp.cleanup() })

  it('records the IO signature, opset, size and content-defined chunks of the Silero VAD model', async () => {
    const dir = await tmp.make()
    const result = await pack(SILERO_VAD, { name: 'silero-vad', version: '4.0.0', labels: { task: 'vad' }, adminKey, outDir: join(dir, 'pkg') })
    const m = result.manifest
    const bytes = new Uint8Array(await readFile(SILERO_VAD))
    expect(m.size).toBe(bytes.byteLength)
    expect(m.opset).toBe(16)
    // Content-defined by default (schema 2): 64 KiB on average, a quarter to four times that.
    expect(m.schema).toBe(2)
    expect(m.chunking).toEqual({ method: 'fastcdc/1', minBytes: 16 * 1024, avgBytes: 64 * 1024, maxBytes: 256 * 1024 })
    expect(m.chunkBytes).toBe(256 * 1024)
    expect(m.chunkSizes).toEqual(chunkLengths(bytes, cdcParamsFor(64 * 1024)))
    expect(m.chunks).toHaveLength(m.chunkSizes!.length)
    expect(m.chunks.length).toBeGreaterThan(16)
    expect(m.inputs).toEqual([
      { name: 'input', type: 'float32', shape: ['batch', 'sequence'] },
      { name: 'sr', type: 'int64', shape: [] },
      { name: 'h', type: 'float32', shape: [2, 'batch', 64] },
      { name: 'c', type: 'float32', shape: [2, 'batch', 64] }
    ])
    expect(m.outputs.map(o => o.name)).toEqual(['output', 'hn', 'cn'])
    expect(m.labels).toEqual({ task: 'vad' })
    expect(m.digest).toBe(rawCid(bytes))
    let at = 0
    m.chunks.forEach((cid, i) => {
      expect(cid).toBe(rawCid(bytes.subarray(at, at + m.chunkSizes![i]!)))
      at += m.chunkSizes![i]!
    })
    expect(at).toBe(bytes.byteLength)
    expect(m.memoryEstimateBytes).toBeGreaterThan(bytes.byteLength)
    expect(result.header.opsets['ai.onnx.ml']).toBe(3)
    // The package is what pack says it is, and the files on disk verify.
    const pkg = await readPackageDir(result.dir, { fleet })
    expect(pkg.cid).toBe(result.cid)
    expect(pkg.manifest).toEqual(m)
    expect(Buffer.from(bytes).equals(await readFile(pkg.modelFile))).toBe(true)
    expect(bytesMatchCid(m.chunks[1]!, await pkg.readChunk(1))).toBe(true)
  })

  it('cuts the same chunks streaming a file (1 MiB reads) as pack cuts from the bytes it holds', async () => {
    const dir = await tmp.make()
    const result = await pack(SILERO_VAD, { name: 'silero-vad', version: '4.0.0', adminKey, chunkBytes: 16 * 1024, outDir: join(dir, 'pkg') })
    const m = result.manifest
    expect(m.chunks.length).toBeGreaterThan(64)
    const streamed = await chunkFileByContent(SILERO_VAD, m.chunking!)
    expect(streamed).toEqual({ chunks: m.chunks, chunkSizes: m.chunkSizes, digest: m.digest, size: m.size })
    await expectCode(pack(SILERO_VAD, { name: 'silero-vad', version: '4.0.0', adminKey, chunkBytes: 3000, outDir: join(dir, 'bad') }), 'ERR_INVALID_PACK_OPTIONS')
  })

  it('records a sample input that runs on the model it was made for', async () => {
    const dir = await tmp.make()
    const vad = await pack(SILERO_VAD, { name: 'silero-vad', version: '4.0.0', adminKey, outDir: join(dir, 'vad') })
    // Symbolic 'batch' stays 1; 'sequence' grows until the model runs (it needs at least 256 samples).
    expect(vad.manifest.sampleInput.input!.shape).toEqual([1, 256])
    expect(vad.manifest.sampleInput.h!.shape).toEqual([2, 1, 64])
    const out = await runSample(vad.files.model, vad.manifest.sampleInput)
    expect(out.output!.dims).toEqual([1, 1])

    const mm = await packMatMul(dir, adminKey)
    expect(mm.manifest.sampleInput.x).toEqual({ datatype: 'FP32', shape: [1, 16], data: new Array(16).fill(0) })
    const y = await runSample(mm.files.model, mm.manifest.sampleInput)
    expect(y.y!.dims).toEqual([1, mm.manifest.outputs[0]!.shape[1]])
  })

  it('splits a model into fixed-size chunks whose CIDs verify (chunking fixed: schema 1, as before)', async () => {
    const dir = await tmp.make()
    const result = await packMatMul(dir, adminKey, { chunking: 'fixed', chunkBytes: 4096, weightsBytes: 20_000 })
    const bytes = new Uint8Array(await readFile(result.files.model))
    expect(result.manifest.schema).toBe(1)
    expect(result.manifest.chunking).toBeUndefined()
    expect(result.manifest.chunkSizes).toBeUndefined()
    expect(result.manifest.chunks).toHaveLength(Math.ceil(bytes.byteLength / 4096))
    result.manifest.chunks.forEach((cid, i) => {
      expect(bytesMatchCid(cid, bytes.subarray(i * 4096, (i + 1) * 4096))).toBe(true)
    })
    expect(new Set(result.manifest.chunks).size).toBe(result.manifest.chunks.length)
  })

  it('gives the same manifest CID for the same bytes, and a new one for a new version', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'add.onnx')
    await writeFile(file, buildAddModel())
    const a = await pack(file, { name: 'add', version: '1.0.0', adminKey, outDir: join(dir, 'a'), clock: FIXED_CLOCK })
    const b = await pack(file, { name: 'add', version: '1.0.0', adminKey, outDir: join(dir, 'b'), clock: FIXED_CLOCK })
    const c = await pack(file, { name: 'add', version: '1.0.1', adminKey, outDir: join(dir, 'c'), clock: FIXED_CLOCK })
    expect(a.cid).toMatch(/^bagaaiera/)
    expect(b.cid).toBe(a.cid)
    expect(b.envelope).toEqual(a.envelope)
    expect(c.cid).not.toBe(a.cid)
    expect(a.manifest.createdAt).toBe('2026-01-02T03:04:05.000Z')
  })

  it('refuses a file that is not ONNX with ERR_NOT_ONNX and writes nothing', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'notes.txt')
    await writeFile(file, '{"this": "is JSON, not a model"}\n')
    const err = await expectCode(pack(file, { name: 'x', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_NOT_ONNX')
    expect(err.message).toMatch(/is not an ONNX model/)
    expect(await readdir(dir)).toEqual(['notes.txt'])
    await writeFile(file, '')
    await expectCode(pack(file, { name: 'x', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_NOT_ONNX')
  })

  it('refuses a truncated ONNX file with ERR_ONNX_TRUNCATED', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'vad-part.onnx')
    const bytes = await readFile(SILERO_VAD)
    await writeFile(file, bytes.subarray(0, Math.floor(bytes.byteLength / 2)))
    const err = await expectCode(pack(file, { name: 'vad', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_ONNX_TRUNCATED')
    expect(err.message).toMatch(/truncated/)
    await writeFile(file, buildMatMulModel({ weightsBytes: 8000 }).subarray(0, 5000))
    await expectCode(pack(file, { name: 'mm', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_ONNX_TRUNCATED')
  })

  it('refuses a model whose opset onnxruntime does not support with ERR_UNSUPPORTED_OPSET', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'add.onnx')
    await writeFile(file, buildAddModel({ opset: 40 }))
    const err = await expectCode(pack(file, { name: 'add', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_UNSUPPORTED_OPSET')
    expect(err.message).toMatch(/opset 40; this onnxruntime supports opsets 7-\d+/)
    await writeFile(file, buildAddModel({ opset: 5 }))
    await expectCode(pack(file, { name: 'add', version: '1.0.0', adminKey, outDir: join(dir, 'out') }), 'ERR_UNSUPPORTED_OPSET')
  })

  it('refuses a version that is not semver, bad labels and a non-Ed25519 key', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'add.onnx')
    await writeFile(file, buildAddModel())
    const outDir = join(dir, 'out')
    await expectCode(pack(file, { name: 'add', version: 'v1', adminKey, outDir }), 'ERR_INVALID_PACK_OPTIONS')
    await expectCode(pack(file, { name: 'add@1', version: '1.0.0', adminKey, outDir }), 'ERR_INVALID_PACK_OPTIONS')
    await expectCode(pack(file, { name: 'add', version: '1.0.0', labels: { 'bad key!': 'x' }, adminKey, outDir }), 'ERR_INVALID_PACK_OPTIONS')
    await expectCode(pack(file, { name: 'add', version: '1.0.0', adminKey, outDir, chunkBytes: 10 }), 'ERR_INVALID_PACK_OPTIONS')
    const rsa = await generateKeyPair('secp256k1')
    await expectCode(pack(file, { name: 'add', version: '1.0.0', adminKey: rsa, outDir }), 'ERR_INVALID_PACK_OPTIONS')
  })

  it('refuses to overwrite a package unless forced', async () => {
    const dir = await tmp.make()
    const file = join(dir, 'add.onnx')
    await writeFile(file, buildAddModel())
    const outDir = join(dir, 'out')
    await pack(file, { name: 'add', version: '1.0.0', adminKey, outDir })
    await expectCode(pack(file, { name: 'add', version: '1.0.1', adminKey, outDir }), 'ERR_INVALID_PACK_OPTIONS')
    const again = await pack(file, { name: 'add', version: '1.0.1', adminKey, outDir, force: true })
    expect((await readPackageDir(outDir)).manifest.version).toBe(again.manifest.version)
  })

  it('uses a given sample input, and refuses one that does not run', async () => {
    const dir = await tmp.make()
    const outDir = join(dir, 'vad')
    const sampleInput = {
      input: { datatype: 'FP32', shape: [1, 512], data: new Array(512).fill(0.01) },
      sr: { datatype: 'INT64', shape: [], data: [16000] },
      h: { datatype: 'FP32', shape: [2, 1, 64], data: new Array(128).fill(0) },
      c: { datatype: 'FP32', shape: [2, 1, 64], data: new Array(128).fill(0) }
    }
    const ok = await pack(SILERO_VAD, { name: 'vad', version: '1.0.0', adminKey, outDir, sampleInput })
    expect(ok.manifest.sampleInput).toEqual(sampleInput)
    const short = { ...sampleInput, input: { datatype: 'FP32', shape: [1, 8], data: new Array(8).fill(0) } }
    const err = await expectCode(pack(SILERO_VAD, { name: 'vad', version: '1.0.1', adminKey, outDir: join(dir, 'short'), sampleInput: short }), 'ERR_SAMPLE_INPUT')
    expect(err.message).toMatch(/no sample input ran/)
    const wrongType = { ...sampleInput, sr: { datatype: 'FP32', shape: [], data: [1] } }
    await expectCode(pack(SILERO_VAD, { name: 'vad', version: '1.0.1', adminKey, outDir: join(dir, 'wrong'), sampleInput: wrongType }), 'ERR_SAMPLE_INPUT')
  })

  it('builds synthetic models of a chosen size that onnxruntime runs', async () => {
    const dir = await tmp.make()
    const bytes = buildMatMulModel({ inputSize: 128, weightsBytes: 1_000_000, seed: 7 })
    expect(Math.abs(bytes.byteLength - 1_000_000)).toBeLessThan(1024)
    expect(Buffer.from(buildMatMulModel({ inputSize: 128, weightsBytes: 1_000_000, seed: 7 })).equals(bytes)).toBe(true)
    const file = join(dir, 'mm.onnx')
    await writeFile(file, bytes)
    const result = await pack(file, { name: 'mm', version: '1.0.0', adminKey, outDir: join(dir, 'out') })
    expect(result.manifest.inputs).toEqual([{ name: 'x', type: 'float32', shape: ['batch', 128] }])
    expect(result.manifest.outputs).toEqual([{ name: 'y', type: 'float32', shape: ['batch', Math.floor(1_000_000 / 512)] }])
    const out = await runSample(file, result.manifest.sampleInput)
    expect(out.y!.dims).toEqual([1, Math.floor(1_000_000 / 512)])
  })

  it('finds a tampered package file when reading the package', async () => {
    const dir = await tmp.make()
    const result = await packMatMul(dir, adminKey)
    const bytes = new Uint8Array(await readFile(result.files.model))
    bytes[5000] = bytes[5000]! ^ 0xff
    await writeFile(result.files.model, bytes)
    await expectCode(readPackageDir(result.dir), 'ERR_CHUNK_MISMATCH')
    const other = await testFleet()
    await expectCode(readPackageDir(result.dir, { fleet: other.fleet, verify: false }), 'ERR_NOT_ADMIN_SIGNER')
    await expectCode(readPackageDir(join(dir, 'nowhere')), 'ERR_INVALID_PACKAGE')
  })
})
