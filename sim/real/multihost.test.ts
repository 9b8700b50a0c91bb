/**
 * The multi-host fleet's parts that need no root: the privilege check (with an injected probe) and
 * the loss split. The fleet on the real kernel is in test/sim-multihost.test.ts.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { createFleet } from '../../node/fleet/fleet.js'
import { createMultihostFleet, multihostUnavailable, perHopLoss } from './multihost.js'
import { runScenarioFile } from '../run.js'
import type { LabProbe } from '../netns/lab.js'

const probe = (uid: number, missing: string[] = []): LabProbe => ({ platform: 'linux', uid: () => uid, runs: cmd => !missing.includes(cmd) })

describe('multihost privilege check', () => {
  it('refuses to start as a user other than root, saying it needs root', async () => {
    const { fleet } = await createFleet()
    const mh = createMultihostFleet({ probe: probe(1000), handleSignals: false })
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

  it('runScenarioFile refuses a multihost run before it builds anything', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tutti-mh-run-'))
    try {
      const scenario = new URL('../scenarios/multihost-coordinator-crash.yaml', import.meta.url).pathname
      await expect(runScenarioFile(scenario, { outDir: join(out, 'run'), probe: probe(1000) })).rejects.toMatchObject({ code: 'ERR_SIM_NEEDS_ROOT' })
      await expect(runScenarioFile(scenario, { outDir: join(out, 'run'), probe: probe(0, ['nft']) })).rejects.toThrow(/`nft` command/)
      await expect(readFile(join(out, 'run', 'summary.md'))).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await rm(out, { recursive: true, force: true })
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
