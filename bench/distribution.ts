/**
 * Model distribution: one seed gives a model to N in-process Tutti nodes over /tutti/chunks/1.0.0,
 * every node's upload and download capped by its own token bucket at the same rate, side by side
 * with the same N nodes downloading the same file from one plain HTTP origin (node:http on
 * 127.0.0.1) under the same caps.
 *
 *   npm run bench -- distribution [--plan 10@8/50/1024,20@2/20/1024,50@0.5/5/256]
 *                                 [--links 8] [--http-window-s 20] [--seed 1] [--no-two-node] [--trace]
 *
 * A plan entry N@MBIT/MODEL_MIB/CHUNK_KIB is one run: N downloaders, every node capped at MBIT
 * Mbit/s, a model of MODEL_MIB MiB in chunks of CHUNK_KIB KiB. The default lowers the cap (and the
 * model) as N grows so that the caps, not this machine's CPU, stay the limit (see BENCHMARKS.md).
 *
 * Reported per N: origin egress / model size, last node's completion / T_min with
 * T_min = max(F/u_seed, F/d_min, N*F/(u_seed + sum of peers' upload)), and bytes received by all
 * nodes / (N*F). A two-node run first shows the cap, not the CPU, limits a transfer. The HTTP
 * origin sends N*F by construction, at its cap: it runs for a window and its completion time is
 * projected from the rate it held. See docs/BENCHMARKS.md.
 */
import { once } from 'node:events'
import { Agent, createServer, get } from 'node:http'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { multiaddr } from '@multiformats/multiaddr'
import { systemClock } from '../core/clock.js'
import { Fetcher } from '../node/fetcher/index.js'
import { fleetMemoryStore, makeTestModel, seedStore, seededBytes } from '../node/fetcher/testing.js'
import { swarmKey } from '../node/fleet/fleet.js'
import { silentLogger } from '../core/logger.js'
import { createMeshLibp2p } from '../node/mesh/libp2p.js'
import { rawCid } from '../core/cid.js'
import { TokenBucket } from '../node/ratelimit/token-bucket.js'
import { CHUNKS_PROTOCOL, ChunkServer } from '../protocols/chunks/index.js'
import { createTestFleet } from '../sim/local-mesh.js'
import { parseTransferTuning } from '../node/models/transfer-tuning.js'
import { fmt, machine, median, print, seededRandom, sum, table, writeResults } from './lib/stats.js'
import type { FetcherInit, FetchResult } from '../node/fetcher/index.js'
import type { TestModel } from '../node/fetcher/testing.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { MeshLibp2p } from '../node/mesh/libp2p.js'
import type { MemoryChunkStore } from '../node/models/memory-chunk-store.js'
import type { ChunkServerInit } from '../protocols/chunks/index.js'
import type { AddressInfo } from 'node:net'

/** One run: N downloaders, the per-node cap, the model. */
interface Scenario {
  n: number
  mbit: number
  modelMiB: number
  chunkKiB: number
}

interface Options {
  plan: Scenario[]
  links: number
  httpWindowS: number
  seed: number
  timeoutS: number
  twoNode: boolean
  trace: boolean
  /** Overrides of the defaults, for tuning runs: `--set uploadSlots=2,maxInFlight=3`. */
  server: ChunkServerInit
  fetcher: FetcherInit
}

function overrides (text: string): { server: ChunkServerInit, fetcher: FetcherInit } {
  const { fetcher, chunkServer } = parseTransferTuning(text.split(','))
  return { server: chunkServer, fetcher }
}

function parseScenario (text: string): Scenario {
  const m = /^(\d+)@([\d.]+)\/([\d.]+)\/(\d+)$/.exec(text.trim())
  if (m == null) throw new Error(`--plan entries look like N@MBIT/MODEL_MIB/CHUNK_KIB (10@8/50/1024), not ${text}`)
  return { n: Number(m[1]), mbit: Number(m[2]), modelMiB: Number(m[3]), chunkKiB: Number(m[4]) }
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      plan: { type: 'string', default: '10@8/50/1024,20@2/20/1024,50@0.5/5/256' },
      links: { type: 'string', default: '8' },
      'http-window-s': { type: 'string', default: '20' },
      seed: { type: 'string', default: '1' },
      'timeout-s': { type: 'string', default: '300' },
      'two-node': { type: 'boolean', default: true },
      'no-two-node': { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
      set: { type: 'string', default: '' }
    }
  })
  return {
    plan: values.plan.split(',').map(parseScenario),
    links: Number(values.links),
    httpWindowS: Number(values['http-window-s']),
    seed: Number(values.seed),
    timeoutS: Number(values['timeout-s']),
    twoNode: values['two-node'] && !values['no-two-node'],
    trace: values.trace,
    ...overrides(values.set)
  }
}

interface SwarmNode {
  libp2p: MeshLibp2p
  store: MemoryChunkStore
  server: ChunkServer
  fetcher: Fetcher
  address: string
}

let nodeCounter = 0

async function startNode (fleet: FleetConfig, capBytesPerSec: number, keySeed: number, options: Options): Promise<SwarmNode> {
  const address = `/memory/bench-dist-${process.pid}-${nodeCounter++}`
  const seedBytes = new Uint8Array(32)
  new DataView(seedBytes.buffer).setUint32(0, keySeed)
  const libp2p = await createMeshLibp2p({
    privateKey: await generateKeyPairFromSeed('Ed25519', seedBytes),
    swarmKey: swarmKey(fleet),
    transport: 'memory',
    listen: [address],
    start: true
  })
  const store = fleetMemoryStore(fleet)
  const server = new ChunkServer({ libp2p, store, clock: systemClock, logger: silentLogger, uploadLimiter: new TokenBucket(systemClock, capBytesPerSec) }, options.server)
  await server.start()
  const fetcher = new Fetcher({
    libp2p,
    store,
    clock: systemClock,
    logger: silentLogger,
    downloadLimiter: new TokenBucket(systemClock, capBytesPerSec),
    onChunkStored: manifestCid => { server.chunkStored(manifestCid) }
  }, options.fetcher)
  return { libp2p, store, server, fetcher, address }
}

/**
 * Waits until every node has identified the peers it is connected to (a stream opened in the first
 * moments of a connection may stall), for at most 60 s; returns how many were not identified.
 */
async function identified (nodes: SwarmNode[]): Promise<number> {
  const deadline = performance.now() + 60_000
  let missing = 0
  for (const node of nodes) {
    for (const conn of node.libp2p.getConnections()) {
      for (;;) {
        const protocols = await node.libp2p.peerStore.get(conn.remotePeer).then(p => p.protocols, () => [] as string[])
        if (protocols.includes(CHUNKS_PROTOCOL)) break
        if (performance.now() > deadline) {
          missing++
          break
        }
        await new Promise(resolve => setTimeout(resolve, 20))
      }
    }
  }
  return missing
}

interface P2pRun {
  n: number
  ok: boolean
  errors: string[]
  /** Per node: start of all fetches to its completion, in s. */
  completionS: number[]
  lastS: number
  tMinS: number
  originEgressBytes: number
  receivedBytes: number
  digestsOk: boolean
  cpuCores: number
  eventLoopUtilization: number
  setupS: number
}

async function runP2p (n: number, mbit: number, fleet: FleetConfig, model: TestModel, options: Options): Promise<P2pRun> {
  const cap = mbit * 1e6 / 8
  const F = model.bytes.byteLength
  const setupStarted = performance.now()
  const seed = await startNode(fleet, cap, options.seed * 100_000, options)
  await seedStore(seed.store, model)
  const peers: SwarmNode[] = []
  for (let i = 0; i < n; i++) peers.push(await startNode(fleet, cap, options.seed * 100_000 + i + 1, options))
  const random = seededRandom(options.seed * 7919 + n)
  const dial = async (from: SwarmNode, to: SwarmNode): Promise<void> => {
    await from.libp2p.dial(multiaddr(`${to.address}/p2p/${to.libp2p.peerId.toString()}`))
  }
  for (const [i, p] of peers.entries()) {
    await dial(p, seed)
    const others = peers.filter((_, j) => j !== i)
    for (let k = 0; k < Math.min(options.links, others.length); k++) {
      const j = Math.floor(random() * others.length)
      await dial(p, others.splice(j, 1)[0]!)
    }
  }
  const unidentified = await identified([seed, ...peers])
  if (unidentified > 0) process.stderr.write(`  ${unidentified} connection(s) not identified after 60 s; going on\n`)
  const setupS = (performance.now() - setupStarted) / 1000

  const errors: string[] = []
  const completionS: number[] = new Array<number>(n).fill(Number.NaN)
  const results: Array<FetchResult | undefined> = new Array<FetchResult | undefined>(n)
  const cpu0 = process.cpuUsage()
  const elu0 = performance.eventLoopUtilization()
  const t0 = performance.now()
  const signal = AbortSignal.timeout(options.timeoutS * 1000)
  const received = new Array<number>(n).fill(0)
  const done = new Array<number>(n).fill(0)
  const inflight = new Array<number>(n).fill(0)
  let tracer: NodeJS.Timeout | undefined
  if (options.trace) {
    let last = { t: 0, rx: 0, seed: 0 }
    tracer = setInterval(() => {
      const t = (performance.now() - t0) / 1000
      const rx = sum(received)
      const seedTx = seed.server.stats().bytesSent
      const up = [...peers.map(p => p.server.stats().activeStreams)]
      process.stderr.write(`    t=${fmt(t, 0)}s rx ${fmt((rx - last.rx) / (t - last.t) / 1e6, 2)} MB/s seed ${fmt((seedTx - last.seed) / (t - last.t) / 1e6, 2)} MB/s ` +
        `done min ${Math.min(...done)} med ${median(done)} max ${Math.max(...done)} inflight ${sum(inflight)} serving ${sum(up)} seedq ${seed.server.stats().activeStreams} ` +
        `heap ${fmt(process.memoryUsage().heapUsed / 1e6, 0)} MB ab ${fmt(process.memoryUsage().arrayBuffers / 1e6, 0)} MB elu ${fmt(performance.eventLoopUtilization().utilization, 2)}\n`)
      last = { t, rx, seed: seedTx }
    }, 5000)
  }
  await Promise.all(peers.map(async (p, i) => {
    try {
      results[i] = await p.fetcher.fetch(model.sealed.cid, {
        signal,
        onProgress: pr => {
          received[i] = pr.bytesReceived
          done[i] = pr.chunksDone
          inflight[i] = pr.peers.reduce((a, x) => a + x.inFlight, 0)
        }
      })
      completionS[i] = (performance.now() - t0) / 1000
    } catch (err) {
      errors.push(`node ${i}: ${(err as Error).message}`)
    }
  }))
  clearInterval(tracer)
  const wallS = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  const elu = performance.eventLoopUtilization(elu0)

  let digestsOk = errors.length === 0
  for (const p of peers) {
    if (!digestsOk) break
    digestsOk = rawCid(await p.store.assemble(model.sealed.cid)) === model.sealed.manifest.digest
  }
  const run: P2pRun = {
    n,
    ok: errors.length === 0 && digestsOk,
    errors,
    completionS,
    lastS: Math.max(...completionS),
    tMinS: Math.max(F / cap, F / cap, n * F / (cap + n * cap)),
    originEgressBytes: seed.server.stats().bytesSent,
    receivedBytes: sum(results.map(r => r?.bytesReceived ?? 0)),
    digestsOk,
    cpuCores: (cpu.user + cpu.system) / 1e6 / wallS,
    eventLoopUtilization: elu.utilization,
    setupS
  }
  for (const node of [seed, ...peers]) {
    node.fetcher.stop()
    await node.server.stop()
    await node.libp2p.stop()
  }
  return run
}

interface HttpRun {
  n: number
  windowS: number
  originSentBytes: number
  clientBytes: number[]
  /** Model fraction the median and the best client had at the end of the window. */
  medianFraction: number
  bestFraction: number
  originRateBytesPerSec: number
  /** N*F at the rate the origin held: when the last client would finish. */
  projectedLastS: number
}

/** Resolves when a response can take more data, or is gone. */
async function drained (res: import('node:http').ServerResponse): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      res.off('drain', done)
      res.off('close', done)
      resolve()
    }
    res.on('drain', done)
    res.on('close', done)
  })
}

/** N clients fetch the model from one node:http origin for `windowS` seconds, all capped. */
async function runHttp (n: number, mbit: number, model: TestModel, windowS: number): Promise<HttpRun> {
  const cap = mbit * 1e6 / 8
  const F = model.bytes.byteLength
  const origin = new TokenBucket(systemClock, cap)
  let originSent = 0
  const piece = 64 * 1024
  const server = createServer((req, res) => {
    let closed = false
    res.on('close', () => { closed = true })
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(F) })
    void (async () => {
      for (let offset = 0; offset < F && !closed; offset += piece) {
        const data = model.bytes.subarray(offset, offset + piece)
        await origin.take(data.byteLength)
        if (closed) break
        originSent += data.byteLength
        if (!res.write(data)) await drained(res)
      }
      res.end()
    })()
  })
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity })
  const clientBytes = new Array<number>(n).fill(0)
  const controller = new AbortController()
  const t0 = performance.now()
  const clients = Array.from({ length: n }, async (_, i) => {
    const bucket = new TokenBucket(systemClock, cap)
    try {
      const res = await new Promise<import('node:http').IncomingMessage>((resolve, reject) => {
        const req = get({ host: '127.0.0.1', port, path: '/model', agent, signal: controller.signal }, resolve)
        req.on('error', reject)
      })
      for await (const chunk of res as AsyncIterable<Buffer>) {
        clientBytes[i]! += chunk.byteLength
        await bucket.take(chunk.byteLength, { signal: controller.signal })
      }
    } catch (err) {
      if (!controller.signal.aborted) throw err
    }
  })
  await new Promise(resolve => setTimeout(resolve, windowS * 1000))
  const elapsedS = (performance.now() - t0) / 1000
  const sentInWindow = originSent
  controller.abort()
  await Promise.allSettled(clients)
  server.closeAllConnections()
  server.close()
  agent.destroy()
  const rate = sum(clientBytes) / elapsedS
  const fractions = clientBytes.map(b => b / F)
  return {
    n,
    windowS: elapsedS,
    originSentBytes: sentInWindow,
    clientBytes,
    medianFraction: median(fractions),
    bestFraction: Math.max(...fractions),
    originRateBytesPerSec: rate,
    projectedLastS: n * F / rate
  }
}

async function main (): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  const started = performance.now()
  const { fleet, adminKey } = await createTestFleet('bench')
  const models = new Map<string, TestModel>()
  const modelFor = async (mib: number, chunkKiB: number): Promise<TestModel> => {
    const key = `${mib}/${chunkKiB}`
    let m = models.get(key)
    if (m == null) models.set(key, m = await makeTestModel(seededBytes(mib * 1024 * 1024, options.seed), adminKey, { chunkBytes: chunkKiB * 1024 }))
    return m
  }
  print(`distribution benchmark: plan ${options.plan.map(p => `N=${p.n} at ${p.mbit} Mbit/s with ${p.modelMiB} MiB in ${p.chunkKiB} KiB chunks`).join('; ')}; ` +
    `every node's upload and download capped by its own token bucket; ${options.links} random links per node plus the seed; node ${process.version}`)

  // 1. The cap, not the CPU, is the limit: one seed, one downloader, the first scenario's cap and model.
  const first = options.plan[0]!
  const firstModel = await modelFor(first.modelMiB, first.chunkKiB)
  const firstCap = first.mbit * 1e6 / 8
  const two = options.twoNode ? await runP2p(1, first.mbit, fleet, firstModel, options) : undefined
  const twoRate = two == null ? Number.NaN : firstModel.bytes.byteLength / two.lastS
  if (two != null) {
    print(`\ntwo nodes at ${first.mbit} Mbit/s: ${fmt(firstModel.bytes.byteLength / 1e6, 1)} MB in ${fmt(two.lastS, 1)} s = ${fmt(twoRate / 1e6, 3)} MB/s = ` +
      `${fmt(twoRate / firstCap, 3)} x the cap (goal >= 0.9), CPU ${fmt(two.cpuCores, 2)} cores${two.ok ? '' : `, FAILED: ${two.errors.join('; ')}`}`)
  } else {
    print('\ntwo-node check skipped (--no-two-node)')
  }

  const runs: Array<{ scenario: Scenario, F: number, chunks: number, p2p: P2pRun, http: HttpRun }> = []
  for (const scenario of options.plan) {
    const { n, mbit } = scenario
    const model = await modelFor(scenario.modelMiB, scenario.chunkKiB)
    const F = model.bytes.byteLength
    const p2p = await runP2p(n, mbit, fleet, model, options)
    process.stderr.write(`  N=${n} p2p: last ${fmt(p2p.lastS, 1)} s, T_min ${fmt(p2p.tMinS, 1)} s, egress ${fmt(p2p.originEgressBytes / F, 2)} F, ` +
      `CPU ${fmt(p2p.cpuCores, 2)} cores${p2p.ok ? '' : ` FAILED: ${p2p.errors.slice(0, 3).join('; ')}`}\n`)
    const http = await runHttp(n, mbit, model, Math.min(options.httpWindowS, Number.isFinite(p2p.lastS) ? p2p.lastS : options.httpWindowS))
    process.stderr.write(`  N=${n} http: ${fmt(http.originRateBytesPerSec / 1e6, 3)} MB/s from the origin, median client ${fmt(100 * http.medianFraction, 1)}% ` +
      `after ${fmt(http.windowS, 1)} s, projected last ${fmt(http.projectedLastS, 0)} s\n`)
    runs.push({ scenario, F, chunks: model.chunks.length, p2p, http })
  }

  for (const { scenario, F, chunks, p2p, http } of runs) {
    const n = p2p.n
    const cap = scenario.mbit * 1e6 / 8
    print()
    print(`N = ${n} at ${scenario.mbit} Mbit/s, model ${fmt(F / 1e6, 1)} MB in ${chunks} chunks  (T_min = ${fmt(p2p.tMinS, 1)} s; ` +
      `p2p ${p2p.ok ? 'complete, every digest verified' : 'FAILED'}; setup ${fmt(p2p.setupS, 1)} s)`)
    print(table(['', 'tutti p2p', 'http origin', 'goal'], [
      ['origin egress / model size', fmt(p2p.originEgressBytes / F, 3), `${n} (by construction)`, '<= 1.1 at N = 50'],
      ['last node done / T_min', fmt(p2p.lastS / p2p.tMinS, 3), `${fmt(http.projectedLastS / p2p.tMinS, 1)} (projected)`, '<= 1.3'],
      ['bytes received by all / (N x F)', fmt(p2p.receivedBytes / (n * F), 3), '1.000 (by construction)', '<= 1.05'],
      ['last node done (s)', fmt(p2p.lastS, 1), `${fmt(http.projectedLastS, 0)} (projected)`, ''],
      ['median node done (s)', fmt(median(p2p.completionS), 1), `${fmt(http.projectedLastS, 0)} (projected)`, ''],
      [`model share held after ${fmt(http.windowS, 0)} s, median node`, '', `${fmt(100 * http.medianFraction, 1)}%`, ''],
      ['origin upload used (MB/s)', fmt(p2p.originEgressBytes / p2p.lastS / 1e6, 3), fmt(http.originRateBytesPerSec / 1e6, 3), `cap ${fmt(cap / 1e6, 3)}`],
      ['CPU cores busy (process)', fmt(p2p.cpuCores, 2), '', '2 available'],
      ['event loop utilisation', fmt(p2p.eventLoopUtilization, 2), '', '']
    ]))
  }

  const totalS = (performance.now() - started) / 1000
  const file = await writeResults('distribution', {
    benchmark: 'distribution',
    date: new Date().toISOString(),
    machine: machine(),
    options,
    totalSeconds: totalS,
    twoNode: two == null ? null : { mbit: first.mbit, modelBytes: firstModel.bytes.byteLength, seconds: two.lastS, bytesPerSec: twoRate, ofCap: twoRate / firstCap, cpuCores: two.cpuCores, ok: two.ok },
    runs: runs.map(({ scenario, F, chunks, p2p, http }) => ({
      ...scenario,
      modelBytes: F,
      chunks,
      p2p: {
        ...p2p,
        completionS: p2p.completionS.map(s => Math.round(s * 100) / 100),
        originEgressOverF: p2p.originEgressBytes / F,
        lastOverTmin: p2p.lastS / p2p.tMinS,
        receivedOverNF: p2p.receivedBytes / (p2p.n * F)
      },
      http: { ...http, clientBytes: undefined, projectedLastOverTmin: http.projectedLastS / p2p.tMinS, originEgressOverF: p2p.n }
    }))
  })
  print()
  print(`total ${fmt(totalS, 1)} s; results written to ${file}`)
  const allOk = (two?.ok ?? true) && runs.every(r => r.p2p.ok)
  return allOk ? 0 : 1
}

process.exitCode = await main()
