/**
 * Ctrl-C on `tutti model pull`: a real CLI process receives SIGINT while it follows a slow pull
 * on a node. It stops following and says the download goes on there (exit 130), and the node
 * keeps downloading; `--detach` starts (or joins) the job and returns at once.
 */
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { silentLogger } from '../core/logger.js'
import { TuttiNode } from '../node/tutti-node.js'
import { runTutti } from '../cli/process-nodes.js'
import { waitFor } from '../sim/local-mesh.js'
import { packMatMul, TempDirs } from './models-helpers.js'

const BIN = fileURLToPath(new URL('../bin/tutti.js', import.meta.url))

describe('model pull and Ctrl-C', () => {
  const dirs = new TempDirs()
  const nodes: TuttiNode[] = []
  let keyFile: string
  let cid: string
  let puller: TuttiNode
  let peer: string

  beforeAll(async () => {
    const root = await dirs.make()
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    keyFile = fleet.adminKeyFile
    const start = async (name: string, extra: Partial<Parameters<typeof TuttiNode.create>[0]>): Promise<TuttiNode> => {
      const node = await TuttiNode.create({ fleet: fleet.fleet, dataDir: join(root, name), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], api: false, heartbeat: { baseIntervalMs: 300 }, ...extra }, { logger: silentLogger })
      await node.start()
      nodes.push(node)
      return node
    }
    const seed = await start('seed', {})
    // 1 MiB at 32 KiB/s: half a minute, so the pull is still running when the CLI is interrupted.
    const pkg = await packMatMul(root, fleet.adminKey, { name: 'big', version: '1.0.0', weightsBytes: 1024 * 1024, chunkBytes: 16 * 1024 })
    cid = pkg.cid
    await seed.models!.store.importPackage(pkg.dir)
    puller = await start('puller', { bootstrap: [seed.addresses()[0]!], models: { downloadBytesPerSec: 32 * 1024 } })
    peer = puller.addresses().find(a => a.includes('/127.0.0.1/'))!
    await waitFor('the puller to connect to the seed', () => puller.libp2p.getConnections().length > 0, 30_000)
  }, 120_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await n.stop() }))
    await dirs.cleanup()
  })

  it('stops following on SIGINT, says the pull goes on, and the node keeps downloading', async () => {
    const child = spawn(process.execPath, [BIN, 'model', 'pull', cid, '--peer', peer, '--key', keyFile], { stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
    const exited = new Promise<number | null>(resolve => child.on('exit', code => { resolve(code) }))
    // The first progress line is drawn after the CLI started following (its handler is set).
    await waitFor('the CLI to draw progress', () => stdout.includes(`pull ${cid} [`), 60_000)
    child.kill('SIGINT')
    expect(await exited).toBe(130)
    const id = /\(job ([0-9a-f]+)\)/.exec(stderr)?.[1]
    expect(stderr).toMatch(/stopped following: the pull of .* goes on on .*--detach/)
    expect(id).toBeDefined()

    const job = puller.models!.job(id!)!
    expect(job.state).toBe('running')
    const before = job.progress?.bytesDone ?? 0
    await waitFor('the node to go on downloading', () => (puller.models!.job(id!)!.progress?.bytesDone ?? 0) > before, 30_000)

    // --detach joins the running job and returns at once.
    const detached = await runTutti(['model', 'pull', cid, '--detach', '--peer', peer, '--key', keyFile])
    expect(detached.stderr).toBe('')
    expect(detached.code).toBe(0)
    expect(detached.stdout).toContain(`(job ${id!}, ${cid})`)
    expect(puller.models!.job(id!)!.state).toBe('running')
  }, 120_000)
})
