/**
 * Fuzzes every decoder and parser of untrusted input (bench/lib/fuzz-targets.ts) with fast-check:
 * random and mutated-valid inputs, each codec in its own process. Counts per codec: inputs,
 * accepted, refused with a typed error, crashes (any other exception), slow inputs (> 100 ms) and
 * hangs (a process that reports no progress for --hang-ms; it is killed).
 *
 *   npm run bench -- fuzz [--inputs 1000000] [--codec NAME]... [--seed 1] [--parallel 1] [--hang-ms 60000]
 *
 * Results: bench/results/fuzz.json. Exits 1 when any codec crashed or hung.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { machine, writeResults } from './lib/stats.js'

const CODECS = ['heartbeat', 'chunk-request', 'chunk-response', 'admin-request', 'admin-response', 'envelope', 'policy-envelope', 'policy-document', 'rollout-yaml', 'oip-json']

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '1000000' },
    codec: { type: 'string', multiple: true },
    seed: { type: 'string', default: '1' },
    parallel: { type: 'string', default: '1' },
    'hang-ms': { type: 'string', default: '60000' }
  }
})
const inputs = Number(values.inputs)
const seed = Number(values.seed)
const parallel = Number(values.parallel)
const hangMs = Number(values['hang-ms'])
const codecs = values.codec ?? CODECS
for (const c of codecs) {
  if (!CODECS.includes(c)) {
    console.error(`unknown codec "${c}"; codecs: ${CODECS.join(', ')}`)
    process.exit(2)
  }
}
if (!(inputs > 0) || !Number.isSafeInteger(seed) || !(parallel >= 1) || !(hangMs > 0)) {
  console.error('--inputs, --seed, --parallel and --hang-ms must be positive numbers')
  process.exit(2)
}

interface Result {
  codec: string
  inputs: number
  ok: number
  rejected: number
  crashes: number
  slow: number
  maxMs: number
  hangs: number
  elapsedMs: number
  firstCrash?: { input: string, error: string }
}

async function fuzzCodec (codec: string): Promise<Result> {
  const worker = join(import.meta.dirname, 'lib', 'fuzz-worker.ts')
  const child = spawn(process.execPath, ['--import', 'tsx', worker, codec, String(inputs), String(seed)], { stdio: ['ignore', 'pipe', 'inherit'] })
  let last: Result = { codec, inputs: 0, ok: 0, rejected: 0, crashes: 0, slow: 0, maxMs: 0, hangs: 0, elapsedMs: 0 }
  let watchdog = setTimeout(() => { last.hangs++; child.kill('SIGKILL') }, hangMs)
  createInterface({ input: child.stdout }).on('line', line => {
    last = { ...last, ...JSON.parse(line) as Partial<Result>, codec, hangs: last.hangs }
    watchdog.refresh()
    process.stderr.write(`\r${codec}: ${last.inputs} inputs, ${last.crashes} crashes        `)
  })
  const code = await new Promise<number | null>(resolve => child.on('exit', c => { resolve(c) }))
  clearTimeout(watchdog)
  watchdog = undefined as unknown as NodeJS.Timeout
  process.stderr.write('\n')
  if (code !== 0 && last.hangs === 0) last.crashes++ // the process itself died
  return last
}

const results: Result[] = []
const queue = [...codecs]
await Promise.all(Array.from({ length: Math.min(parallel, queue.length) }, async () => {
  for (let c = queue.shift(); c != null; c = queue.shift()) results.push(await fuzzCodec(c))
}))
results.sort((a, b) => codecs.indexOf(a.codec) - codecs.indexOf(b.codec))

console.log(`\nfuzz: ${inputs} inputs per codec, seed ${seed}\n`)
console.log('| codec | inputs | accepted | refused (typed) | crashes | hangs | slow (>100 ms) | slowest ms | inputs/s |')
console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|')
for (const r of results) {
  console.log(`| ${r.codec} | ${r.inputs} | ${r.ok} | ${r.rejected} | ${r.crashes} | ${r.hangs} | ${r.slow} | ${r.maxMs.toFixed(1)} | ${Math.round(r.inputs / Math.max(1e-3, r.elapsedMs / 1000))} |`)
}
for (const r of results) {
  if (r.firstCrash != null) console.log(`\n${r.codec}: first crash on ${r.firstCrash.input}\n${r.firstCrash.error}`)
}
console.log(`\nresults: ${await writeResults('fuzz', { inputs, seed, machine: machine(), results })}`)
process.exit(results.some(r => r.crashes > 0 || r.hangs > 0 || r.inputs < inputs) ? 1 : 0)
