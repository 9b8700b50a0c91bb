import { randomBytes } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { beforeAll, describe, expect, it } from 'vitest'
import { canonicalJson } from '../core/canonical-json.js'
import { manifestCid, rawCid } from '../core/cid.js'
import { cdcParamsFor, chunkLengths } from '../core/cdc.js'
import { chunkOffsets } from '../node/models/chunking.js'
import { sealEnvelope } from '../core/envelope.js'
import { SignedEnvelope } from '../core/pb/envelope.js'
import { MANIFEST_PAYLOAD_TYPE, MAX_ENVELOPE_BYTES } from '../node/models/constants.js'
import { isModelVersion, openEnvelope, sealManifest } from '../node/models/manifest.js'
import { compare as compareSemver } from 'semver'
import { emptyState, planRetention } from '../node/models/store-state.js'
import { testFleet } from './models-helpers.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { ModelManifest } from '../node/models/types.js'
import type { PrivateKey } from '@libp2p/interface'

function manifestFor (bytes: Uint8Array, chunkBytes = 1024): ModelManifest {
  const chunks: string[] = []
  for (let off = 0; off < bytes.byteLength; off += chunkBytes) chunks.push(rawCid(bytes.subarray(off, off + chunkBytes)))
  return {
    kind: 'TuttiModel',
    schema: 1,
    name: 'demo',
    version: '1.0.0',
    labels: { task: 'test' },
    size: bytes.byteLength,
    chunkBytes,
    chunks,
    digest: rawCid(bytes),
    opset: 13,
    inputs: [{ name: 'x', type: 'float32', shape: ['batch', 4] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['batch', 4] }],
    sampleInput: { x: { datatype: 'FP32', shape: [1, 4], data: [0, 0, 0, 0] } },
    memoryEstimateBytes: 1000,
    createdAt: '2026-01-02T03:04:05.000Z'
  }
}

/** A schema-2 manifest of `bytes` in content-defined chunks of 1 KiB on average. */
function cdcManifestFor (bytes: Uint8Array): ModelManifest {
  const params = cdcParamsFor(1024)
  const chunkSizes = chunkLengths(bytes, params)
  let at = 0
  const chunks = chunkSizes.map(l => rawCid(bytes.subarray(at, (at += l))))
  return { ...manifestFor(bytes), schema: 2, chunking: { method: 'fastcdc/1', ...params }, chunkBytes: params.maxBytes, chunks, chunkSizes }
}

async function expectCode (promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, `expected an error with code ${code}`).toBeInstanceOf(Error)
  expect((err as { code?: string }).code).toBe(code)
}

/** An envelope built by hand, to sign bytes `sealManifest` would never produce. */
async function handmadeEnvelope (manifestBytes: Uint8Array, key: PrivateKey, payloadType = MANIFEST_PAYLOAD_TYPE): Promise<Uint8Array> {
  return await sealEnvelope(key, payloadType, manifestBytes)
}

describe('manifest envelopes', () => {
  let fleet: FleetConfig
  let adminKey: PrivateKey
  const manifest = manifestFor(randomBytes(5000))

  beforeAll(async () => {
    ({ fleet, adminKey } = await testFleet())
  })

  it('accepts an envelope signed by a fleet admin, with the CID of the signed manifest bytes', async () => {
    const sealed = await sealManifest(manifest, adminKey)
    const opened = await openEnvelope(sealed.envelope, fleet, { expectedCid: sealed.cid })
    expect(opened.manifest).toEqual(manifest)
    expect(opened.cid).toBe(manifestCid(sealed.manifestBytes))
    expect(opened.signer).toBe(fleet.admins[0]!.peerId)
    expect(new TextDecoder().decode(sealed.manifestBytes)).toBe(canonicalJson(manifest))
  })

  it('refuses an envelope whose signature does not verify', async () => {
    const { envelope } = await sealManifest(manifest, adminKey)
    const pb = SignedEnvelope.decode(envelope)
    const badSig = Uint8Array.from(pb.signature)
    badSig[3] = badSig[3]! ^ 1
    await expectCode(openEnvelope(SignedEnvelope.encode({ ...pb, signature: badSig }), fleet), 'ERR_MANIFEST_SIGNATURE')
    // Same signature over other bytes: the version changed by one character.
    const tampered = new TextEncoder().encode(new TextDecoder().decode(pb.payload).replace('"1.0.0"', '"1.0.1"'))
    await expectCode(openEnvelope(SignedEnvelope.encode({ ...pb, payload: tampered }), fleet), 'ERR_MANIFEST_SIGNATURE')
    // The same envelope relabelled as another payload type is not a manifest.
    await expectCode(openEnvelope(SignedEnvelope.encode({ ...pb, payloadType: 'tutti/policy/1' }), fleet), 'ERR_INVALID_MANIFEST')
  })

  it('refuses a valid admin signature over a manifest sealed as another payload type', async () => {
    const bytes = new TextEncoder().encode(canonicalJson(manifest))
    await expectCode(openEnvelope(await handmadeEnvelope(bytes, adminKey, 'tutti/policy/1'), fleet), 'ERR_INVALID_MANIFEST')
    const opened = await openEnvelope(await handmadeEnvelope(bytes, adminKey), fleet)
    expect(opened.manifest).toEqual(manifest)
  })

  it('refuses an envelope signed by a key that is not an admin of the fleet', async () => {
    const stranger = await generateKeyPair('Ed25519')
    const { envelope } = await sealManifest(manifest, stranger)
    await expectCode(openEnvelope(envelope, fleet), 'ERR_NOT_ADMIN_SIGNER')
  })

  it('refuses an envelope larger than the limit before decoding it', async () => {
    await expectCode(openEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1), fleet), 'ERR_MANIFEST_TOO_LARGE')
    await expectCode(openEnvelope(randomBytes(300), fleet), 'ERR_INVALID_MANIFEST')
  })

  it('refuses a manifest of another CID than asked for', async () => {
    const { envelope } = await sealManifest(manifest, adminKey)
    const other = await sealManifest({ ...manifest, version: '2.0.0' }, adminKey)
    await expectCode(openEnvelope(envelope, fleet, { expectedCid: other.cid }), 'ERR_MANIFEST_CID_MISMATCH')
  })

  it('refuses signed bytes that are not canonical JSON or not a valid manifest', async () => {
    const pretty = new TextEncoder().encode(JSON.stringify(manifest, null, 2))
    await expectCode(openEnvelope(await handmadeEnvelope(pretty, adminKey), fleet), 'ERR_INVALID_MANIFEST')
    const tooFewChunks = new TextEncoder().encode(canonicalJson({ ...manifest, chunks: manifest.chunks.slice(1) }))
    await expectCode(openEnvelope(await handmadeEnvelope(tooFewChunks, adminKey), fleet), 'ERR_INVALID_MANIFEST')
    const badCid = new TextEncoder().encode(canonicalJson({ ...manifest, digest: 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG' }))
    await expectCode(openEnvelope(await handmadeEnvelope(badCid, adminKey), fleet), 'ERR_INVALID_MANIFEST')
    const newer = new TextEncoder().encode(canonicalJson({ ...manifest, schema: 3 }))
    await expectCode(openEnvelope(await handmadeEnvelope(newer, adminKey), fleet), 'ERR_INVALID_MANIFEST')
  })

  it('reads content-defined manifests (schema 2): sizes listed, within the chunking bounds, adding up to size', async () => {
    const bytes = randomBytes(40_000)
    const cdc = cdcManifestFor(bytes)
    expect(cdc.chunks.length).toBeGreaterThan(5)
    expect(Math.max(...cdc.chunkSizes!)).toBeGreaterThan(1024)
    const sealed = await sealManifest(cdc, adminKey)
    const opened = await openEnvelope(sealed.envelope, fleet, { expectedCid: sealed.cid })
    expect(opened.manifest).toEqual(cdc)
    expect(chunkOffsets(opened.manifest).map((o, i) => rawCid(bytes.subarray(o, o + cdc.chunkSizes![i]!)))).toEqual(cdc.chunks)
    const sizes = cdc.chunkSizes!
    const bad: Array<[string, Record<string, unknown>]> = [
      ['sizes that do not add up to size', { ...cdc, chunkSizes: [...sizes.slice(0, -1), sizes.at(-1)! + 1] }],
      ['one size per chunk', { ...cdc, chunkSizes: sizes.slice(1) }],
      ['a chunk shorter than minBytes before the last', { ...cdc, chunkSizes: [100, sizes[0]! - 100, ...sizes.slice(1)], chunks: [cdc.chunks[0]!, ...cdc.chunks] }],
      ['a chunk longer than maxBytes', { ...cdc, chunking: { ...cdc.chunking!, maxBytes: 1024 }, chunkBytes: 1024 }],
      ['chunkBytes other than maxBytes', { ...cdc, chunkBytes: 1024 }],
      ['an unknown method', { ...cdc, chunking: { ...cdc.chunking!, method: 'rabin' } }],
      ['an average that is no power of two', { ...cdc, chunking: { ...cdc.chunking!, avgBytes: 1000 } }],
      ['no chunking', { ...cdc, chunking: undefined }],
      ['schema 1 with listed sizes', { ...manifest, chunkSizes: [1024, 1024, 1024, 1024, 904] }]
    ]
    for (const [why, doc] of bad) {
      const bytes = new TextEncoder().encode(canonicalJson(doc))
      const err = await openEnvelope(await handmadeEnvelope(bytes, adminKey), fleet).then(() => undefined, (e: unknown) => e)
      expect((err as { code?: string })?.code, why).toBe('ERR_INVALID_MANIFEST')
    }
  })

  it('keeps unknown fields a later packer may add, inside the signed bytes', async () => {
    const extended = new TextEncoder().encode(canonicalJson({ ...manifest, license: 'MIT' }))
    const opened = await openEnvelope(await handmadeEnvelope(extended, adminKey), fleet)
    expect((opened.manifest as unknown as Record<string, unknown>).license).toBe('MIT')
    expect(opened.cid).toBe(manifestCid(extended))
  })
})

describe('canonical JSON', () => {
  it('sorts keys at every depth, drops undefined and has no whitespace', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' }, u: undefined })).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}')
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(TypeError)
  })
})

describe('semver', () => {
  it.each([
    ['1.0.0', '1.0.1', -1], ['1.10.0', '1.9.0', 1], ['1.0.0-alpha', '1.0.0', -1],
    ['1.0.0-alpha.1', '1.0.0-alpha.beta', -1], ['1.0.0-2', '1.0.0-10', -1], ['2.0.0+build', '2.0.0', 0]
  ])('orders %s against %s as %i', (a, b, sign) => {
    expect(Math.sign(compareSemver(a, b))).toBe(sign)
  })

  it('accepts semver and refuses the rest', () => {
    expect(['1.2.3', '0.0.1-rc.1+b5'].every(isModelVersion)).toBe(true)
    expect(['v1.2.3', '1.2', '01.2.3', '', 'latest'].some(isModelVersion)).toBe(false)
  })
})

describe('retention', () => {
  const cid = (n: number): string => `m${n}`
  const entries = (...ns: Array<[number, number]>): Array<{ cid: string, name: string, version: string, addedSeq: number }> =>
    ns.map(([n, addedSeq]) => ({ cid: cid(n), name: 'vad', version: `1.${n}.0`, addedSeq }))

  it.each([
    { why: 'keeps active and previous, removes older ones', active: 3, activatedSeq: 10, history: [2, 1], added: [[1, 1], [2, 2], [3, 3]], retain: 2, removed: [1] },
    { why: 'keeps versions staged after the activation', active: 2, activatedSeq: 10, history: [1], added: [[1, 1], [2, 2], [4, 11]], retain: 2, removed: [] },
    { why: 'keeps never-activated versions newer than the active one', active: 2, activatedSeq: 10, history: [1], added: [[1, 1], [2, 2], [5, 5]], retain: 2, removed: [] },
    { why: 'removes never-activated older versions superseded by a later activation', active: 4, activatedSeq: 10, history: [1], added: [[1, 1], [3, 3], [4, 4]], retain: 2, removed: [3] },
    { why: 'keeps more history with a larger retention', active: 4, activatedSeq: 10, history: [3, 2, 1], added: [[1, 1], [2, 2], [3, 3], [4, 4]], retain: 3, removed: [1] },
    { why: 'keeps only the active with a retention of 1', active: 2, activatedSeq: 10, history: [1], added: [[1, 1], [2, 2]], retain: 1, removed: [1] },
    { why: 'keeps everything never activated', active: undefined, activatedSeq: undefined, history: [], added: [[1, 1], [2, 2]], retain: 2, removed: [] }
  ] as const)('$why', ({ active, activatedSeq, history, added, retain, removed }) => {
    const state = emptyState()
    state.models.vad = { active: active == null ? undefined : cid(active), activatedSeq, history: history.map(cid) }
    const plan = planRetention(state, entries(...added.map(a => [a[0], a[1]] as [number, number])), retain)
    expect([...plan].sort()).toEqual(removed.map(cid))
  })

  it('never removes a protected version', () => {
    const state = emptyState()
    state.models.vad = { active: 'm3', activatedSeq: 10, history: ['m2', 'm1'] }
    expect([...planRetention(state, entries([1, 1], [2, 2], [3, 3]), 2, new Set(['m1']))]).toEqual([])
  })
})
