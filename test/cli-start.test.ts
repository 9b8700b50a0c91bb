/**
 * What a `tutti` command loads before it does anything (docs/CLI.md, "Start-up"): the real
 * bin/tutti.js as a child process, with a preload that records every module it resolves. Module
 * lists, not timings: bench/cli.ts measures the time.
 */
import { execFileSync, spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'

const REPO = join(import.meta.dirname, '..')
const BIN = join(REPO, 'bin', 'tutti.js')
const TRACE = join(import.meta.dirname, 'fixtures', 'trace-loads.mjs')

let root: string
let adminKey: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tutti-start-'))
  adminKey = (await initFleet({ dir: join(root, 'fleet') })).adminKeyFile
})
afterAll(async () => { await rm(root, { recursive: true, force: true }) })

let runs = 0
async function traced (args: string[], options: { node?: string, env?: Record<string, string> } = {}): Promise<{ code: number | null, stdout: string, stderr: string, loaded: string[] }> {
  const file = join(root, `trace-${runs++}.txt`)
  const child = spawn(options.node ?? process.execPath, ['--import', TRACE, BIN, ...args], {
    cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...options.env, TUTTI_TRACE_FILE: file }
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  const loaded = existsSync(file) ? (await readFile(file, 'utf8')).split('\n').filter(u => u !== '') : []
  return { code, stdout, stderr, loaded }
}

/** The packages among the loaded URLs: `libp2p`, `@libp2p/tcp`. */
function packages (urls: string[]): string[] {
  return [...new Set(urls.flatMap(u => /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1] ?? []))].sort()
}

describe('tutti start-up', () => {
  it('prints its version, help and usage errors without loading libp2p, onnxruntime, zod or yaml', async () => {
    for (const args of [['version'], ['--help'], ['model', 'pack', '--help'], ['get', 'nodes', '--bogus']]) {
      const res = await traced(args)
      expect({ args, code: res.code }).toEqual({ args, code: args.includes('--bogus') ? 2 : 0 })
      expect({ args, packages: packages(res.loaded) }).toEqual({ args, packages: ['commander'] })
    }
  })

  it('dials with the dialer alone: no gossipsub, DHT, mDNS or onnxruntime for get nodes', async () => {
    const res = await traced(['get', 'nodes', '--peer', '/ip4/127.0.0.1/tcp/1', '--key', adminKey])
    expect(res.stderr).toMatch(/connection refused/)
    const loaded = packages(res.loaded)
    expect(loaded).toEqual(expect.arrayContaining(['libp2p', '@libp2p/tcp', '@libp2p/noise', '@libp2p/yamux']))
    for (const heavy of ['@libp2p/gossipsub', '@libp2p/kad-dht', '@libp2p/mdns', '@libp2p/identify', 'onnxruntime-node', 'classic-level']) {
      expect(loaded).not.toContain(heavy)
    }
  })

  it('on a Node.js older than 22.15, says so and what to run instead, with exit 2, before loading anything', async () => {
    const res = await traced(['get', 'nodes'], { env: { TUTTI_FAKE_NODE_VERSION: '20.20.2' } })
    expect(res.code).toBe(2)
    expect(res.stderr).toMatch(/^error: tutti needs Node\.js 22\.15 or newer \(24 recommended\); this is Node\.js v20\.20\.2 \(/)
    expect(res.stderr).toMatch(/npx tutti get nodes/)
    expect(res.loaded.filter(u => u.endsWith('.ts') || u.includes('/node_modules/'))).toEqual([])
  })

  // The real thing, where the machine has an old Node besides the one in node_modules.
  const old = ['/usr/bin/node', '/usr/local/bin/node'].find(node => {
    try {
      const [major = 0, minor = 0] = execFileSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).trim().split('.').map(Number)
      return major < 22 || (major === 22 && minor < 15)
    } catch {
      return false
    }
  })
  it.skipIf(old == null)(`with the system's old Node (${old ?? 'none here'}), get nodes names the version and exits 2`, async () => {
    const child = spawn(old!, [BIN, 'get', 'nodes'], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const code = await new Promise<number | null>(resolve => child.on('close', resolve))
    expect(code).toBe(2)
    expect(stderr).toMatch(/^error: tutti needs Node\.js 22\.15 or newer/)
    expect(stderr).not.toMatch(/withResolvers|\n\s+at /)
  })
})

describe('install', () => {
  it('skips onnxruntime-node\'s CUDA download through allowScripts, with no npm config key npm warns about', async () => {
    const pkg = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8')) as { allowScripts?: Record<string, boolean> }
    expect(pkg.allowScripts?.['onnxruntime-node']).toBe(false)
    // The dependencies whose install scripts Tutti needs (the node binary, level's prebuilds).
    expect(pkg.allowScripts).toMatchObject({ node: true, 'classic-level': true })
    const npmrc = existsSync(join(REPO, '.npmrc')) ? await readFile(join(REPO, '.npmrc'), 'utf8') : ''
    expect(npmrc).not.toMatch(/onnxruntime/)
  })
})
