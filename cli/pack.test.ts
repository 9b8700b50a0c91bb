/**
 * `tutti model pack --sample FILE.json` through the CLI, in process, on real ONNX files and a real
 * onnxruntime session: a model whose generated sample inputs cannot run, packed with one given
 * as an inference request body.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { encodeModel } from '../node/models/testing/onnx-builder.js'
import { main } from './main.js'
import type { CliIO } from './io.js'

let dir: string
let adminKey: string
let model: string

async function run (...argv: string[]): Promise<{ code: number, out: string, err: string }> {
  let out = ''
  let err = ''
  const io: CliIO = { out: t => { out += t }, err: t => { err += t }, env: {}, isTTY: false }
  const code = await main(argv, io)
  return { code, out, err }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tutti-pack-cli-'))
  adminKey = (await initFleet({ dir: join(dir, 'fleet') })).adminKeyFile
  // y = reshape(x, shape): runs only when `shape` holds 2 and 3 (or 3 and 2, -1...); the
  // generated samples fill it with zeros or ones, which never fit six elements.
  const built = encodeModel({ name: 'reshape', node: [{ opType: 'Reshape', input: ['x', 'shape'], output: ['y'] }] },
    [{ name: 'x', type: 'float32', shape: [6] }, { name: 'shape', type: 'int64', shape: [2] }],
    [{ name: 'y', type: 'float32', shape: [-1, -1] }])
  model = join(dir, 'reshape.onnx')
  await writeFile(model, built.bytes)
})
afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

describe('model pack --sample', () => {
  const request = { inputs: [{ name: 'x', shape: [6], datatype: 'FP32', data: [[1, 2, 3], [4, 5, 6]] }, { name: 'shape', shape: [2], datatype: 'INT64', data: [2, 3] }] }

  it('points at --sample when no generated sample runs', async () => {
    const res = await run('model', 'pack', model, '--name', 'reshape', '--version', '1.0.0', '--key', adminKey, '--out', join(dir, 'none'))
    expect(res.code).toBe(1)
    expect(res.err).toMatch(/^error: no sample input ran on the model .*; give one with --sample FILE\.json \(an inference request body\)\n$/)
  })

  it('packs the sample given as an inference request body (nested data flattened)', async () => {
    const sample = join(dir, 'sample.json')
    await writeFile(sample, JSON.stringify(request))
    const res = await run('model', 'pack', model, '--name', 'reshape', '--version', '1.0.0', '--key', adminKey, '--out', join(dir, 'pkg'), '--sample', sample)
    expect(res.err).toBe('')
    expect(res.code).toBe(0)
    const { manifest } = JSON.parse(await readFile(join(dir, 'pkg', 'manifest.json'), 'utf8')) as { manifest: { sampleInput: unknown } }
    expect(manifest.sampleInput).toEqual({ x: { datatype: 'FP32', shape: [6], data: [1, 2, 3, 4, 5, 6] }, shape: { datatype: 'INT64', shape: [2], data: [2, 3] } })
  })

  it.each<[string, unknown, RegExp]>([
    ['not a request body', [1, 2], /^error: --sample must be an inference request body/],
    ['an input without data', { inputs: [{ name: 'x', shape: [6], datatype: 'FP32' }] }, /^error: --sample: inputs\[0\] needs "name", "shape", "datatype" and "data"/],
    ['a sample that misses an input', { inputs: [request.inputs[0]] }, /^error: the sample input must hold exactly the inputs x, shape/],
    ['a sample of the wrong type', { inputs: [request.inputs[0], { ...request.inputs[1], datatype: 'FP32' }] }, /^error: sample input shape: datatype FP32, the model wants INT64/]
  ])('refuses %s (exit 1: the file, not the flag, is wrong), writing nothing', async (_what, body, message) => {
    const sample = join(dir, 'bad.json')
    await writeFile(sample, JSON.stringify(body))
    const out = join(dir, 'bad-pkg')
    const res = await run('model', 'pack', model, '--name', 'reshape', '--version', '1.0.0', '--key', adminKey, '--out', out, '--sample', sample)
    expect(res.code).toBe(1)
    expect(res.err).toMatch(message)
    expect(res.err.split('\n')).toEqual([expect.any(String), ''])
    await expect(readFile(join(out, 'manifest.json'))).rejects.toThrow(/ENOENT/)
  })
})
