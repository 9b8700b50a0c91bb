import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { runScenarioFile } from './run.js'

const SCENARIO = new URL('./scenarios/bad-model-rollback.yaml', import.meta.url).pathname
const dirs: string[] = []
afterEach(async () => { await Promise.all(dirs.splice(0).map(async d => { await rm(d, { recursive: true, force: true }) })) })
async function tmp (): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'tutti-sim-'))
  dirs.push(d)
  return d
}

describe('sim run', () => {
  it('writes the timeline and the summary, and the bad model ends RolledBack with no violation', async () => {
    const out = await tmp()
    const report = await runScenarioFile(SCENARIO, { outDir: out, nodes: 300 })
    for (const svg of ['states.svg', 'reach.svg', 'bytes.svg', 'uploads.svg', 'heartbeats.svg']) expect(await readFile(join(out, svg), 'utf8')).toMatch(/^<svg/)
    expect(await readFile(join(out, 'summary.md'), 'utf8')).toContain('(states.svg)')
    expect(report.phase).toBe('RolledBack')
    expect(report.violations).toEqual([])
    const lines = (await readFile(join(out, 'timeline.jsonl'), 'utf8')).trim().split('\n').map(l => JSON.parse(l) as { type: string })
    expect(lines.some(e => e.type === 'commandAccepted')).toBe(true)
    expect(await readFile(join(out, 'summary.md'), 'utf8')).toContain('outcome: RolledBack')
  })

  it('is deterministic from the seed', async () => {
    const [a, b] = [await tmp(), await tmp()]
    await runScenarioFile(SCENARIO, { outDir: a, seed: 11, nodes: 100, plots: false })
    await runScenarioFile(SCENARIO, { outDir: b, seed: 11, nodes: 100, plots: false })
    expect(await readFile(join(a, 'timeline.jsonl'), 'utf8')).toBe(await readFile(join(b, 'timeline.jsonl'), 'utf8'))
  })

  it('refuses multihost without root with ERR_SIM_NEEDS_ROOT, from the file or the option (the check is injected)', async () => {
    const dir = await tmp()
    const file = join(dir, 'mh.yaml')
    const probe = { platform: 'linux', uid: () => 1000, runs: () => true }
    await writeFile(file, (await readFile(SCENARIO, 'utf8')).replace('mode: des', 'mode: multihost'))
    await expect(runScenarioFile(file, { outDir: dir, probe })).rejects.toMatchObject({ code: 'ERR_SIM_NEEDS_ROOT' })
    await expect(runScenarioFile(SCENARIO, { outDir: dir, mode: 'multihost', probe })).rejects.toMatchObject({ code: 'ERR_SIM_NEEDS_ROOT' })
  })

  it('reports an expected outcome that was not reached', async () => {
    const dir = await tmp()
    const file = join(dir, 'good.yaml')
    await writeFile(file, (await readFile(SCENARIO, 'utf8')).replace('behaviour: nan', 'behaviour: good'))
    const report = await runScenarioFile(file, { outDir: dir, nodes: 100, plots: false })
    expect(report.phase).toBe('Completed')
    expect(report.violations.map(v => v.message)).toContain('expected detector-v3 to end RolledBack, it ended Completed')
  })
})
