import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { InferenceSession } from 'onnxruntime-node'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bytesMatchCid } from '../core/cid.js'
import { sealManifest } from '../node/models/manifest.js'
import { pack } from '../node/models/pack.js'
import { readPackageDir } from '../node/models/package-dir.js'
import { toOrtFeeds } from '../node/models/ort-feeds.js'
import { ModelStore } from '../node/models/store.js'
import { packMatMul, SILERO_VAD, TempDirs, testFleet } from './models-helpers.js'
import type { DevicePace } from '../core/pace.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PackResult } from '../node/models/pack.js'
import type { PrivateKey } from '@libp2p/interface'

async function expectCode (promise: Promise<unknown>, code: string): Promise<void> {
  const err = await promise.then(() => undefined, (e: unknown) => e)
  expect(err, `expected an error with code ${code}`).toBeInstanceOf(Error)
  expect((err as { code?: string }).code).toBe(code)
}

/** What the fetcher does: manifest first, then every missing chunk from somewhere. */
async function fetchInto (store: ModelStore, pkg: PackResult, only?: (index: number) => boolean): Promise<void> {
  await store.putManifest(pkg.envelope)
  const dir = await readPackageDir(pkg.dir)
  for (let i = 0; i < pkg.manifest.chunks.length; i++) {
    if (only != null && !only(i)) continue
    await store.putChunk(pkg.manifest.chunks[i]!, await dir.readChunk(i))
  }
}

describe('the model store', () => {
  const tmp = new TempDirs()
  let fleet: FleetConfig
  let adminKey: PrivateKey
  const stores: ModelStore[] = []

  const openStore = async (root: string, extra: { retainVersions?: number, pace?: DevicePace } = {}): Promise<ModelStore> => {
    const store = await ModelStore.open({ root, fleet, ...extra })
    stores.push(store)
    return store
  }

  beforeAll(async () => {
    ({ fleet, adminKey } = await testFleet())
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map(async s => { await s.close() }))
    await tmp.cleanup()
  })

  it('imports a package into a verified model file that runs, and serves its chunks from it', async () => {
    const dir = await tmp.make()
    const pkg = await pack(SILERO_VAD, { name: 'silero-vad', version: '4.0.0', adminKey, chunkBytes: 256 * 1024, outDir: join(dir, 'pkg') })
    const store = await openStore(join(dir, 'store'))
    const v = await store.importPackage(pkg.dir)
    expect(v.cid).toBe(pkg.cid)
    const path = store.modelPath(pkg.cid)!
    expect(Buffer.compare(await readFile(path), await readFile(SILERO_VAD))).toBe(0)
    expect(store.list()).toMatchObject([{ name: 'silero-vad', version: '4.0.0', cid: pkg.cid, complete: true, active: false, chunks: 7, chunksHeld: 7 }])
    // No chunk files: chunks come out of the model file, verified.
    expect(await readdir(join(dir, 'store', 'chunks'))).toEqual([])
    const chunk3 = await store.getChunk(pkg.manifest.chunks[3]!)
    expect(bytesMatchCid(pkg.manifest.chunks[3]!, chunk3!)).toBe(true)
    expect(await store.hasChunk(pkg.manifest.chunks[6]!)).toBe(true)
    const session = await InferenceSession.create(path)
    const out = await session.run(toOrtFeeds(v.manifest.sampleInput))
    await session.release()
    expect(out.output!.dims).toEqual([1, 1])
  })

  it('assembles a model fetched chunk by chunk, reporting what is missing on the way', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey, { chunkBytes: 4096, weightsBytes: 40_000 })
    const n = pkg.manifest.chunks.length
    expect(n).toBeGreaterThan(9)
    const store = await openStore(join(dir, 'store'))
    await fetchInto(store, pkg, i => i % 2 === 0)
    expect(store.missingChunks(pkg.cid)).toEqual(pkg.manifest.chunks.filter((_, i) => i % 2 === 1))
    const bits = store.chunkPresence(pkg.cid)
    expect(bits).toHaveLength(Math.ceil(n / 8))
    expect(bits[0]).toBe(0b10101010)
    await expectCode(store.assemble(pkg.cid), 'ERR_CHUNKS_MISSING')
    expect(store.modelPath(pkg.cid)).toBeUndefined()
    await fetchInto(store, pkg, i => i % 2 === 1)
    expect(store.missingChunks(pkg.cid)).toEqual([])
    const path = await store.assemble(pkg.cid)
    expect(Buffer.compare(await readFile(path), await readFile(pkg.files.model))).toBe(0)
    expect(store.chunkPresence(pkg.cid)[0]).toBe(0xff)
    // Chunk files are gone once the model file serves them.
    expect(await readdir(join(dir, 'store', 'chunks'))).toEqual([])
    expect(bytesMatchCid(pkg.manifest.chunks[n - 1]!, (await store.getChunk(pkg.manifest.chunks[n - 1]!))!)).toBe(true)
  })

  it('writes the model file while the chunks arrive, in any order: assembling reads no chunk file back', async () => {
    const dir = await tmp.make()
    // At most 8 chunks: more writes than that queued behind a slow disk are left to the chunk files.
    const pkg = await packMatMul(dir, adminKey, { chunkBytes: 8192, weightsBytes: 40_000 })
    const n = pkg.manifest.chunks.length
    expect(n).toBeGreaterThan(3)
    expect(n).toBeLessThanOrEqual(8)
    const store = await openStore(join(dir, 'store'))
    // Odd chunks first, then even ones backwards: the whole-file digest cannot simply follow along.
    await fetchInto(store, pkg, i => i % 2 === 1)
    const source = await readPackageDir(pkg.dir)
    for (let i = n - 1; i >= 0; i--) {
      if (i % 2 === 0) await store.putChunk(pkg.manifest.chunks[i]!, await source.readChunk(i))
    }
    // Behind the store's back: were assembly to read the chunk files, it would find them gone.
    const chunkDir = join(dir, 'store', 'chunks')
    for (const f of await readdir(chunkDir)) await rm(join(chunkDir, f))
    const path = await store.assemble(pkg.cid)
    expect(Buffer.compare(await readFile(path), await readFile(pkg.files.model))).toBe(0)
    expect((await readdir(join(dir, 'store', 'models'))).filter(f => f.endsWith('.tmp'))).toEqual([])
  })

  it('on a slow device, writes a chunk only once its disk would have taken it (core/pace.ts), and a bad chunk costs no disk time', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const asked: number[] = []
    let release: (() => void) | undefined
    const pace: DevicePace = {
      cpuSlowed: false,
      cpu: async () => {},
      disk: async (bytes) => { asked.push(bytes); await new Promise<void>(resolve => { release = resolve }) }
    }
    const store = await openStore(join(dir, 'store'), { pace })
    await store.putManifest(pkg.envelope)
    const chunk = await (await readPackageDir(pkg.dir)).readChunk(0)
    const bad = Uint8Array.from(chunk)
    bad[0] = bad[0]! ^ 1
    await expectCode(store.putChunk(pkg.manifest.chunks[0]!, bad), 'ERR_CHUNK_MISMATCH')
    expect(asked).toEqual([])
    const put = store.putChunk(pkg.manifest.chunks[0]!, chunk)
    while (release === undefined) await new Promise(resolve => setImmediate(resolve))
    expect(asked).toEqual([chunk.byteLength])
    expect(await store.hasChunk(pkg.manifest.chunks[0]!)).toBe(false)
    release()
    await put
    expect(await store.hasChunk(pkg.manifest.chunks[0]!)).toBe(true)
  })

  it('refuses a chunk whose bytes do not match its CID, and stores nothing', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const store = await openStore(join(dir, 'store'))
    await store.putManifest(pkg.envelope)
    const good = await (await readPackageDir(pkg.dir)).readChunk(1)
    const bad = Uint8Array.from(good)
    bad[100] = bad[100]! ^ 1
    await expectCode(store.putChunk(pkg.manifest.chunks[1]!, bad), 'ERR_CHUNK_MISMATCH')
    await expectCode(store.putChunk('not-a-cid', good), 'ERR_CHUNK_MISMATCH')
    expect(await store.hasChunk(pkg.manifest.chunks[1]!)).toBe(false)
    expect(await store.getChunk(pkg.manifest.chunks[1]!)).toBeUndefined()
    expect(await readdir(join(dir, 'store', 'chunks'))).toEqual([])
    expect(store.missingChunks(pkg.cid)).toHaveLength(pkg.manifest.chunks.length)
  })

  it('refuses a chunk that no manifest it holds refers to', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const store = await openStore(join(dir, 'store'))
    const chunk = await (await readPackageDir(pkg.dir)).readChunk(0)
    await expectCode(store.putChunk(pkg.manifest.chunks[0]!, chunk), 'ERR_CHUNK_UNKNOWN')
    expect(await readdir(join(dir, 'store', 'chunks'))).toEqual([])
  })

  it('refuses a manifest with a bad signature or from a non-admin, and stores nothing', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const store = await openStore(join(dir, 'store'))
    const forged = Uint8Array.from(pkg.envelope)
    forged[forged.byteLength - 5] = forged[forged.byteLength - 5]! ^ 1 // inside the signature, the last field
    await expectCode(store.putManifest(forged), 'ERR_MANIFEST_SIGNATURE')
    const stranger = await generateKeyPair('Ed25519')
    const { envelope } = await sealManifest(pkg.manifest, stranger)
    await expectCode(store.putManifest(envelope), 'ERR_NOT_ADMIN_SIGNER')
    expect(await readdir(join(dir, 'store', 'manifests'))).toEqual([])
    expect(store.list()).toEqual([])
    await expectCode(store.importPackage(join(dir, 'nowhere')), 'ERR_INVALID_PACKAGE')
  })

  it('refuses a second, different manifest for a name@version it holds', async () => {
    const dir = await tmp.make()
    const a = await packMatMul(dir, adminKey, { seed: 1 })
    const b = await packMatMul(dir, adminKey, { seed: 2 })
    expect(b.cid).not.toBe(a.cid)
    const store = await openStore(join(dir, 'store'))
    await store.putManifest(a.envelope)
    expect((await store.putManifest(a.envelope)).cid).toBe(a.cid)
    await expectCode(store.putManifest(b.envelope), 'ERR_MODEL_VERSION_CONFLICT')
  })

  it('drops a stored chunk that went bad on disk and reports it missing again', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const store = await openStore(join(dir, 'store'))
    await fetchInto(store, pkg)
    const cid = pkg.manifest.chunks[2]!
    await writeFile(join(dir, 'store', 'chunks', cid), 'bit rot')
    expect(await store.getChunk(cid)).toBeUndefined()
    expect(store.missingChunks(pkg.cid)).toEqual([cid])
    await expectCode(store.assemble(pkg.cid), 'ERR_CHUNKS_MISSING')
  })

  it('deletes at open the chunk files a power loss left empty or short, so they are fetched again', async () => {
    const dir = await tmp.make()
    const pkg = await packMatMul(dir, adminKey)
    const root = join(dir, 'store')
    const store = await openStore(root)
    await fetchInto(store, pkg, i => i < 3)
    const [c0, c1, c2] = pkg.manifest.chunks as [string, string, string]
    await store.close()
    // Written without fsync: after a power loss a new file can be empty (delayed allocation) or short.
    await writeFile(join(root, 'chunks', c0), new Uint8Array(0))
    const c1File = join(root, 'chunks', c1)
    await writeFile(c1File, (await readFile(c1File)).subarray(0, 1000))
    const again = await openStore(root)
    expect(await again.hasChunk(c0)).toBe(false)
    expect(await again.hasChunk(c1)).toBe(false)
    expect(await again.hasChunk(c2)).toBe(true)
    expect(await readdir(join(root, 'chunks'))).toEqual([c2])
    expect(again.missingChunks(pkg.cid)).toEqual(pkg.manifest.chunks.filter(c => c !== c2))
    await fetchInto(again, pkg)
    expect(again.missingChunks(pkg.cid)).toEqual([])
    await again.assemble(pkg.cid)
    expect(again.list().find(e => e.cid === pkg.cid)?.complete).toBe(true)
  })

  it('resolves models by CID, name@version and name, and reopens with the same state', async () => {
    const dir = await tmp.make()
    const v1 = await packMatMul(dir, adminKey, { version: '1.0.0' })
    const v2 = await packMatMul(dir, adminKey, { version: '1.2.0', seed: 2 })
    const root = join(dir, 'store')
    const store = await openStore(root)
    await store.importPackage(v1.dir)
    await store.putManifest(v2.envelope)
    expect(store.resolve('mm').cid).toBe(v2.cid) // nothing active: the highest version
    await store.setActive('mm', '1.0.0')
    expect(store.resolve('mm').cid).toBe(v1.cid)
    expect(store.resolve('mm@1.2.0').cid).toBe(v2.cid)
    expect(store.resolve(v2.cid).manifest.version).toBe('1.2.0')
    expect(() => store.resolve('mm@9.9.9')).toThrow(expect.objectContaining({ code: 'ERR_MODEL_NOT_FOUND' }))
    await expectCode(store.setActive('mm', '1.2.0'), 'ERR_MODEL_INCOMPLETE')
    await store.close()
    const again = await openStore(root)
    expect(again.list()).toEqual(store.list())
    expect(again.pointers('mm')).toEqual({ active: v1.cid, previous: undefined })
    expect(again.missingChunks(v2.cid)).toHaveLength(v2.manifest.chunks.length)
  })

  it('keeps the active and the previous version of a model and garbage-collects older ones', async () => {
    const dir = await tmp.make()
    const versions = ['1.0.0', '1.1.0', '1.2.0', '1.3.0']
    const pkgs = await Promise.all(versions.map(async (version, i) => await packMatMul(dir, adminKey, { version, seed: i + 1 })))
    const store = await openStore(join(dir, 'store'))
    for (const p of pkgs) await store.importPackage(p.dir)
    await store.setActive('mm', '1.0.0')
    await store.setActive('mm', '1.1.0')
    await store.setActive('mm', '1.2.0')
    const first = await store.gc()
    expect(first.removed).toEqual([pkgs[0]!.cid])
    expect(first.bytesFreed).toBeGreaterThan(pkgs[0]!.manifest.size)
    // 1.3.0 was never active but is newer than the active version: staged for a rollout, kept.
    expect(store.list().map(e => [e.version, e.active, e.previous])).toEqual([
      ['1.3.0', false, false], ['1.2.0', true, false], ['1.1.0', false, true]
    ])
    expect(await readdir(join(dir, 'store', 'models'))).toHaveLength(3)
    // Rollback to the previous version needs no download.
    await store.setActive('mm', '1.1.0')
    expect(store.pointers('mm')).toEqual({ active: pkgs[1]!.cid, previous: pkgs[2]!.cid })
    await store.setActive('mm', '1.3.0')
    const second = await store.gc()
    expect(second.removed).toEqual([pkgs[2]!.cid])
    expect(store.list().map(e => e.version)).toEqual(['1.3.0', '1.1.0'])
    expect((await readdir(join(dir, 'store', 'manifests'))).sort()).toEqual([pkgs[1]!.cid, pkgs[3]!.cid].sort())
  })

  it('keeps the chunks a retained version shares with a version it removes', async () => {
    const dir = await tmp.make()
    const old = await Promise.all(['1.0.0', '1.1.0', '1.2.0'].map(async (version, i) => await packMatMul(dir, adminKey, { version, seed: i + 1 })))
    // 1.3.0 has the very bytes of 1.0.0: every chunk it needs is served by 1.0.0's model file.
    const same = await packMatMul(dir, adminKey, { version: '1.3.0', seed: 1 })
    expect(same.manifest.chunks).toEqual(old[0]!.manifest.chunks)
    const store = await openStore(join(dir, 'store'))
    for (const p of old) {
      await store.importPackage(p.dir)
      await store.setActive('mm', p.manifest.version)
    }
    await store.putManifest(same.envelope)
    expect(store.missingChunks(same.cid)).toEqual([])
    expect((await store.gc()).removed).toEqual([old[0]!.cid])
    expect(store.missingChunks(same.cid)).toEqual([])
    const path = await store.assemble(same.cid)
    expect(Buffer.compare(await readFile(path), await readFile(same.files.model))).toBe(0)
  })
})
