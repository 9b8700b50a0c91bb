/**
 * Rollouts as an operator drives them: real `tutti node start` processes over TCP and the real
 * `tutti` CLI. A bad manifest is refused with the field path (exit 2) and nothing is published; a
 * good one is applied on one peer, followed with `rollout status --watch` from another, paused,
 * resumed past an indefinite pause, listed, described and deleted.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initFleet } from '../node/fleet/fleet.js'
import { aliveCount, loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { linearClassifier } from '../node/inference/testing/models.js'
import { waitFor } from '../sim/local-mesh.js'
import type { NodeProcess } from '../cli/process-nodes.js'

describe('rollouts from the CLI, across processes', () => {
  let root: string
  let env: Record<string, string>
  const nodes: NodeProcess[] = []

  const tutti = async (args: string[], peer = 0): Promise<{ code: number | null, stdout: string, stderr: string }> =>
    await runTutti(args, { env: { ...env, TUTTI_PEER: nodes[peer]!.addr! }, timeoutMs: 120_000 })

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tutti-rollout-cli-'))
    const fleet = await initFleet({ dir: join(root, 'fleet') })
    env = { TUTTI_KEY: fleet.adminKeyFile }
    for (const [i, battery] of [80, 20, 90].entries()) {
      const dir = join(root, `n${i}`)
      const extra = ['--prop', `battery=${battery}`, ...(i > 0 ? ['--bootstrap', nodes[0]!.addr!] : [])]
      nodes.push(await startNodeProcess(`n${i}`, dir, loopbackNodeArgs(dir, fleet.fleetFile, { heartbeatMs: 300, extra })))
    }
    await waitFor('3 processes to see each other', async () => (await Promise.all(nodes.map(aliveCount))).every(c => c === 3), 60_000, 200)
    const file = join(root, 'det.onnx')
    await writeFile(file, linearClassifier({ seed: 1 }).bytes)
    const packed = await tutti(['model', 'pack', file, '--name', 'det', '--version', '1.0.0', '--key', fleet.adminKeyFile, '--out', join(root, 'pkg')])
    expect(packed.stderr).toBe('')
    const pushed = await tutti(['model', 'push', join(root, 'pkg')])
    expect(pushed.code).toBe(0)
  }, 180_000)

  afterAll(async () => {
    await Promise.all(nodes.map(async n => { await stopChild(n.child) }))
    await rm(root, { recursive: true, force: true })
  })

  const manifest = async (name: string, body: string): Promise<string> => {
    const file = join(root, `${name}.yaml`)
    await writeFile(file, `apiVersion: tutti.dev/v1\nkind: Rollout\nmetadata: { name: ${name} }\nspec:\n  model: { name: det, version: 1.0.0 }\n${body}`)
    return file
  }

  it('refuses a bad manifest with the field path and exit 2, publishing nothing', async () => {
    const bad = await manifest('bad', '  selector: {}\n  strategy:\n    steps: [ {setPercent: 5}, {setPercent: 250} ]\n')
    const r = await tutti(['apply', '-f', bad])
    expect(r.code).toBe(2)
    expect(r.stderr).toMatch(/spec\.strategy\.steps\[1\]\.setPercent/)
    const list = await tutti(['get', 'rollouts', '-o', 'json'], 1)
    expect(list.code).toBe(0)
    expect((JSON.parse(list.stdout) as { rollouts: unknown[] }).rollouts).toEqual([])
  })

  it('applies on one peer, is followed from another, pauses, resumes past a pause and deletes', async () => {
    const file = await manifest('det-rollout', `  selector:
    matchExpressions: [ { key: battery, operator: Gt, values: ["50"] } ]
  strategy:
    steps: [ {setPercent: 50}, {pause: {}}, {setPercent: 100} ]
`)
    const dry = await tutti(['apply', '-f', file, '--dry-run'], 1)
    expect(dry.code).toBe(0)
    expect(dry.stdout).toMatch(/matching nodes now: 2/)
    expect(dry.stdout).not.toMatch(/Warning/)
    // A bake over fewer nodes than a criterion's minNodes can never conclude: the plan says so.
    const short = await manifest('det-short', '  selector: {}\n  strategy:\n    steps: [ {setPercent: 1}, {pause: 1m} ]\n    abort: [ { failureType: ALL, thresholdPercentage: 5, minNodes: 5 } ]\n')
    const warned = await tutti(['apply', '-f', short, '--dry-run'], 1)
    expect(warned.code).toBe(0)
    expect(warned.stdout).toMatch(/Warning: step 2 \(pause 1m\) bakes 1 of the 3 node\(s\) matching now, but criterion 1 needs 5: .* until `tutti rollout resume`/)
    const applied = await tutti(['apply', '-f', file], 1)
    expect(applied.stderr).toBe('')
    expect(applied.stdout).toMatch(/rollout\.tutti\.dev\/det-rollout created/)
    const again = await tutti(['apply', '-f', file], 2)
    expect(again.stdout).toMatch(/unchanged/)

    await waitFor('the rollout at its indefinite pause', async () => {
      const r = await tutti(['get', 'rollouts', '-o', 'json'], 2)
      const ro = (JSON.parse(r.stdout) as { rollouts: Array<{ progress?: { step: number } }> }).rollouts[0]
      return ro?.progress?.step === 1
    }, 60_000, 500)
    const paused = await tutti(['rollout', 'pause', 'det-rollout'])
    expect(paused.stdout).toMatch(/paused/)
    const resumed = await tutti(['rollout', 'resume', 'det-rollout'], 2)
    expect(resumed.stdout).toMatch(/resumed/)
    const watched = await tutti(['rollout', 'status', 'det-rollout', '--watch'], 0)
    expect(watched.stderr).toBe('')
    expect(watched.code).toBe(0)
    expect(watched.stdout).toMatch(/det-rollout: Completed/)
    expect(watched.stdout).toMatch(/2\/2 active/)

    const described = await tutti(['describe', 'rollout', 'det-rollout'], 1)
    expect(described.code).toBe(0)
    expect(described.stdout).toMatch(/Selector:\s+battery>50/)
    const yaml = await tutti(['get', 'rollouts', '-o', 'yaml'], 1)
    expect(yaml.stdout).toMatch(/name: det-rollout/)
    const history = await tutti(['rollout', 'history', 'det-rollout'], 0)
    expect(history.stdout).toMatch(/phase Completed/)

    const deleted = await tutti(['delete', 'rollout', 'det-rollout'], 2)
    expect(deleted.code).toBe(0)
    await waitFor('the deletion on another peer', async () => /det-rollout\s+det@1\.0\.0\s+Deleted/.test((await tutti(['get', 'rollouts'], 1)).stdout), 30_000, 300)
  })
})
