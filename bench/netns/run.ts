/**
 * One run of the netns benchmark on a fresh lab: an origin holding the model and N downloaders,
 * each a `tutti node start` process in its own namespace, every link capped both ways. All pulls
 * start at once (one admin call per node, issued together from this process over connections
 * opened beforehand); then, on the same links, the same N namespaces fetch the same file from
 * `python3 -m http.server` in the origin's namespace with `curl`.
 */
import { createHash } from 'node:crypto'
import { createReadStream, openSync, closeSync } from 'node:fs'
import { access, mkdir, readFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { callAdmin } from '../../protocols/admin/index.js'
import { loadAdminKey, loadFleet, swarmKey } from '../../node/fleet/fleet.js'
import { createDialerLibp2p } from '../../node/mesh/dialer.js'
import { ModelStore } from '../../node/models/store.js'
import { createLab, cpuSeconds, nftAvailable } from '../../sim/netns/lab.js'
import { signedRollout } from '../../test/rollout-helpers.js'
import { firstCopies, parseChunkRecord } from './swarm.js'
import type { ChildProcess } from 'node:child_process'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Counters, Lab, LabNode, TcpCounters } from '../../sim/netns/lab.js'
import type { ModelJob } from '../../node/models/service.js'
import type { FetchProgress } from '../../node/fetcher/index.js'
import type { ChunkServerStats } from '../../protocols/chunks/index.js'
import type { ChunkRecord, FirstCopies } from './swarm.js'

const BIN = fileURLToPath(new URL('../../bin/tutti.js', import.meta.url))
const RAW_STREAM = fileURLToPath(new URL('./raw-stream.ts', import.meta.url))
const TUTTI_PORT = 7410
const HTTP_PORT = 8000
const RAW_PORT = 7420

export interface RunConfig {
  run: number
  nodes: number
  rateMbit: number
  queueMs: number
  /** Every namespace's TCP congestion control (`--tcp-cc`); unset: the host's. */
  tcpCongestion?: string
  heartbeatMs: number
  /** `tutti node start --transfer` pairs for every node. */
  transfer: string[]
  /** `tutti node start --log-level` of every node (their node.log, kept with --keep). @default info */
  logLevel?: string
  timeoutMs: number
  settleMs: number
  /** The idle window before the barrier in which background traffic is measured. */
  idleMs: number
  http: boolean
  /** Also run the CPU baseline: the same libp2p stack streaming the file raw from the origin. */
  raw: boolean
  workDir: string
  fleetFile: string
  adminKeyFile: string
  packageDir: string
  modelFile: string
  cid: string
  sizeBytes: number
  sha256: string
  /** The package's model name and version (what a rollout manifest names). */
  modelName: string
  modelVersion: string
  /** Start the downloads with a rollout (one `policies.apply`, as `tutti apply`) instead of a pull per node. */
  rollout?: RolloutPlan
  log: (line: string) => void
  /** Called with the lab as soon as it exists, so a signal handler can destroy it. */
  onLab: (lab: Lab | undefined) => void
}

/** The rollout that starts the downloads in `--start rollout` runs: every downloader, none of the origin. */
export interface RolloutPlan {
  /** `strategy.steps` as YAML flow text: `[ {setPercent: 10}, {pause: 5s}, {setPercent: 100} ]`. */
  steps: string
  prefetch: boolean
  /** The timed pauses' sum, ms (the lower bound's share that is not transfer). */
  pausesMs: number
  /** The plan's setPercent steps: waves that download one after another (see rolloutBoundMs). */
  waves: number
}

/** Requests a device answered from rollout coordinators (`describe node` on itself). */
export interface Asked { prepare: number, command: number, report: number }

export interface NodeResult {
  name: string
  /** ms from the start barrier to the model on disk (job finished), or null if it never was. */
  doneMs: number | null
  /** ms from the barrier to the admin call's answer. */
  ackMs: number | null
  /** ms from the barrier to the node's own job start (same host clock). */
  startedMs: number | null
  /** Rollout runs: ms from the barrier to the device's first rollout state (its command accepted), and to Verifying (downloaded). */
  commandMs?: number
  downloadedMs?: number
  /** Rollout runs: what coordinators asked of this device over the run. */
  asked?: Asked
  /** A pull that had not finished when the run ended: its last progress report. */
  progress?: FetchProgress
  /** The fetcher's download time, and the time between it and the job's end (assembly). */
  fetchMs?: number
  assembleMs?: number
  state: string
  error?: string
  sha256ok: boolean
  rxBytes: number
  txBytes: number
  rxPackets: number
  /** Bytes per second the node received while the mesh stood idle before the barrier (gossip, DHT, pings). */
  idleRxBytesPerSec?: number
  /** CPU cores the node used in that idle window. */
  idleCpuCores?: number
  /** What the fetcher itself counted as received (chunk payloads and framing it saw). */
  fetcherBytesReceived?: number
  cpuS: number
  fromPeers?: number
  /**
   * Per sending node: IP bytes the kernel counted from it (nftables; headers included) and chunk
   * bytes the fetcher counted from it. Absent without nft.
   */
  sources?: Array<{ from: string, kernelBytes: number, fetcherBytes: number }>
  /**
   * When the kernel had counted 5 % and 95 % of what the node received by the end (ms from the
   * barrier, sampled every RX_SAMPLE_MS), and the downlink's use between them (bits received /
   * (time x the cap)): how long the start and the end take, and how full the link runs in between.
   * At the cap, each 5 % takes `stepMs`.
   */
  rxProfile?: { at5Ms: number, at95Ms: number, middleLinkUse: number, stepMs: number }
}

/** How often the harness reads each downloader's kernel counters while the download runs, ms. */
const RX_SAMPLE_MS = 250

/** The rx profile of one node from its samples (ms since the barrier, bytes received since it). */
function rxProfile (samples: ReadonlyArray<readonly [number, number]>, totalBytes: number, rateMbit: number): NodeResult['rxProfile'] {
  const at = (fraction: number): [number, number] | undefined => {
    const s = samples.find(([, b]) => b >= fraction * totalBytes)
    return s == null ? undefined : [s[0], s[1]]
  }
  const a = at(0.05)
  const b = at(0.95)
  if (a == null || b == null || b[0] <= a[0]) return undefined
  return { at5Ms: a[0], at95Ms: b[0], middleLinkUse: ((b[1] - a[1]) * 8) / (((b[0] - a[0]) / 1000) * rateMbit * 1e6), stepMs: (0.05 * totalBytes * 8) / (rateMbit * 1e6) * 1000 }
}

export interface SideResult {
  nodes: NodeResult[]
  originTxBytes: number
  /** The origin's TCP segments sent and retransmitted during the download (its namespace's counters). */
  originTcp: TcpCounters
  /** The downloaders' TCP counters summed (Tutti's peers upload too; HTTP's and raw's only acknowledge). */
  downloadersTcp: TcpCounters
  /** Packets each node's tbf queues dropped during the download (origin included), by node name. */
  tbfDrops: Record<string, { up: number, down: number }>
  originCpuS: number
  wallMs: number
}

export interface RunResult {
  run: number
  tutti: SideResult & {
    settleMs: number
    aliveAtBarrier: number[]
    startSkewAckMs: number
    startSkewNodeMs: number
    rollout?: RolloutOutcome
    /** The origin's chunk server at the end: fresh offers it made as a seed, by reason (offers.ts OfferReason). */
    originSeedOffers?: Record<string, number>
    /** When the swarm first held each chunk (from the nodes' debug logs: only with `--log-level debug`). */
    firstCopies?: FirstCopies
  }
  http?: SideResult
  /** The libp2p stack alone; each node's cpuS is its CPU over the transfer only. */
  raw?: SideResult
}

export interface RolloutOutcome {
  name: string
  /** ms from the barrier to `policies.apply`'s answer (the policy durable on the attached node). */
  appliedMs: number | null
  /** As the attached node holds the rollout's progress at the end. */
  phase?: string
  coordinator?: string
  epoch?: number
  /** ms from the barrier to the attached node holding the progress Completed (what `rollout status` waits for). */
  completedMs?: number
  /** Requests all devices answered from coordinators over the run, by kind. */
  requests: Asked
  error?: string
}

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

async function sha256File (file: string): Promise<string | undefined> {
  try {
    const hash = createHash('sha256')
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer)
    return hash.digest('hex')
  } catch {
    return undefined
  }
}

async function exists (file: string): Promise<boolean> {
  try {
    await access(file)
    return true
  } catch {
    return false
  }
}

/** What the kernel counted of losses on the links at one moment: TCP retransmissions and tbf drops. */
interface LossSnapshot {
  originTcp: TcpCounters
  downloadersTcp: TcpCounters
  drops: Map<string, { up: number, down: number }>
}

function lossSnapshot (lab: Lab, origin: LabNode, downloaders: LabNode[]): LossSnapshot {
  const tcp = (nodes: LabNode[]): TcpCounters => nodes.map(n => lab.tcpCounters(n)).reduce((a, x) => ({ outSegs: a.outSegs + x.outSegs, retransSegs: a.retransSegs + x.retransSegs }), { outSegs: 0, retransSegs: 0 })
  return { originTcp: tcp([origin]), downloadersTcp: tcp(downloaders), drops: new Map([origin, ...downloaders].map(n => [n.name, lab.tbfDrops(n)])) }
}

function lossesBetween (a: LossSnapshot, b: LossSnapshot): Pick<SideResult, 'originTcp' | 'downloadersTcp' | 'tbfDrops'> {
  const tcp = (x: TcpCounters, y: TcpCounters): TcpCounters => ({ outSegs: y.outSegs - x.outSegs, retransSegs: y.retransSegs - x.retransSegs })
  return {
    originTcp: tcp(a.originTcp, b.originTcp),
    downloadersTcp: tcp(a.downloadersTcp, b.downloadersTcp),
    tbfDrops: Object.fromEntries([...b.drops].map(([name, x]) => [name, { up: x.up - (a.drops.get(name)?.up ?? 0), down: x.down - (a.drops.get(name)?.down ?? 0) }]))
  }
}

/** The downloaders' `chunk stored` records (debug level) read back from their node.log files. */
async function readFirstCopies (procs: Proc[], originPeerId: string, t0: number): Promise<FirstCopies | undefined> {
  const records: ChunkRecord[] = []
  for (const p of procs) {
    const text = await readFile(join(p.dir, 'node.log'), 'utf8').catch(() => '')
    for (const line of text.split('\n')) {
      const r = parseChunkRecord(p.node.name, line)
      if (r !== undefined) records.push(r)
    }
  }
  return firstCopies(records, originPeerId, t0)
}

function delta (a: Counters, b: Counters): Counters {
  return { rxBytes: b.rxBytes - a.rxBytes, txBytes: b.txBytes - a.txBytes, rxPackets: b.rxPackets - a.rxPackets, txPackets: b.txPackets - a.txPackets }
}

interface Proc { node: LabNode, dir: string, child: ChildProcess, peerId?: string, addr?: string }

/** Starts `tutti node start` in the node's namespace and waits for its node.json. */
async function startTutti (lab: Lab, node: LabNode, dir: string, cfg: RunConfig, bootstrap?: string): Promise<Proc> {
  await mkdir(dir, { recursive: true })
  const log = openSync(join(dir, 'node.log'), 'a')
  const args = [BIN, 'node', 'start', '--data', dir, '--fleet', cfg.fleetFile, '--listen', `/ip4/${node.ip}/tcp/${TUTTI_PORT}`,
    '--api', '127.0.0.1:0', '--heartbeat-ms', String(cfg.heartbeatMs), '--label', `role=${bootstrap == null ? 'origin' : 'device'}`,
    ...cfg.transfer.flatMap(t => ['--transfer', t]), ...(cfg.logLevel != null ? ['--log-level', cfg.logLevel] : []), ...(bootstrap != null ? ['--bootstrap', bootstrap] : [])]
  const child = lab.spawn(node, process.execPath, args, { stdio: ['ignore', log, log], env: { ...process.env, TUTTI_DEBUG: '' } })
  closeSync(log)
  const proc: Proc = { node, dir, child }
  // 21 node processes starting at once on 2 cores take a while.
  const deadline = Date.now() + 120_000
  for (;;) {
    try {
      const info = JSON.parse(await readFile(join(dir, 'node.json'), 'utf8')) as { peerId: string }
      proc.peerId = info.peerId
      proc.addr = `/ip4/${node.ip}/tcp/${TUTTI_PORT}/p2p/${info.peerId}`
      return proc
    } catch {
      // not written yet
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${node.name} exited before it started; see ${join(dir, 'node.log')}`)
    if (Date.now() > deadline) throw new Error(`${node.name} did not start within 120 s; see ${join(dir, 'node.log')}`)
    await sleep(100)
  }
}

async function aliveSeen (libp2p: Libp2p, proc: Proc): Promise<number> {
  try {
    const res = await callAdmin<{ nodes: Array<{ status: string }> }>(libp2p, multiaddr(proc.addr!), 'nodes.list', {}, { signal: AbortSignal.timeout(5000) })
    return res.nodes.filter(n => n.status === 'alive').length
  } catch {
    return 0
  }
}

async function tuttiSide (lab: Lab, origin: LabNode, downloaders: LabNode[], cfg: RunConfig): Promise<RunResult['tutti']> {
  const runDir = join(cfg.workDir, `run-${cfg.run}`)
  // The origin holds the model before it starts: imported into its store as `tutti model push` would.
  const originDir = join(runDir, 'origin')
  const fleet = await loadFleet(cfg.fleetFile)
  const store = await ModelStore.open({ root: join(originDir, 'models'), fleet })
  await store.importPackage(cfg.packageDir)
  await store.close()
  const originProc = await startTutti(lab, origin, originDir, cfg)
  const procs = await Promise.all(downloaders.map(async n => await startTutti(lab, n, join(runDir, n.name), cfg, originProc.addr)))
  cfg.log(`  tutti: ${procs.length + 1} processes up`)

  const { key } = await loadAdminKey(cfg.adminKeyFile)
  const libp2p = await createDialerLibp2p({ privateKey: key, swarmKey: swarmKey(fleet) })
  await libp2p.start()
  try {
    // Settle: every node sees every node alive (or the settle time runs out), connections open.
    const settleStart = Date.now()
    let alive: number[] = []
    for (;;) {
      alive = await Promise.all(procs.map(async p => await aliveSeen(libp2p, p)))
      if (alive.every(a => a >= procs.length + 1) || Date.now() - settleStart > cfg.settleMs) break
      await sleep(1000)
    }
    const settleMs = Date.now() - settleStart
    cfg.log(`  tutti: mesh settled in ${(settleMs / 1000).toFixed(1)} s (alive seen: min ${Math.min(...alive)} of ${procs.length + 1})`)

    const all = [origin, ...downloaders]
    const perSource = nftAvailable()
    if (perSource) for (const n of downloaders) lab.countSources(n, all.filter(x => x !== n))
    // Background traffic (heartbeats, gossip, DHT, pings) with no download running.
    const pids = new Map([originProc, ...procs].map(p => [p.node.name, p.child.pid!]))
    const idleStart = new Map(all.map(n => [n.name, lab.counters(n)]))
    const idleCpuStart = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]))
    const idleT0 = Date.now()
    await sleep(cfg.idleMs)
    const idleS = (Date.now() - idleT0) / 1000
    const idleRate = new Map(all.map(n => [n.name, (lab.counters(n).rxBytes - idleStart.get(n.name)!.rxBytes) / idleS]))
    const idleCpu = new Map([...pids].map(([name, pid]) => [name, (cpuSeconds(pid) - idleCpuStart.get(name)!) / idleS]))
    const before = new Map(all.map(n => [n.name, lab.counters(n)]))
    const lossBefore = lossSnapshot(lab, origin, downloaders)
    const fromBefore = new Map(downloaders.map(n => [n.name, perSource ? lab.bytesFrom(n) : new Map<string, number>()]))
    const cpuBefore = new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)]))
    const t0 = Date.now()
    const samples = new Map(downloaders.map(n => [n.name, [] as Array<readonly [number, number]>]))
    const sample = (): void => {
      const ms = Date.now() - t0
      for (const n of downloaders) samples.get(n.name)!.push([ms, lab.counters(n).rxBytes - before.get(n.name)!.rxBytes])
    }
    const sampler = setInterval(sample, RX_SAMPLE_MS)
    // Counters and CPU are read the moment the last node is done or failed (`ended`), before the
    // answers the report needs are asked for.
    let end: { wallMs: number, after: Map<string, Counters>, lossAfter: LossSnapshot, fromAfter: Map<string, Map<string, number>>, cpuAfter: Map<string, number> } | undefined
    const ended = (): void => {
      end ??= {
        wallMs: Date.now() - t0,
        after: new Map(all.map(n => [n.name, lab.counters(n)])),
        fromAfter: new Map(downloaders.map(n => [n.name, perSource ? lab.bytesFrom(n) : new Map<string, number>()])),
        cpuAfter: new Map([...pids].map(([name, pid]) => [name, cpuSeconds(pid)])),
        // Last: three commands per node, which at N = 50 take a second the CPU figures must not count.
        lossAfter: lossSnapshot(lab, origin, downloaders)
      }
    }
    const started = cfg.rollout != null
      ? await startByRollout(libp2p, originProc, procs, cfg, cfg.rollout, key, t0, ended)
      : await startByPulls(libp2p, procs, cfg, t0, ended)
    ended()
    clearInterval(sampler)
    sample()
    const { wallMs, after, lossAfter, fromAfter, cpuAfter } = end!
    const originStats = await callAdmin<{ stats: ChunkServerStats | null }>(libp2p, multiaddr(originProc.addr!), 'models.serverStats', {}, { signal: AbortSignal.timeout(10_000) })
      .catch((err: Error) => { cfg.log(`  tutti: the origin's chunk server stats: ${err.message}`); return undefined })
    const byIp = new Map([originProc, ...procs].map(p => [p.node.ip, p]))
    const doneCount = started.nodes.filter(x => x.doneMs != null).length
    cfg.log(`  tutti: ${doneCount}/${procs.length} done after ${(wallMs / 1000).toFixed(1)} s${started.nodes.some(x => x.failed) ? `, ${started.nodes.filter(x => x.failed).length} failed` : ''}`)

    const nodes: NodeResult[] = await Promise.all(procs.map(async (p, i) => {
      const s = started.nodes[i]!
      const d = delta(before.get(p.node.name)!, after.get(p.node.name)!)
      const sha = await sha256File(modelFile(p, cfg))
      return {
        name: p.node.name,
        doneMs: s.doneMs,
        ackMs: s.ackMs,
        startedMs: s.startedMs,
        commandMs: s.commandMs,
        downloadedMs: s.downloadedMs,
        asked: s.asked,
        progress: s.progress,
        fetchMs: s.fetchMs,
        assembleMs: s.assembleMs,
        state: s.state,
        error: s.error,
        sha256ok: sha === cfg.sha256,
        rxBytes: d.rxBytes,
        txBytes: d.txBytes,
        rxPackets: d.rxPackets,
        idleRxBytesPerSec: idleRate.get(p.node.name),
        idleCpuCores: idleCpu.get(p.node.name),
        fetcherBytesReceived: s.fetcherBytesReceived,
        cpuS: cpuAfter.get(p.node.name)! - cpuBefore.get(p.node.name)!,
        fromPeers: s.fetcherPeers != null ? s.fetcherPeers.filter(x => x.peerId !== originProc.peerId).reduce((a, x) => a + x.chunks, 0) / Math.max(1, s.chunksFetched ?? 0) : undefined,
        sources: perSource
          ? [...fromAfter.get(p.node.name)!].map(([ip, bytes]) => {
              const sender = byIp.get(ip)
              return {
                from: sender?.node.name ?? ip,
                kernelBytes: bytes - (fromBefore.get(p.node.name)!.get(ip) ?? 0),
                fetcherBytes: s.fetcherPeers?.find(x => x.peerId === sender?.peerId)?.bytes ?? 0
              }
            })
          : undefined,
        rxProfile: rxProfile(samples.get(p.node.name)!, d.rxBytes, cfg.rateMbit)
      }
    }))
    const acks = nodes.map(n => n.ackMs).filter((x): x is number => x != null)
    const starts = nodes.map(n => n.startedMs).filter((x): x is number => x != null)
    return {
      nodes,
      originTxBytes: delta(before.get(origin.name)!, after.get(origin.name)!).txBytes,
      ...lossesBetween(lossBefore, lossAfter),
      originCpuS: cpuAfter.get(origin.name)! - cpuBefore.get(origin.name)!,
      wallMs,
      settleMs,
      aliveAtBarrier: alive,
      startSkewAckMs: acks.length > 0 ? Math.max(...acks) - Math.min(...acks) : Number.NaN,
      startSkewNodeMs: starts.length > 0 ? Math.max(...starts) - Math.min(...starts) : Number.NaN,
      rollout: started.rollout,
      originSeedOffers: originStats?.stats?.seedOffers,
      ...(cfg.logLevel === 'debug' ? { firstCopies: await readFirstCopies(procs, originProc.peerId!, t0) } : {})
    }
  } finally {
    await libp2p.stop()
  }
}

/** How one node's download went, however it was started (times in ms from the barrier). */
interface Started {
  ackMs: number | null
  startedMs: number | null
  doneMs: number | null
  failed: boolean
  state: string
  error?: string
  commandMs?: number
  downloadedMs?: number
  asked?: Asked
  fetchMs?: number
  assembleMs?: number
  fetcherBytesReceived?: number
  fetcherPeers?: Array<{ peerId: string, chunks: number, bytes: number }>
  chunksFetched?: number
  /** A pull still running at the end: its last progress (what it waits on). */
  progress?: FetchProgress
}

const modelFile = (p: Proc, cfg: RunConfig): string => join(p.dir, 'models', 'models', `${cfg.cid}.onnx`)

/** The pull barrier: one `models.pull` per node, all issued in the same tick over open connections; done = the model on disk. */
async function startByPulls (libp2p: Libp2p, procs: Proc[], cfg: RunConfig, t0: number, ended: () => void): Promise<{ nodes: Started[], rollout?: undefined }> {
  const jobs = await Promise.all(procs.map(async p => {
    try {
      const job = await callAdmin<ModelJob>(libp2p, multiaddr(p.addr!), 'models.pull', { ref: cfg.cid }, { signal: AbortSignal.timeout(30_000) })
      return { job, ackMs: Date.now() - t0 }
    } catch (err) {
      return { error: (err as Error).message, ackMs: Date.now() - t0 }
    }
  }))
  const seenMs = new Map<string, number>()
  const failed = new Set<string>()
  let lastJobCheck = Date.now()
  while (seenMs.size + failed.size < procs.length && Date.now() - t0 < cfg.timeoutMs) {
    await Promise.all(procs.map(async p => {
      if (!seenMs.has(p.node.name) && await exists(modelFile(p, cfg))) seenMs.set(p.node.name, Date.now() - t0)
    }))
    // A job that failed will not finish: every 5 s, ask the nodes not done yet (a few hundred bytes).
    if (Date.now() - lastJobCheck >= 5000) {
      lastJobCheck = Date.now()
      await Promise.all(procs.map(async (p, i) => {
        const id = jobs[i]!.job?.id
        if (seenMs.has(p.node.name) || failed.has(p.node.name)) return
        if (id == null) {
          failed.add(p.node.name)
          return
        }
        const job = await callAdmin<ModelJob>(libp2p, multiaddr(p.addr!), 'models.job', { id }, { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
        if (job?.state === 'failed') failed.add(p.node.name)
      }))
    }
    await sleep(100)
  }
  ended()
  const nodes = await Promise.all(procs.map(async (p, i): Promise<Started> => {
    const first = jobs[i]!
    let job = first.job
    if (job != null) {
      // The model file appears at the rename; the job is done a moment later (directory fsync,
      // state). Asked at once it may still say running, without its fetch figures: wait up to 15 s.
      const until = Date.now() + 15_000
      for (;;) {
        try {
          job = await callAdmin<ModelJob>(libp2p, multiaddr(p.addr!), 'models.job', { id: job.id }, { signal: AbortSignal.timeout(10_000) })
        } catch {
          break // keep the last answer
        }
        if (job.state !== 'running' || !seenMs.has(p.node.name) || Date.now() >= until) break
        await sleep(200)
      }
    }
    return {
      ackMs: first.ackMs,
      startedMs: job != null ? job.startedMs - t0 : null,
      doneMs: job?.state === 'done' && job.finishedMs != null ? job.finishedMs - t0 : seenMs.get(p.node.name) ?? null,
      failed: failed.has(p.node.name),
      state: job?.state ?? 'not started',
      error: first.error ?? job?.error?.message,
      fetchMs: job?.result?.durationMs,
      assembleMs: job?.result != null && job.finishedMs != null ? job.finishedMs - job.startedMs - job.result.durationMs : undefined,
      fetcherBytesReceived: job?.result?.bytesReceived,
      fetcherPeers: job?.result?.peers,
      chunksFetched: job?.result?.chunksFetched,
      progress: job?.state === 'running' ? job.progress : undefined
    }
  }))
  return { nodes }
}

/** One record of a device's `rollouts.json` (node/rollouts/agent.ts), the fields read here. */
interface DeviceRecord { device?: { kind: string, reason?: string }, updatedMs: number }

async function deviceRecord (p: Proc, rollout: string): Promise<DeviceRecord | undefined> {
  try {
    const doc = JSON.parse(await readFile(join(p.dir, 'rollouts.json'), 'utf8')) as { records?: Record<string, DeviceRecord> }
    return doc.records?.[rollout]
  } catch {
    return undefined // not written yet, or read while being replaced
  }
}

const ENDED = new Set(['Failed', 'TimedOut', 'RolledBack'])

/**
 * The rollout barrier: one signed policy applied on the first downloader, as `tutti apply` attached
 * to it; the elected coordinator then commands the waves. Each device's state comes from its own
 * `rollouts.json`, read from this host's file system every 200 ms (no traffic on the capped links):
 * a state's time is the device's own record of it (`updatedMs`, the same host clock). Done = Active.
 */
async function startByRollout (libp2p: Libp2p, origin: Proc, procs: Proc[], cfg: RunConfig, plan: RolloutPlan, adminKey: PrivateKey, t0: number, ended: () => void): Promise<{ nodes: Started[], rollout: RolloutOutcome }> {
  const name = `netns-run-${cfg.run}`
  const yaml = `apiVersion: tutti.dev/v1
kind: Rollout
metadata: { name: ${name} }
spec:
  model: { name: ${cfg.modelName}, version: ${cfg.modelVersion} }
  selector: { matchLabels: { role: device } }
  strategy:
    steps: ${plan.steps}
    activationTimeout: ${Math.ceil(cfg.timeoutMs / 1000)}s${plan.prefetch ? '\n    prefetch: true' : ''}
`
  const { envelope } = await signedRollout(adminKey, yaml, cfg.cid, 1)
  const attached = procs[0]!
  let appliedMs: number | null = null
  let error: string | undefined
  try {
    await callAdmin(libp2p, multiaddr(attached.addr!), 'policies.apply', { envelope: Buffer.from(envelope).toString('base64') }, { signal: AbortSignal.timeout(30_000) })
    appliedMs = Date.now() - t0
  } catch (err) {
    error = `policies.apply: ${(err as Error).message}`
  }
  const firstSeen = procs.map(() => new Map<string, number>())
  const over = new Set<number>()
  while (error == null && over.size < procs.length && Date.now() - t0 < cfg.timeoutMs) {
    await Promise.all(procs.map(async (p, i) => {
      if (over.has(i)) return
      const r = await deviceRecord(p, name)
      const kind = r?.device?.kind
      if (kind == null || firstSeen[i]!.has(kind)) return
      firstSeen[i]!.set(kind, r!.updatedMs - t0)
      if (kind === 'Active' || ENDED.has(kind)) over.add(i)
    }))
    await sleep(200)
  }
  ended()
  const asked = await Promise.all(procs.map(async p => {
    const d = await callAdmin<{ node?: { rolloutRequests?: Asked } }>(libp2p, multiaddr(p.addr!), 'nodes.get', { peerId: p.peerId }, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    return d?.node?.rolloutRequests
  }))
  // What `tutti rollout status` waits for: the coordinator's progress, Completed, on the attached node.
  type Status = { rollout: { progress?: { phase: string, coordinator: string, epoch: number } } }
  let status: Status | undefined
  let completedMs: number | undefined
  const statusDeadline = Date.now() + 30_000
  while (error == null) {
    status = await callAdmin<Status>(libp2p, multiaddr(attached.addr!), 'rollouts.get', { name }, { signal: AbortSignal.timeout(10_000) }).catch(() => undefined)
    const phase = status?.rollout.progress?.phase
    if (phase === 'Completed') completedMs = Date.now() - t0
    if (phase === 'Completed' || phase === 'Aborted' || phase === 'RolledBack' || over.size < procs.length || Date.now() > statusDeadline) break
    await sleep(250)
  }
  const records = await Promise.all(procs.map(async p => await deviceRecord(p, name)))
  const nodes = procs.map((p, i): Started => {
    const seen = firstSeen[i]!
    const last = records[i]?.device
    const first = [...seen.values()].sort((a, b) => a - b)[0]
    return {
      ackMs: i === 0 ? appliedMs : null,
      startedMs: seen.get('Downloading') ?? first ?? null,
      doneMs: seen.get('Active') ?? null,
      failed: last != null && ENDED.has(last.kind),
      state: last?.kind ?? 'no command',
      error: last?.reason,
      commandMs: first,
      // Phases a moment apart can share one write of the file: the first seen after Downloading.
      downloadedMs: [seen.get('Verifying'), seen.get('Loading'), seen.get('SmokeTest')].filter((x): x is number => x != null).sort((a, b) => a - b)[0],
      asked: asked[i]
    }
  })
  const total = (k: keyof Asked): number => asked.reduce((a, x) => a + (x?.[k] ?? 0), 0)
  const progress = status?.rollout.progress
  return {
    nodes,
    rollout: {
      name,
      appliedMs,
      phase: progress?.phase,
      coordinator: progress != null ? [origin, ...procs].find(p => p.peerId === progress.coordinator)?.node.name ?? progress.coordinator : undefined,
      completedMs,
      epoch: progress?.epoch,
      requests: { prepare: total('prepare'), command: total('command'), report: total('report') },
      error
    }
  }
}

async function listening (host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = connect({ host, port }, () => { socket.end(); resolve(true) })
      socket.once('error', () => { resolve(false) })
    })
    if (ok) return
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`)
    await sleep(100)
  }
}

async function httpSide (lab: Lab, origin: LabNode, downloaders: LabNode[], cfg: RunConfig): Promise<SideResult> {
  const runDir = join(cfg.workDir, `run-${cfg.run}`, 'http')
  await mkdir(runDir, { recursive: true })
  const server = lab.spawn(origin, 'python3', ['-m', 'http.server', String(HTTP_PORT), '--bind', origin.ip, '--directory', cfg.packageDir],
    { stdio: ['ignore', 'ignore', 'ignore'] })
  await listening(origin.ip, HTTP_PORT, 30_000)
  const all = [origin, ...downloaders]
  const before = new Map(all.map(n => [n.name, lab.counters(n)]))
  const lossBefore = lossSnapshot(lab, origin, downloaders)
  const cpuBefore = cpuSeconds(server.pid!)
  const url = `http://${origin.ip}:${HTTP_PORT}/model.onnx`
  const t0 = Date.now()
  const results = await Promise.all(downloaders.map(async n => {
    const out = join(runDir, `${n.name}.onnx`)
    const child = lab.spawn(n, 'curl', ['-sS', '--fail', '-o', out, url], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const timer = setTimeout(() => child.kill('SIGKILL'), cfg.timeoutMs)
    const code = await new Promise<number | null>(resolve => child.once('exit', c => { resolve(c) }))
    clearTimeout(timer)
    return { node: n, out, code, ms: Date.now() - t0, stderr: stderr.trim() }
  }))
  const wallMs = Date.now() - t0
  const after = new Map(all.map(n => [n.name, lab.counters(n)]))
  const originCpuS = cpuSeconds(server.pid!) - cpuBefore
  const lossAfter = lossSnapshot(lab, origin, downloaders)
  server.kill('SIGTERM')
  const nodes = await Promise.all(results.map(async r => {
    const d = delta(before.get(r.node.name)!, after.get(r.node.name)!)
    const ok = r.code === 0 && await sha256File(r.out) === cfg.sha256
    return {
      name: r.node.name,
      doneMs: r.code === 0 ? r.ms : null,
      ackMs: null,
      startedMs: null,
      state: r.code === 0 ? 'done' : `curl exit ${String(r.code)}`,
      error: r.stderr !== '' ? r.stderr : undefined,
      sha256ok: ok,
      rxBytes: d.rxBytes,
      txBytes: d.txBytes,
      rxPackets: d.rxPackets,
      cpuS: Number.NaN
    }
  }))
  cfg.log(`  http: ${nodes.filter(n => n.doneMs != null).length}/${nodes.length} done after ${(wallMs / 1000).toFixed(1)} s`)
  return { nodes, originTxBytes: delta(before.get(origin.name)!, after.get(origin.name)!).txBytes, ...lossesBetween(lossBefore, lossAfter), originCpuS, wallMs }
}

/** Resolves with the first line `child` prints that `accept` takes, rejects if it exits first. */
async function lineFrom (child: ChildProcess, accept: (line: string) => boolean, timeoutMs: number, what: string): Promise<string> {
  return await new Promise<string>((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => { finish(new Error(`${what}: nothing after ${timeoutMs} ms`)) }, timeoutMs)
    const onData = (d: Buffer): void => {
      buffered += d.toString()
      const lines = buffered.split('\n')
      buffered = lines.pop()!
      const line = lines.find(accept)
      if (line != null) finish(undefined, line)
    }
    const onExit = (code: number | null): void => { finish(new Error(`${what}: exited (${String(code)}) first`)) }
    function finish (err?: Error, line?: string): void {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('exit', onExit)
      if (err != null) reject(err)
      else resolve(line!)
    }
    child.stdout!.on('data', onData)
    child.once('exit', onExit)
  })
}

/**
 * The CPU baseline: the origin streams the file over the same libp2p stack (TCP, private network,
 * noise, yamux) to every downloader at once, nothing else running. Connections are up before the
 * barrier; each downloader's CPU is its own over the transfer alone.
 */
async function rawSide (lab: Lab, origin: LabNode, downloaders: LabNode[], cfg: RunConfig): Promise<SideResult> {
  const runDir = join(cfg.workDir, `run-${cfg.run}`, 'raw')
  await mkdir(runDir, { recursive: true })
  const tsx = ['--import', 'tsx', RAW_STREAM]
  const server = lab.spawn(origin, process.execPath, [...tsx, 'serve', '--listen', `/ip4/${origin.ip}/tcp/${RAW_PORT}`, '--fleet', cfg.fleetFile, '--file', cfg.modelFile],
    { stdio: ['ignore', 'pipe', 'inherit'] })
  const { peerId } = JSON.parse(await lineFrom(server, l => l.startsWith('{'), 120_000, 'raw-stream serve')) as { peerId: string }
  const peer = `/ip4/${origin.ip}/tcp/${RAW_PORT}/p2p/${peerId}`
  const clients = downloaders.map(n => ({
    node: n,
    out: join(runDir, `${n.name}.onnx`),
    child: lab.spawn(n, process.execPath, [...tsx, 'fetch', '--peer', peer, '--fleet', cfg.fleetFile, '--out', join(runDir, `${n.name}.onnx`), '--size', String(cfg.sizeBytes)],
      { stdio: ['pipe', 'pipe', 'inherit'] })
  }))
  await Promise.all(clients.map(async c => await lineFrom(c.child, l => l.trim() === 'ready', 120_000, `raw-stream fetch on ${c.node.name}`)))
  const all = [origin, ...downloaders]
  const before = new Map(all.map(n => [n.name, lab.counters(n)]))
  const lossBefore = lossSnapshot(lab, origin, downloaders)
  const cpuBefore = cpuSeconds(server.pid!)
  const t0 = Date.now()
  const results = await Promise.all(clients.map(async c => {
    const answer = lineFrom(c.child, l => l.startsWith('{'), cfg.timeoutMs, `raw-stream fetch on ${c.node.name}`)
    c.child.stdin!.write('go\n')
    try {
      const r = JSON.parse(await answer) as { bytes: number, ms: number, cpuS: number }
      return { ...c, ms: Date.now() - t0, r }
    } catch (err) {
      c.child.kill('SIGKILL')
      return { ...c, ms: Date.now() - t0, r: undefined, error: (err as Error).message }
    }
  }))
  const wallMs = Date.now() - t0
  const after = new Map(all.map(n => [n.name, lab.counters(n)]))
  const originCpuS = cpuSeconds(server.pid!) - cpuBefore
  const lossAfter = lossSnapshot(lab, origin, downloaders)
  const nodes = await Promise.all(results.map(async x => {
    const d = delta(before.get(x.node.name)!, after.get(x.node.name)!)
    const ok = x.r != null && x.r.bytes === cfg.sizeBytes && await sha256File(x.out) === cfg.sha256
    return {
      name: x.node.name,
      doneMs: x.r != null ? x.ms : null,
      ackMs: null,
      startedMs: null,
      state: x.r != null ? 'done' : 'failed',
      error: 'error' in x ? x.error : undefined,
      sha256ok: ok,
      rxBytes: d.rxBytes,
      txBytes: d.txBytes,
      rxPackets: d.rxPackets,
      cpuS: x.r?.cpuS ?? Number.NaN
    }
  }))
  cfg.log(`  raw libp2p: ${nodes.filter(n => n.sha256ok).length}/${nodes.length} done after ${(wallMs / 1000).toFixed(1)} s, origin ${originCpuS.toFixed(2)} CPU s`)
  return { nodes, originTxBytes: delta(before.get(origin.name)!, after.get(origin.name)!).txBytes, ...lossesBetween(lossBefore, lossAfter), originCpuS, wallMs }
}

/** One run on a fresh lab, destroyed before it returns (or throws). */
export async function runOnce (cfg: RunConfig): Promise<RunResult> {
  const lab = createLab()
  cfg.onLab(lab)
  try {
    const cap = { mbit: cfg.rateMbit, queueMs: cfg.queueMs }
    const links = { up: cap, down: cap, ...(cfg.tcpCongestion !== undefined ? { tcpCongestion: cfg.tcpCongestion } : {}) }
    const origin = lab.addNode('origin', links)
    const downloaders = Array.from({ length: cfg.nodes }, (_, i) => lab.addNode(`n${i + 1}`, links))
    cfg.log(`run ${cfg.run}: lab ${lab.id}, ${cfg.nodes} downloaders + origin on ${lab.bridge}, ${cfg.rateMbit} Mbit/s each way`)
    const tutti = await tuttiSide(lab, origin, downloaders, cfg)
    await lab.stopProcesses()
    const http = cfg.http ? await httpSide(lab, origin, downloaders, cfg) : undefined
    await lab.stopProcesses()
    const raw = cfg.raw ? await rawSide(lab, origin, downloaders, cfg) : undefined
    await lab.stopProcesses()
    return { run: cfg.run, tutti, http, raw }
  } finally {
    lab.destroy()
    cfg.onLab(undefined)
  }
}
