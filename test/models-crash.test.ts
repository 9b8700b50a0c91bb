import { spawn } from 'node:child_process'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { InferenceSession } from 'onnxruntime-node'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { bytesMatchCid } from '../core/cid.js'
import { readPackageDir } from '../node/models/package-dir.js'
import { toOrtFeeds } from '../node/models/ort-feeds.js'
import { ModelStore } from '../node/models/store.js'
import { packMatMul, TempDirs, testFleet } from './models-helpers.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { PackResult } from '../node/models/pack.js'
import type { ChildProcess } from 'node:child_process'
import type { PrivateKey } from '@libp2p/interface'

const REPO = join(import.meta.dirname, '..')
const CHILD = join(import.meta.dirname, 'fixtures', 'models-crash-child.ts')

/** Starts the child and SIGKILLs it as soon as it prints a line matching `killAt`. */
async function runAndKill (args: string[], killAt: (line: string) => boolean, timeoutMs = 60_000): Promise<string[]> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  let stderr = ''
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
  const exited = new Promise<NodeJS.Signals | null>(resolve => child.on('exit', (_code, signal) => { resolve(signal) }))
  const killed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`child never printed the kill line; stdout: ${lines.join('|')}; stderr: ${stderr}`)) }, timeoutMs)
    let buffered = ''
    child.stdout!.on('data', (d: Buffer) => {
      buffered += d.toString()
      const parts = buffered.split('\n')
      buffered = parts.pop()!
      for (const line of parts) {
        lines.push(line)
        if (killAt(line)) {
          child.kill('SIGKILL')
          clearTimeout(timer)
          resolve()
        }
      }
    })
    void exited.then(() => { clearTimeout(timer); reject(new Error(`child exited before the kill line; stdout: ${lines.join('|')}; stderr: ${stderr}`)) })
  })
  await killed
  expect(await exited).toBe('SIGKILL')
  return lines
}

async function allFiles (root: string): Promise<string[]> {
  const out: string[] = []
  for (const dir of ['', 'chunks', 'manifests', 'models']) {
    for (const name of await readdir(join(root, dir))) out.push(join(dir, name))
  }
  return out
}

async function runsSample (path: string, pkg: PackResult): Promise<boolean> {
  const session = await InferenceSession.create(path)
  try {
    const out = await session.run(toOrtFeeds(pkg.manifest.sampleInput))
    return out.y != null
  } finally {
    await session.release()
  }
}

describe('a model store killed mid-write', () => {
  const tmp = new TempDirs()
  let fleet: FleetConfig
  let adminKey: PrivateKey
  const stores: ModelStore[] = []

  beforeAll(async () => {
    ({ fleet, adminKey } = await testFleet())
  })
  afterEach(async () => {
    await Promise.all(stores.splice(0).map(async s => { await s.close() }))
    await tmp.cleanup()
  })

  async function setUp (): Promise<{ dir: string, root: string, pkg: PackResult, fleetFile: string }> {
    const dir = await tmp.make()
    // 64 chunks of 64 KiB (fixed-size: the crash points are counted in chunks).
    const pkg = await packMatMul(dir, adminKey, { chunking: 'fixed', chunkBytes: 64 * 1024, weightsBytes: 64 * 64 * 1024 - 1024 })
    expect(pkg.manifest.chunks).toHaveLength(64)
    const fleetFile = join(dir, 'fleet.json')
    await writeFile(fleetFile, JSON.stringify(fleet))
    return { dir, root: join(dir, 'store'), pkg, fleetFile }
  }

  it('reopens with no loadable half-written model, and completes it from the chunks it has', async () => {
    const { root, pkg, fleetFile } = await setUp()
    await runAndKill(['assemble', root, pkg.dir, fleetFile], line => line === 'paused')
    // Killed with the model half written: a temp file, no model file.
    const models = await readdir(join(root, 'models'))
    expect(models).toHaveLength(1)
    expect(models[0]).toMatch(/^\..*\.tmp$/)

    const store = await ModelStore.open({ root, fleet })
    stores.push(store)
    expect((await allFiles(root)).filter(f => f.endsWith('.tmp'))).toEqual([])
    expect(store.modelPath(pkg.cid)).toBeUndefined()
    expect(store.list()).toMatchObject([{ cid: pkg.cid, complete: false, chunksHeld: 64 }])
    expect(store.missingChunks(pkg.cid)).toEqual([])
    await expect(store.setActive('mm', pkg.manifest.version)).rejects.toMatchObject({ code: 'ERR_MODEL_INCOMPLETE' })

    const path = await store.assemble(pkg.cid)
    expect(Buffer.compare(await readFile(path), await readFile(pkg.files.model))).toBe(0)
    expect(await runsSample(path, pkg)).toBe(true)
    await store.setActive('mm', pkg.manifest.version)
  })

  it('cleans temp files of interrupted chunk writes on open and resumes from the chunks it kept', async () => {
    const { root, pkg, fleetFile } = await setUp()
    await runAndKill(['chunks', root, pkg.dir, fleetFile], line => line === 'chunk 20')
    // Whatever write the kill interrupted, plus one left exactly as writeFileAtomic would leave it.
    const planted = join(root, 'chunks', `.${pkg.manifest.chunks[63]!}.0123456789ab.tmp`)
    await writeFile(planted, (await readFile(pkg.files.model)).subarray(0, 1000))

    const store = await ModelStore.open({ root, fleet })
    stores.push(store)
    expect((await allFiles(root)).filter(f => f.endsWith('.tmp'))).toEqual([])
    const held: string[] = []
    for (const cid of pkg.manifest.chunks) {
      if (!await store.hasChunk(cid)) continue
      held.push(cid)
      expect(bytesMatchCid(cid, (await store.getChunk(cid))!)).toBe(true)
    }
    expect(held.length).toBeGreaterThanOrEqual(21)
    expect(store.missingChunks(pkg.cid)).toEqual(pkg.manifest.chunks.filter(c => !held.includes(c)))

    const source = await readPackageDir(pkg.dir)
    for (const cid of store.missingChunks(pkg.cid)) {
      await store.putChunk(cid, await source.readChunk(pkg.manifest.chunks.indexOf(cid)))
    }
    const path = await store.assemble(pkg.cid)
    expect(await runsSample(path, pkg)).toBe(true)
  })
})
