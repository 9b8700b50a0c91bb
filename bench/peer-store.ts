/**
 * The peer-record cache (node/mesh/peer-datastore.ts) against libp2p's peer store written to
 * LevelDB at once: N production nodes (`createTuttiNode`, data directories on disk, TCP on
 * loopback) in one process, N - 1 of them pulling one model from node 0 at once, no rate cap.
 * The two set-ups alternate, `--trials` times each, every trial on a fresh fleet.
 *
 *   npm run bench -- peer-store [--nodes 10] [--size-mib 20] [--trials 3]
 *
 * Reported per set-up: the process's CPU seconds over the pulls, their wall time, and the reads
 * and writes of peer records that reached LevelDB per node per second; then the ratios cache /
 * direct (median over trials). See docs/BENCHMARKS.md.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { LevelDatastore } from 'datastore-level'
import { initFleet, loadFleet } from '../node/fleet/fleet.js'
import { pack } from '../node/models/pack.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { createTuttiNode } from '../node/tutti-node.js'
import { PEERS_PREFIX } from '../node/mesh/peer-datastore.js'
import { waitFor } from '../sim/local-mesh.js'
import { fmt, machine, median, print, ratio, table, writeResults } from './lib/stats.js'
import type { TuttiNode } from '../node/tutti-node.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '10' },
    'size-mib': { type: 'string', default: '20' },
    trials: { type: 'string', default: '3' }
  }
})
const nodes = Number(values.nodes)
const sizeMiB = Number(values['size-mib'])
const trials = Number(values.trials)
if (!Number.isInteger(nodes) || nodes < 2 || !(sizeMiB > 0) || !Number.isInteger(trials) || trials < 1) {
  process.stderr.write('usage: npm run bench -- peer-store [--nodes N >= 2] [--size-mib S > 0] [--trials K >= 1]\n')
  process.exit(2)
}

// Peer-record operations that reach LevelDB, counted under both set-ups alike.
let levelReads = 0
let levelWrites = 0
const proto = LevelDatastore.prototype as unknown as Record<string, (...args: unknown[]) => unknown>
for (const [method, count] of [['get', () => { levelReads++ }], ['put', () => { levelWrites++ }]] as const) {
  const original = proto[method]!
  proto[method] = function (this: unknown, ...args: unknown[]) {
    if (String(args[0]).startsWith(PEERS_PREFIX)) count()
    return original.apply(this, args)
  }
}
const originalBatch = proto.batch!
proto.batch = function (this: unknown) {
  const b = originalBatch.apply(this) as { put: (k: unknown, v: unknown) => void }
  const put = b.put.bind(b)
  b.put = (k, v) => { if (String(k).startsWith(PEERS_PREFIX)) levelWrites++; put(k, v) }
  return b
}

interface Trial { cache: boolean, cpuS: number, wallS: number, readsPerNodeS: number, writesPerNodeS: number }

async function trial (cache: boolean): Promise<Trial> {
  const root = await mkdtemp(join(tmpdir(), 'tutti-peer-store-'))
  const fleetFiles = await initFleet({ dir: join(root, 'fleet') })
  const fleet = await loadFleet(fleetFiles.fleetFile)
  const fleetNodes: TuttiNode[] = []
  try {
    for (let i = 0; i < nodes; i++) {
      const n = await createTuttiNode({
        fleet,
        dataDir: join(root, `n${i}`),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i > 0 ? [fleetNodes[0]!.libp2p.getMultiaddrs()[0]!.toString()] : [],
        api: false,
        peerRecordCache: cache
      })
      await n.start()
      fleetNodes.push(n)
    }
    await waitFor('every node to see every other alive', async () => fleetNodes.every(n => n.nodes().filter(m => !m.self && m.status === 'alive').length >= nodes - 1), 120_000, 100)
    const file = join(root, 'model.onnx')
    await writeFile(file, buildMatMulModel({ inputSize: 256, weightsBytes: Math.round(sizeMiB * 1024 * 1024), seed: 7 }))
    const packed = await pack(file, { name: 'peer-store-bench', version: '1.0.0', adminKey: fleetFiles.adminKey, outDir: join(root, 'pkg') })
    const { cid } = await fleetNodes[0]!.models!.store.importPackage(packed.dir)
    await fleetNodes[0]!.models!.announceAll()
    levelReads = 0
    levelWrites = 0
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    await Promise.all(fleetNodes.slice(1).map(async n => await n.models!.pull(cid)))
    const wallS = (performance.now() - t0) / 1000
    const cpu = process.cpuUsage(cpu0)
    return { cache, cpuS: (cpu.user + cpu.system) / 1e6, wallS, readsPerNodeS: levelReads / nodes / wallS, writesPerNodeS: levelWrites / nodes / wallS }
  } finally {
    for (const n of fleetNodes) await n.stop().catch(() => {})
    await rm(root, { recursive: true, force: true })
  }
}

print(`peer-store: ${nodes} nodes (data dirs on disk, TCP loopback, one process), ${nodes - 1} pulling ${sizeMiB} MiB at once, ${trials} trial(s) per set-up, alternating`)
const results: Trial[] = []
for (let t = 0; t < trials; t++) {
  for (const cache of t % 2 === 0 ? [false, true] : [true, false]) {
    const r = await trial(cache)
    results.push(r)
    print(`  trial ${t + 1} ${cache ? 'cache ' : 'direct'}: CPU ${fmt(r.cpuS, 2)} s, wall ${fmt(r.wallS, 2)} s, LevelDB peer-record reads ${fmt(r.readsPerNodeS, 1)} / writes ${fmt(r.writesPerNodeS, 1)} per node per s`)
  }
}
const of = (cache: boolean, key: 'cpuS' | 'wallS' | 'readsPerNodeS' | 'writesPerNodeS'): number => median(results.filter(r => r.cache === cache).map(r => r[key]))
print()
print(table(['set-up', 'CPU s (median)', 'wall s (median)', 'LevelDB reads / node / s', 'LevelDB writes / node / s'],
  [false, true].map(c => [c ? 'peer-record cache' : 'direct to LevelDB', fmt(of(c, 'cpuS'), 2), fmt(of(c, 'wallS'), 2), fmt(of(c, 'readsPerNodeS'), 1), fmt(of(c, 'writesPerNodeS'), 1)])))
print(`\ncache / direct: CPU ${fmt(ratio(of(true, 'cpuS'), of(false, 'cpuS')), 3)}, wall ${fmt(ratio(of(true, 'wallS'), of(false, 'wallS')), 3)}`)
const out = await writeResults('peer-store', { benchmark: 'peer-store', date: new Date().toISOString(), machine: machine(), options: { nodes, sizeMiB, trials }, results })
print(`results: ${out}`)
process.exit(0)
