/**
 * The multi-host fleet's parts that need no root: the privilege check (with an injected probe),
 * the loss split, and the scenario's real models. The fleet on the real kernel is in
 * test/sim-multihost.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createFleet } from '../../node/fleet/fleet.js'
import { openDirect } from '../../node/inference/testing/direct.js'
import { createMultihostFleet, multihostUnavailable, perHopLoss } from './multihost.js'
import { FEATURES, UnsupportedBehaviourError, buildVersionModel, packScenarioModels } from './models.js'
import type { LabProbe } from '../netns/lab.js'

const probe = (uid: number, missing: string[] = []): LabProbe => ({ platform: 'linux', uid: () => uid, runs: cmd => !missing.includes(cmd) })

describe('multihost privilege check', () => {
  it('refuses to start as a user other than root, saying it needs root', async () => {
    const { fleet, adminKey } = await createFleet()
    const mh = createMultihostFleet({ adminKey, probe: probe(1000), handleSignals: false })
    const dir = await mkdtemp(join(tmpdir(), 'tutti-mh-'))
    try {
      await expect(mh.start({ fleet, nodes: [], links: { latencyMs: 0, jitterMs: 0, bytesPerSec: 1e6, loss: 0 }, originBytesPerSec: 1e6, heartbeatMs: 500, timeScale: 1, workDir: dir }))
        .rejects.toMatchObject({ code: 'ERR_SIM_NEEDS_ROOT', message: expect.stringMatching(/need root/) })
      // Nothing was created: the refusal comes before the fleet writes its files.
      await expect(readFile(join(dir, 'fleet.json'))).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('names the missing tool when root lacks one', () => {
    expect(multihostUnavailable(probe(0, ['nft']))).toMatch(/`nft` command \(nftables\)/)
    expect(multihostUnavailable(probe(0, ['ip']))).toMatch(/`ip` command \(iproute2\)/)
    expect(multihostUnavailable({ ...probe(0), platform: 'darwin' })).toMatch(/Linux/)
    expect(multihostUnavailable(probe(0))).toBeUndefined()
  })
})

describe('perHopLoss', () => {
  it('splits a link loss over the two nodes a packet crosses', () => {
    for (const p of [0, 0.001, 0.2, 0.5]) expect(1 - (1 - perHopLoss(p)) ** 2).toBeCloseTo(p, 12)
    expect(perHopLoss(1)).toBe(1)
  })
})

describe('scenario models', () => {
  const dirs: string[] = []
  afterAll(async () => { for (const d of dirs) await rm(d, { recursive: true, force: true }) })

  it('are at least the size asked for and pack as `tutti model pack` packs them', async () => {
    const { adminKey } = await createFleet()
    const dir = await mkdtemp(join(tmpdir(), 'tutti-mh-models-'))
    dirs.push(dir)
    const packed = await packScenarioModels([{ name: 'det', versions: [{ version: '1.0.0', sizeBytes: 300_000, behaviour: 'good' }, { version: '2.0.0', sizeBytes: 10, behaviour: 'nan' }] }], dir, adminKey)
    expect(packed.map(p => [p.version, p.behaviour])).toEqual([['1.0.0', 'good'], ['2.0.0', 'nan']])
    expect(packed[0]!.sizeBytes).toBeGreaterThanOrEqual(300_000)
    expect(packed[0]!.sizeBytes).toBeLessThan(300_000 + 4096)
    expect(new Set(packed.map(p => p.cid)).size).toBe(2)
  })

  it('a nan version answers NaN to negative inputs and a good one does not', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tutti-mh-nan-'))
    dirs.push(dir)
    const outputs = async (behaviour: 'good' | 'nan'): Promise<number[]> => {
      const path = join(dir, `${behaviour}.onnx`)
      await writeFile(path, buildVersionModel(behaviour, 0, 3))
      const session = await openDirect(path)
      try {
        const data = Float32Array.from({ length: FEATURES }, (_, i) => i % 2 === 0 ? -1 : 1)
        const out = await session.run({ x: { type: 'float32', dims: [1, FEATURES], data } })
        return Object.values(out).flatMap(t => [...(t.data as Float32Array)])
      } finally {
        await session.release()
      }
    }
    expect((await outputs('good')).every(Number.isFinite)).toBe(true)
    expect((await outputs('nan')).some(Number.isNaN)).toBe(true)
  })

  it('refuses a failing behaviour, saying why', () => {
    expect(() => buildVersionModel('failing', 100, 1)).toThrow(UnsupportedBehaviourError)
  })
})
