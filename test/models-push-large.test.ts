/**
 * `tutti model push` of a package whose manifest envelope is larger than the admin protocol's
 * default request limit (64 KiB, ~48 KiB of envelope once base64): the push used to fail with
 * "request could not be read". Real CLI against a real `tutti node start` over TCP.
 */
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { PACKAGE_ENVELOPE_FILE } from '../node/models/constants.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import type { NodeProcess } from '../cli/process-nodes.js'

describe('model push of a large manifest', () => {
  let root: string | undefined
  let node: NodeProcess | undefined

  afterAll(async () => {
    if (node != null) await stopChild(node.child)
    if (root != null) await rm(root, { recursive: true, force: true })
  })

  it('pushes a package whose manifest envelope is over 48 KiB', async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-push-large-'))
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    const tutti = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runTutti(args, { env: { TUTTI_KEY: fleet.adminKeyFile } })
    const model = join(root, 'mm.onnx')
    // 6 MiB of weights in 4 KiB chunks: ~1500 chunk entries in the manifest.
    await writeFile(model, buildMatMulModel({ inputSize: 64, weightsBytes: 6 * 1024 * 1024, seed: 7 }))
    const pkg = join(root, 'pkg')
    const packed = await tutti('model', 'pack', model, '--name', 'big', '--version', '1.0.0', '--key', fleet.adminKeyFile, '--out', pkg, '--chunk-size', '4Ki')
    expect(packed.stderr).toBe('')
    expect(packed.code).toBe(0)
    const envelopeBytes = (await stat(join(pkg, PACKAGE_ENVELOPE_FILE))).size
    expect(envelopeBytes).toBeGreaterThan(48 * 1024)

    const dir = join(root, 'node')
    node = await startNodeProcess('node', dir, loopbackNodeArgs(dir, fleet.fleetFile))
    const pushed = await tutti('model', 'push', pkg, '--peer', node.addr!)
    if (pushed.code !== 0) console.log((await import('node:fs')).readFileSync(join(dir, 'node.log'), 'utf8').split('\n').filter(l => /admin|warn|error/i.test(l)).slice(-10).join('\n'))
    expect(pushed.stderr).toBe('')
    expect(pushed.code).toBe(0)
    expect(pushed.stdout).toContain('pushed big@1.0.0')
  }, 180_000)
})
