import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runScenarioFile } from './run.js'

describe('scenario library at a size CI can afford', () => {
  it('large-fleet-10k at 500 nodes completes, every node on 2.0.0, no invariant violated', async () => {
    const out = await mkdtemp(join(tmpdir(), 'tutti-sim-'))
    try {
      const report = await runScenarioFile(new URL('./scenarios/large-fleet-10k.yaml', import.meta.url).pathname, { outDir: out, nodes: 500 })
      expect(report.violations, `seed ${report.seed}`).toEqual([])
      expect(report.phase).toBe('Completed')
      const last = new Map<number, string>()
      for (const line of (await readFile(join(out, 'timeline.jsonl'), 'utf8')).trim().split('\n')) {
        const e = JSON.parse(line) as { type: string, node: number, version: string }
        if (e.type === 'running') last.set(e.node, e.version)
      }
      expect(last.size).toBe(500)
      expect([...last.values()].every(v => v === '2.0.0')).toBe(true)
    } finally {
      await rm(out, { recursive: true, force: true })
    }
  })
})
