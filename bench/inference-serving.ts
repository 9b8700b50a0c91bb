/**
 * Inference while the node serves model chunks to peers, against idle (issue: inference, goal:
 * serving p50 / idle p50 <= 1.15).
 *
 *   npm run bench -- inference-serving [--peers 3] [--mbit 30] [--phase-s 12] [--model-mib 50]
 *                                      [--batch 48] [--settle-s 2] [--cpu 1] [--peer-nice 0]
 *   npx tsx bench/inference-serving.ts    (the same, without bench/run.js)
 *
 * The measured node is a real TuttiNode in this process (TCP on 127.0.0.1, a data dir in a temp
 * dir) with an active model that runs a few ms (a matmul chain, CPU limit --cpu) and holds 12
 * versions (with 3 peers) of a ~50 MB model to serve. --peers downloading peers are separate
 * `tutti node start` processes bootstrapped to it, each capped with --download-limit; each pulls
 * versions no other peer pulls, one after another (`tutti model pull CID`), so every byte they get
 * comes from the measured node, and no version is requested twice in a run.
 *
 * Phases idle / serving / idle / serving, --phase-s each. One closed-loop client calls
 * node.inference.infer() back to back through the whole run; latencies are recorded per window.
 * In idle windows the peers are connected and idle; in serving windows they pull. After a serving
 * window the peers are stopped (that ends their downloads) and fresh ones start for the next
 * phase, outside any window. Per window: p50/p99, session.run() time as the worker measured it,
 * event-loop delay p99, bytes the node's chunk server sent (its own counters) and CPU: this
 * process and its main thread (where libp2p and the chunk server run), the peers (child
 * processes) and the whole machine (which other work shares). The peers run on the same cores as
 * the measured node; --peer-nice 19 lowers their priority, closer to peers on other devices.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os, { tmpdir } from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { runTutti, startNodeProcess, stopChild } from '../cli/process-nodes.js'
import { initFleet } from '../node/fleet/fleet.js'
import { matMulChain } from '../node/inference/testing/models.js'
import { silentLogger } from '../core/logger.js'
import { pack } from '../node/models/pack.js'
import { buildMatMulModel } from '../node/models/testing/onnx-builder.js'
import { TuttiNode } from '../node/tutti-node.js'
import { fmt, machine, mean, percentile, print, ratio, seededRandom, sum, table, writeResults } from './lib/stats.js'
import type { NodeProcess } from '../cli/process-nodes.js'
import type { TensorMap } from '../node/inference/tensors.js'
import type { PrivateKey } from '@libp2p/interface'

interface Options {
  peers: number
  mbit: number
  phaseS: number
  modelMiB: number
  batch: number
  settleS: number
  cpu: string
  /** Niceness of the peer node processes (19: they get the CPU others leave over). */
  peerNice: number
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      peers: { type: 'string', default: '3' },
      mbit: { type: 'string', default: '30' },
      'phase-s': { type: 'string', default: '12' },
      'model-mib': { type: 'string', default: '50' },
      batch: { type: 'string', default: '48' },
      'settle-s': { type: 'string', default: '2' },
      cpu: { type: 'string', default: '1' },
      'peer-nice': { type: 'string', default: '0' }
    }
  })
  return {
    peers: Number(values.peers),
    mbit: Number(values.mbit),
    phaseS: Number(values['phase-s']),
    modelMiB: Number(values['model-mib']),
    batch: Number(values.batch),
    settleS: Number(values['settle-s']),
    cpu: values.cpu,
    peerNice: Number(values['peer-nice'])
  }
}

const CHAIN = { size: 256, depth: 48 }
const BIG = 'big'
/** Linux's USER_HZ: /proc times are in these ticks. */
const TICKS_PER_S = 100

// CPU accounting from /proc (Linux) --------------------------------------------------------------

interface CpuSnapshot {
  atMs: number
  /** This process: user + system, s. */
  selfS: number
  /** This process's main thread (the node's event loop: libp2p, chunk serving), s. */
  mainS: number
  /** Child processes (peer nodes, `tutti model pull`): live ones plus those already reaped, s. */
  childrenS: number
  /** Whole machine: busy and total CPU time over all cores, s. */
  machineBusyS: number
  machineTotalS: number
}

function statFields (text: string): string[] {
  // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
  return text.slice(text.lastIndexOf(')') + 2).split(' ')
}

function childrenCpuS (): number {
  const self = statFields(readFileSync('/proc/self/stat', 'utf8'))
  // Fields after comm start at state (field 3): cutime, cstime are fields 16, 17.
  let ticks = Number(self[13]) + Number(self[14])
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const f = statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'))
      if (Number(f[1]) === process.pid) ticks += Number(f[11]) + Number(f[12]) // utime, stime
    } catch {
      // exited while we looked
    }
  }
  return ticks / TICKS_PER_S
}

function machineCpuS (): { busy: number, total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
  const total = sum(line.slice(0, 8)) // user nice system idle iowait irq softirq steal
  const idle = line[3]! + line[4]!
  return { busy: (total - idle) / TICKS_PER_S, total: total / TICKS_PER_S }
}

function cpuSnapshot (): CpuSnapshot {
  const usage = process.cpuUsage()
  const main = process.threadCpuUsage()
  const m = machineCpuS()
  return { atMs: performance.now(), selfS: (usage.user + usage.system) / 1e6, mainS: (main.user + main.system) / 1e6, childrenS: childrenCpuS(), machineBusyS: m.busy, machineTotalS: m.total }
}

/** Sets the niceness of every thread of `pid` (on Linux, setpriority() applies to one thread). */
function renice (pid: number, nice: number): void {
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      os.setPriority(Number(tid), nice)
    } catch {
      // the thread ended meanwhile
    }
  }
}

/**
 * Child processes of this one whose command line names one of `dirs` (peer nodes startNodeProcess
 * spawned but did not hand back): SIGTERM, then SIGKILL after 5 s, and wait until they are gone.
 */
async function stopStrays (dirs: string[]): Promise<void> {
  const alive = (pid: number): boolean => {
    try {
      return statFields(readFileSync(`/proc/${pid}/stat`, 'utf8'))[0] !== 'Z'
    } catch {
      return false
    }
  }
  const strays: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (Number(statFields(readFileSync(`/proc/${entry}/stat`, 'utf8'))[1]) !== process.pid) continue
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0')
      if (args.some(a => dirs.some(d => a.startsWith(d)))) strays.push(Number(entry))
    } catch {
      // exited while we looked
    }
  }
  for (const pid of strays) process.kill(pid, 'SIGTERM')
  const deadline = performance.now() + 5000
  while (strays.some(alive) && performance.now() < deadline) await sleep(100)
  for (const pid of strays.filter(alive)) process.kill(pid, 'SIGKILL')
  while (strays.some(alive)) await sleep(50)
}

// Models -----------------------------------------------------------------------------------------

async function packModel (dir: string, adminKey: PrivateKey, name: string, version: string, bytes: Uint8Array): Promise<string> {
  const file = join(dir, `${name}-${version}.onnx`)
  await writeFile(file, bytes)
  const packed = await pack(file, { name, version, adminKey, outDir: join(dir, `pkg-${name}-${version}`) })
  await rm(file)
  return packed.dir
}

// The run ----------------------------------------------------------------------------------------

type PhaseKind = 'idle' | 'serving'

interface PhaseResult {
  label: string
  kind: PhaseKind
  windowS: number
  requests: number
  failures: number
  latencyMs: number[]
  p50Ms: number
  p99Ms: number
  meanMs: number
  /** session.run() wall time per request, as the worker measured it. */
  runWallMs: number
  eventLoopP99Ms: number
  servedBytes: number
  servedBytesPerSec: number
  chunksSent: number
  busyAnswers: number
  benchCores: number
  mainThreadCores: number
  childCores: number
  machineBusyCores: number
  loadAvg1: number
}

interface Loop {
  record?: number[]
  stop: boolean
  failures: number
  lastError?: string
}

async function main (): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  const started = performance.now()
  const root = await mkdtemp(join(tmpdir(), 'tutti-bench-infserve-'))
  const capBytesPerSec = options.mbit * 1e6 / 8
  const plan: PhaseKind[] = ['idle', 'serving', 'idle', 'serving']
  // Two versions per peer per serving phase (a pull at the cap can end inside a window), none
  // requested twice in the run: a seed's offer bookkeeping from an earlier phase never applies.
  const pullsPerPeer = 2
  const versionsPerPhase = pullsPerPeer * options.peers
  const versions = versionsPerPhase * plan.filter(k => k === 'serving').length
  let node: TuttiNode | undefined
  let peers: NodeProcess[] = []
  const pulls: Array<Promise<void>> = []
  const loop: Loop = { stop: false, failures: 0 }
  let inferring: Promise<void> | undefined
  let stopping = false
  const onSignal = (): void => {
    stopping = true
    for (const p of peers) p.child.kill('SIGTERM')
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)

  const stopPeers = async (): Promise<void> => {
    const old = peers
    peers = []
    await Promise.all(old.map(async p => { await stopChild(p.child) }))
    await Promise.all(old.map(async p => { await rm(p.dir, { recursive: true, force: true }) }))
  }

  try {
    // 1. Fleet, models, the measured node.
    const fleet = await initFleet({ dir: join(root, 'fleet'), name: 'bench' })
    const env = { TUTTI_KEY: fleet.adminKeyFile }
    const t0 = performance.now()
    const packages = [await packModel(root, fleet.adminKey, 'chain', '1.0.0', matMulChain(CHAIN).bytes)]
    for (let v = 1; v <= versions; v++) {
      packages.push(await packModel(root, fleet.adminKey, BIG, `${v}.0.0`, buildMatMulModel({ inputSize: 64, weightsBytes: options.modelMiB * 1024 * 1024, seed: v })))
    }
    node = await TuttiNode.create({ fleet: fleet.fleet, dataDir: join(root, 'node'), transport: 'tcp', listen: ['/ip4/127.0.0.1/tcp/0'], api: false }, { logger: silentLogger })
    await node.start()
    const models = node.models!
    const cids: string[] = []
    for (const dir of packages) {
      const stored = await models.store.importPackage(dir)
      if (stored.manifest.name === BIG) cids.push(stored.cid)
      await rm(dir, { recursive: true, force: true }) // the store holds its own copy
    }
    const bigBytes = models.store.list().find(e => e.name === BIG)!.size
    await node.serving.activate('chain@1.0.0', { cpu: options.cpu })
    const nodeAddr = node.addresses().find(a => a.includes('/127.0.0.1/'))!
    print(`inference-serving benchmark: measured node ${nodeAddr.slice(-12)} in this process (TCP on loopback), ` +
      `active model matmul chain ${CHAIN.size}x${CHAIN.depth} batch ${options.batch}, cpu ${options.cpu}; ` +
      `serving ${versions} versions of a ${fmt(bigBytes / 1e6, 1)} MB model to ${options.peers} peer processes capped at ${options.mbit} Mbit/s each ` +
      `(${fmt(capBytesPerSec * options.peers / 1e6, 2)} MB/s together, nice ${options.peerNice}); ${options.phaseS} s windows; node ${process.version}, ${os.availableParallelism()} cores`)
    print(`setup (pack + import): ${fmt((performance.now() - t0) / 1000, 1)} s`)

    // 2. The closed-loop client: runs from now to the end, recording only inside windows.
    const random = seededRandom(1)
    const n = options.batch * CHAIN.size
    const inputs: TensorMap = { x: { type: 'float32', dims: [options.batch, CHAIN.size], data: Float32Array.from({ length: n }, () => random() * 2 - 1) } }
    for (let i = 0; i < 30; i++) await node.inference.infer('chain', undefined, inputs)
    const measured = node
    inferring = (async () => {
      while (!loop.stop) {
        const into = loop.record
        const t = performance.now()
        try {
          await measured.inference.infer('chain', undefined, inputs)
          if (into != null && into === loop.record) into.push(performance.now() - t)
        } catch (err) {
          loop.failures++
          loop.lastError = (err as Error).message
          await sleep(10)
        }
      }
    })()

    // 3. Peers: separate `tutti node start` processes, bootstrapped to the measured node.
    let generation = 0
    const startPeers = async (): Promise<void> => {
      generation++
      const dirs = Array.from({ length: options.peers }, (_, i) => join(root, `peer-${generation}-${i}`))
      const started = await Promise.allSettled(dirs.map(async (dir, i) => {
        const peer = await startNodeProcess(`peer ${i}`, dir, ['node', 'start', '--data', dir, '--fleet', fleet.fleetFile,
          '--listen', '/ip4/127.0.0.1/tcp/0', '--api', 'off', '--bootstrap', nodeAddr,
          '--download-limit', `${options.mbit}Mbit`, '--log-level', 'warn'], () => stopping)
        peers.push(peer) // tracked as soon as it runs, so a failed sibling cannot leave it behind
        // Lowered after start, so a slow start under load does not run into startNodeProcess's 30 s.
        if (options.peerNice !== 0) renice(peer.child.pid!, options.peerNice)
      }))
      const failed = started.find(r => r.status === 'rejected')
      if (failed != null) {
        // startNodeProcess gives up on a slow start without stopping the process it spawned.
        await stopStrays(dirs)
        throw failed.reason
      }
      const deadline = performance.now() + 30_000
      const connected = (): boolean => {
        const remotes = new Set(measured.libp2p.getConnections().map(c => c.remotePeer.toString()))
        return peers.every(p => remotes.has(p.peerId!))
      }
      while (!connected()) {
        if (performance.now() > deadline || stopping) throw new Error('peers did not connect to the measured node within 30 s')
        await sleep(100)
      }
    }

    const served = (): { bytes: number, chunks: number, busy: number } => {
      const s = models.serverStats()!
      return { bytes: s.bytesSent, chunks: s.chunksSent, busy: s.busy }
    }
    const runStats = (): { busyMs: number, count: number } => {
      const m = measured.inference.metrics().find(x => x.name === 'chain' && x.role === 'active')!
      return { busyMs: m.cpu.busyMs, count: m.latencyMs.count }
    }

    const measureWindow = async (label: string, kind: PhaseKind): Promise<PhaseResult> => {
      const latencyMs: number[] = []
      const failures0 = loop.failures
      const s0 = served()
      const r0 = runStats()
      const c0 = cpuSnapshot()
      const eld = monitorEventLoopDelay({ resolution: 1 })
      eld.enable()
      loop.record = latencyMs
      await sleep(options.phaseS * 1000)
      loop.record = undefined
      eld.disable()
      const c1 = cpuSnapshot()
      const r1 = runStats()
      const s1 = served()
      const wallS = (c1.atMs - c0.atMs) / 1000
      const runs = r1.count - r0.count
      const result: PhaseResult = {
        label,
        kind,
        windowS: wallS,
        requests: latencyMs.length,
        failures: loop.failures - failures0,
        latencyMs,
        p50Ms: percentile(latencyMs, 50),
        p99Ms: percentile(latencyMs, 99),
        meanMs: mean(latencyMs),
        runWallMs: (r1.busyMs - r0.busyMs) / runs,
        eventLoopP99Ms: eld.percentile(99) / 1e6,
        servedBytes: s1.bytes - s0.bytes,
        servedBytesPerSec: (s1.bytes - s0.bytes) / wallS,
        chunksSent: s1.chunks - s0.chunks,
        busyAnswers: s1.busy - s0.busy,
        benchCores: (c1.selfS - c0.selfS) / wallS,
        mainThreadCores: (c1.mainS - c0.mainS) / wallS,
        childCores: (c1.childrenS - c0.childrenS) / wallS,
        machineBusyCores: (c1.machineBusyS - c0.machineBusyS) / (c1.machineTotalS - c0.machineTotalS) * os.availableParallelism(),
        loadAvg1: os.loadavg()[0]!
      }
      process.stderr.write(`  ${label}: p50 ${fmt(result.p50Ms, 2)} ms, p99 ${fmt(result.p99Ms, 2)} ms, ${result.requests} requests, ` +
        `served ${fmt(result.servedBytesPerSec / 1e6, 2)} MB/s, machine ${fmt(result.machineBusyCores, 2)} cores busy\n`)
      return result
    }

    // Each peer pulls its own versions, one after another, until told to stop.
    let pullsDone = 0
    const pullErrors: string[] = []
    let pulling = false
    const pullLoop = async (servingPhase: number, i: number, peer: NodeProcess): Promise<void> => {
      for (let k = 0; pulling && k < pullsPerPeer; k++) {
        const cid = cids[servingPhase * versionsPerPhase + k * options.peers + i]!
        const res = await runTutti(['model', 'pull', cid, '--peer', peer.addr!], { env, timeoutMs: 600_000 })
        if (!pulling) return // the peer was stopped under it
        if (res.code === 0) pullsDone++
        else pullErrors.push(`peer ${i}: ${(res.stderr.trim().split('\n').pop() ?? '').slice(0, 200)}`)
      }
    }

    await startPeers()
    const results: PhaseResult[] = []
    const count: Record<PhaseKind, number> = { idle: 0, serving: 0 }
    for (const [index, kind] of plan.entries()) {
      if (stopping) break
      const label = `${kind} ${++count[kind]}`
      if (kind === 'idle') {
        await sleep(options.settleS * 1000)
        results.push(await measureWindow(label, kind))
        continue
      }
      pulling = true
      const before = served().bytes
      for (const [i, peer] of peers.entries()) pulls.push(pullLoop(count.serving - 1, i, peer))
      // The window opens once the node is serving (the pull CLIs take a moment to start).
      const deadline = performance.now() + 45_000
      while (served().bytes - before < 2 * capBytesPerSec) {
        if (performance.now() > deadline || stopping) throw new Error(`the node served ${served().bytes - before} bytes in 45 s: the peers are not pulling (${pullErrors.join('; ')})`)
        await sleep(100)
      }
      await sleep(options.settleS * 1000)
      results.push(await measureWindow(label, kind))
      pulling = false
      await stopPeers()
      await Promise.all(pulls.splice(0))
      if (index < plan.length - 1) await startPeers()
    }
    loop.stop = true
    await inferring
    if (stopping) return 1

    // 4. Report.
    const pooled = (kind: PhaseKind): number[] => results.filter(r => r.kind === kind).flatMap(r => r.latencyMs)
    const idleP50 = percentile(pooled('idle'), 50)
    const servingP50 = percentile(pooled('serving'), 50)
    const p50Ratio = ratio(servingP50, idleP50)
    const p99Ratio = ratio(percentile(pooled('serving'), 99), percentile(pooled('idle'), 99))
    const pairRatios = [0, 1].map(k => ratio(results[2 * k + 1]?.p50Ms ?? Number.NaN, results[2 * k]?.p50Ms ?? Number.NaN))
    const servingRate = mean(results.filter(r => r.kind === 'serving').map(r => r.servedBytesPerSec))
    const meanOf = (kind: PhaseKind, f: (r: PhaseResult) => number): number => mean(results.filter(r => r.kind === kind).map(f))
    const runRatio = ratio(meanOf('serving', r => r.runWallMs), meanOf('idle', r => r.runWallMs))
    // The node's own cost of serving: main-thread CPU above idle, per MB sent.
    const mainCpuMsPerMB = (meanOf('serving', r => r.mainThreadCores) - meanOf('idle', r => r.mainThreadCores)) * 1000 / (servingRate / 1e6)
    print()
    print(table(['phase', 'requests', 'p50 ms', 'p99 ms', 'session.run ms', 'loop lag p99 ms', 'served MB/s', 'node main thread cores', 'node process cores', 'peers cores', 'machine busy cores', 'load 1m'],
      results.map(r => [r.label, String(r.requests), fmt(r.p50Ms, 2), fmt(r.p99Ms, 2), fmt(r.runWallMs, 2), fmt(r.eventLoopP99Ms, 1),
        fmt(r.servedBytesPerSec / 1e6, 2), fmt(r.mainThreadCores, 2), fmt(r.benchCores, 2), fmt(r.childCores, 2), fmt(r.machineBusyCores, 2), fmt(r.loadAvg1, 1)])))
    print()
    print(`serving p50 / idle p50 (pooled): ${fmt(servingP50, 2)} / ${fmt(idleP50, 2)} ms = ${fmt(p50Ratio, 3)} (goal <= 1.15: ${p50Ratio <= 1.15 ? 'met' : 'missed'}); ` +
      `per pair ${pairRatios.map(r => fmt(r, 3)).join(', ')}; p99 ratio ${fmt(p99Ratio, 2)}`)
    print(`session.run() itself, serving / idle: ${fmt(runRatio, 2)}; the node's main thread spent ${fmt(mainCpuMsPerMB, 1)} ms CPU per MB served`)
    print(`served while serving: ${fmt(servingRate / 1e6, 2)} MB/s (${fmt(servingRate * 8 / 1e6, 1)} Mbit/s; peers' caps together ${fmt(capBytesPerSec * options.peers / 1e6, 2)} MB/s); ` +
      `pulls completed ${pullsDone}, pull errors after start ${pullErrors.length}; inference failures ${loop.failures}${loop.lastError != null ? ` (${loop.lastError})` : ''}`)
    const idleServed = sum(results.filter(r => r.kind === 'idle').map(r => r.servedBytes))
    if (idleServed > 0) print(`note: ${idleServed} bytes were served during idle windows`)
    const file = await writeResults('inference-serving', {
      benchmark: 'inference-serving',
      date: new Date().toISOString(),
      machine: machine(),
      options,
      bigModelBytes: bigBytes,
      totalSeconds: (performance.now() - started) / 1000,
      idleP50Ms: idleP50,
      servingP50Ms: servingP50,
      p50Ratio,
      pairRatios,
      p99Ratio,
      sessionRunRatio: runRatio,
      mainThreadCpuMsPerMB: mainCpuMsPerMB,
      servedBytesPerSec: servingRate,
      pullsCompleted: pullsDone,
      pullErrors,
      inferenceFailures: loop.failures,
      phases: results.map(({ latencyMs, ...r }) => r)
    })
    print(`results: ${file} (${fmt((performance.now() - started) / 1000, 0)} s)`)
    return 0
  } finally {
    loop.stop = true
    await inferring // the loop catches its own errors
    const cleanup = async (what: string, fn: () => Promise<unknown>): Promise<void> => {
      try {
        await fn()
      } catch (err) {
        process.stderr.write(`cleanup: ${what}: ${(err as Error).message}\n`)
      }
    }
    await cleanup('stopping peers', stopPeers)
    await cleanup('stopping stray peers', async () => { await stopStrays([root]) })
    await Promise.allSettled(pulls)
    await cleanup('stopping the node', async () => { await node?.stop() })
    await cleanup('removing the temp dir', async () => { await rm(root, { recursive: true, force: true, maxRetries: 5 }) })
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}

process.exitCode = await main()
