/**
 * One codec's fuzz run, in its own process so bench/fuzz.ts can tell a hang from slow progress:
 * `node --import tsx bench/lib/fuzz-worker.ts CODEC INPUTS SEED`. Prints one JSON line of progress
 * per batch, then a final one with `done: true`.
 */
import fc from 'fast-check'
import { fuzzTargets, runOne } from './fuzz-targets.js'
import type { FuzzOutcome } from './fuzz-targets.js'

const BATCH = 5000
/** An input slower than this is counted as slow (a hang is a stalled process, judged by the parent). */
const SLOW_MS = 100

const [name, inputsArg, seedArg] = process.argv.slice(2)
const inputs = Number(inputsArg)
const seed = Number(seedArg)
const target = (await fuzzTargets()).find(t => t.name === name)
if (target == null || !(inputs > 0) || !Number.isSafeInteger(seed)) {
  console.error(`usage: fuzz-worker CODEC INPUTS SEED (codec ${name ?? ''} unknown or bad numbers)`)
  process.exit(2)
}

const outcome: FuzzOutcome & { inputs: number, slow: number, maxMs: number } = { inputs: 0, ok: 0, rejected: 0, crashes: 0, slow: 0, maxMs: 0 }
const started = performance.now()
for (let batch = 0; outcome.inputs < inputs; batch++) {
  const n = Math.min(BATCH, inputs - outcome.inputs)
  for (const input of fc.sample(target.inputs, { numRuns: n, seed: seed + batch })) {
    const t0 = performance.now()
    await runOne(target, input, outcome)
    const ms = performance.now() - t0
    if (ms > SLOW_MS) outcome.slow++
    if (ms > outcome.maxMs) outcome.maxMs = ms
    outcome.inputs++
  }
  process.stdout.write(JSON.stringify({ ...outcome, elapsedMs: performance.now() - started }) + '\n')
}
process.stdout.write(JSON.stringify({ ...outcome, elapsedMs: performance.now() - started, done: true }) + '\n')
