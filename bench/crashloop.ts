/**
 * Crash loops: kill -9 a real `tutti node start` process at random moments of a model pull (and
 * its assembly), an activation, and a rollout apply (policy writes, and the activations the
 * rollout drives), restart it on the same data dir, and check that nothing on disk is corrupt:
 *
 * - the model store opens (it re-verifies what is on disk) and every chunk file matches its CID;
 * - serving.json and rollouts.json, when present, are JSON;
 * - every policy file opens (signature, admin signer, spec);
 * - the node starts again (node.json written, the HTTP API answers).
 *
 *   npm run bench -- crashloop [--kills 1000] [--seed 1] [--max-delay-ms 3000] [--keep]
 *
 * A seed node holds four versions of a model (4 MiB in 64 KiB chunks each) and stays up; the
 * victim pulls, activates and is rolled out to among them. Results: bench/results/crashloop.json.
 * Exits 1 on any corrupt state.
 */
import { readdir, readFile, rm, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { bytesMatchCid } from '../core/cid.js'
import { silentLogger } from '../core/logger.js'
import { seededRandom } from '../core/random.js'
import { loadAdminKey, loadFleet, initFleet } from '../node/fleet/fleet.js'
import { ModelStore } from '../node/models/store.js'
import { pack } from '../node/models/pack.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { openPolicy } from '../node/policy/document.js'
import { POLICY_FILE_EXT, POLICIES_DIR } from '../node/policy/store.js'
import { validateRolloutSpec } from '../node/rollouts/spec.js'
import { loopbackNodeArgs, runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { machine, writeResults } from './lib/stats.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { NodeProcess } from '../cli/process-nodes.js'

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    'max-delay-ms': { type: 'string', default: '3000' },
    keep: { type: 'boolean', default: false }
  }
})
const kills = Number(values.kills)
const maxDelayMs = Number(values['max-delay-ms'])
if (!(Number.isSafeInteger(kills) && kills >= 1) || !(maxDelayMs >= 0)) {
  console.error('--kills must be an integer >= 1 and --max-delay-ms >= 0')
  process.exit(2)
}

// Seeded: the same --seed kills at the same moments of the same actions.
const random = seededRandom(Number(values.seed))

const VERSIONS = ['1.0.0', '2.0.0', '3.0.0', '4.0.0']
const ACTIONS = ['pull', 'activate', 'rollout', 'startup'] as const
type Action = typeof ACTIONS[number]

const root = await mkdtemp(join(tmpdir(), 'tutti-crashloop-'))
const { fleetFile, adminKeyFile } = await initFleet({ dir: join(root, 'fleet') })
const fleet: FleetConfig = await loadFleet(fleetFile)
const { key: adminKey } = await loadAdminKey(adminKeyFile)
const tutti = async (...args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await runTutti(args, { env: { TUTTI_KEY: adminKeyFile }, timeoutMs: 60_000 })

const children: NodeProcess[] = []
const cleanup = async (): Promise<void> => {
  await Promise.all(children.map(async n => { await stopChild(n.child) }))
  if (values.keep !== true) await rm(root, { recursive: true, force: true })
}
process.on('SIGINT', () => { void cleanup().finally(() => process.exit(130)) })

console.error(`crashloop: ${kills} kills, seed ${values.seed}, data in ${root}`)
const seedNode = await startNodeProcess('seed', join(root, 'seed'), loopbackNodeArgs(join(root, 'seed'), fleetFile))
children.push(seedNode)
for (const version of VERSIONS) {
  const file = join(root, `mm-${version}.onnx`)
  await writeFile(file, buildMatMulModel({ inputSize: 64, weightsBytes: 4 * 1024 * 1024, seed: Number(version[0]) }))
  const pkg = join(root, `pkg-${version}`)
  await pack(file, { name: 'mm', version, adminKey, chunkBytes: 64 * 1024, outDir: pkg })
  const pushed = await tutti('model', 'push', pkg, '--peer', seedNode.addr!)
  if (pushed.code !== 0) throw new Error(`push of mm@${version} failed: ${pushed.stderr}`)
}

const victimDir = join(root, 'victim')
const victimArgs = loopbackNodeArgs(victimDir, fleetFile, { extra: ['--bootstrap', seedNode.addr!] })

/** Starts the action against the victim; it ends when it ends, or when the victim dies. */
function act (action: Action, victim: NodeProcess, n: number): Promise<unknown> | undefined {
  const version = VERSIONS[Math.floor(random() * VERSIONS.length)]!
  switch (action) {
    case 'pull': return tutti('model', 'pull', `mm@${version}`, '--peer', victim.addr!)
    case 'activate': return tutti('model', 'activate', `mm@${version}`, '--peer', victim.addr!)
    case 'rollout': {
      const manifest = join(root, `rollout-${n}.yaml`)
      return writeFile(manifest, `apiVersion: tutti.dev/v1
kind: Rollout
metadata:
  name: mm-${n % 3}
spec:
  model: { name: mm, version: ${version} }
  selector: {}
  strategy:
    steps:
      - setPercent: 100
`).then(async () => await tutti('apply', '-f', manifest, '--peer', victim.addr!))
    }
    case 'startup': return undefined
  }
}

interface Corruption { kill: number, action: Action, what: string }

/** What the victim has written: changes between two snapshots show a kill landed during work. */
async function snapshot (dir: string): Promise<string> {
  const count = async (d: string): Promise<number> => (await readdir(d).catch(() => [] as string[])).length
  const text = async (f: string): Promise<string> => await readFile(join(dir, f), 'utf8').catch(() => '')
  return JSON.stringify([await count(join(dir, 'models', 'chunks')), await count(join(dir, 'models', 'models')), await count(join(dir, POLICIES_DIR)), await text('serving.json'), await text('rollouts.json'), await text(join('models', 'state.json'))])
}

/** Everything on the victim's disk that must survive a kill -9. */
async function verify (dir: string): Promise<string[]> {
  const problems: string[] = []
  const modelsRoot = join(dir, 'models')
  try {
    const store = await ModelStore.open({ root: modelsRoot, fleet, logger: silentLogger })
    await store.close()
  } catch (err) {
    problems.push(`model store does not open: ${(err as Error).message}`)
  }
  for (const name of await readdir(join(modelsRoot, 'chunks')).catch(() => [] as string[])) {
    if (name.startsWith('.')) continue // a temp file of an interrupted write, cleaned on open
    const bytes = await readFile(join(modelsRoot, 'chunks', name))
    if (!bytesMatchCid(name, bytes)) problems.push(`chunk ${name} does not match its CID`)
  }
  for (const file of ['serving.json', 'rollouts.json']) {
    const text = await readFile(join(dir, file), 'utf8').catch(() => undefined)
    if (text === undefined) continue
    try {
      JSON.parse(text)
    } catch (err) {
      problems.push(`${file} is not JSON: ${(err as Error).message}`)
    }
  }
  for (const name of await readdir(join(dir, POLICIES_DIR)).catch(() => [] as string[])) {
    if (!name.endsWith(POLICY_FILE_EXT) || name.startsWith('.')) continue
    try {
      await openPolicy(new Uint8Array(await readFile(join(dir, POLICIES_DIR, name))), fleet, validateRolloutSpec)
    } catch (err) {
      problems.push(`policy ${name} does not open: ${(err as Error).message}`)
    }
  }
  return problems
}

const corrupt: Corruption[] = []
const byAction: Record<Action, number> = { pull: 0, activate: 0, rollout: 0, startup: 0 }
const changed: Record<Action, number> = { pull: 0, activate: 0, rollout: 0, startup: 0 }
let startFailures = 0
const started = Date.now()
try {
  for (let n = 1; n <= kills; n++) {
    let victim: NodeProcess
    try {
      victim = await startNodeProcess('victim', victimDir, victimArgs)
      const res = await fetch(`${victim.api!}/v1/node`, { signal: AbortSignal.timeout(10_000) })
      if (!res.ok) throw new Error(`the API answered ${res.status}`)
    } catch (err) {
      startFailures++
      corrupt.push({ kill: n, action: 'startup', what: `the node did not start again: ${(err as Error).message}` })
      break
    }
    children.push(victim)
    const action = ACTIONS[Math.floor(random() * ACTIONS.length)]!
    byAction[action]++
    const before = await snapshot(victimDir)
    const running = act(action, victim, n)
    await new Promise(resolve => setTimeout(resolve, random() * maxDelayMs))
    victim.child.kill('SIGKILL')
    await new Promise<void>(resolve => { if (victim.exited !== undefined) resolve(); else victim.child.once('exit', () => { resolve() }) })
    children.splice(children.indexOf(victim), 1)
    await running?.catch(() => undefined)
    if (await snapshot(victimDir) !== before) changed[action]++
    for (const what of await verify(victimDir)) corrupt.push({ kill: n, action, what })
    if (n % 10 === 0 || n === kills) process.stderr.write(`\r${n}/${kills} kills, ${corrupt.length} corrupt        `)
  }
} finally {
  process.stderr.write('\n')
  await cleanup()
}

const done = Object.values(byAction).reduce((a, b) => a + b, 0)
console.log(`\ncrashloop: ${done} kill -9 of a real node in ${((Date.now() - started) / 1000).toFixed(0)} s (seed ${values.seed}, delay 0-${maxDelayMs} ms)\n`)
console.log('| during | kills | of which the node had written something since the action began |')
console.log('|---|---:|---:|')
for (const a of ACTIONS) console.log(`| ${a} | ${byAction[a]} | ${changed[a]} |`)
console.log(`\ncorrupt state: ${corrupt.length}; failed restarts: ${startFailures}`)
for (const c of corrupt.slice(0, 20)) console.log(`  kill ${c.kill} (${c.action}): ${c.what}`)
console.log(`\nresults: ${await writeResults('crashloop', { kills: done, seed: values.seed, maxDelayMs, byAction, changed, corrupt, startFailures, machine: machine() })}`)
process.exit(corrupt.length > 0 || done < kills ? 1 : 0)
