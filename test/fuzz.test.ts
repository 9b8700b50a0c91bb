/**
 * A short fuzz run of every decoder and parser of untrusted input (bench/lib/fuzz-targets.ts):
 * a few thousand random and mutated inputs each, seeded. Every input must be accepted or refused
 * with a typed error; the bench (`npm run bench -- fuzz`) runs 10^6 and more.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { fuzzTargets, runOne } from '../bench/lib/fuzz-targets.js'
import type { FuzzOutcome, FuzzTarget } from '../bench/lib/fuzz-targets.js'

const RUNS = 2000
const SEED = 20261201

describe('fuzzing the decoders of untrusted input', () => {
  let targets: FuzzTarget[] = []
  beforeAll(async () => { targets = await fuzzTargets() })

  const names = ['heartbeat', 'chunk-request', 'chunk-response', 'admin-request', 'admin-response', 'envelope', 'policy-envelope', 'policy-document', 'rollout-yaml', 'oip-json']
  it('covers every codec', () => {
    expect(targets.map(t => t.name)).toEqual(names)
  })

  for (const name of names) {
    it(`${name}: ${RUNS} inputs, 0 crashes, some accepted and some refused`, async () => {
      const target = targets.find(t => t.name === name)!
      const outcome: FuzzOutcome = { ok: 0, rejected: 0, crashes: 0 }
      for (const input of fc.sample(target.inputs, { numRuns: RUNS, seed: SEED })) await runOne(target, input, outcome)
      expect(outcome.firstCrash).toBeUndefined()
      expect(outcome.crashes).toBe(0)
      expect(outcome.ok + outcome.rejected).toBe(RUNS)
      expect(outcome.rejected).toBeGreaterThan(0)
      expect(outcome.ok).toBeGreaterThan(0)
    }, 120_000)
  }
})
