/**
 * Model distribution on real links: N + 1 `tutti node start` processes, each in its own network
 * namespace on a bridge, every node's uplink and downlink capped with `tc tbf`, bytes counted by
 * the kernel; side by side, in the same run and on the same links, `curl` in every namespace from
 * `python3 -m http.server` in the origin's. Root only (exits 2 and says why otherwise).
 *
 *   npm run bench -- netns [--nodes 5] [--size-mib 20] [--rate-mbit 10] [--runs 1]
 *                          [--chunk-kib KIB] [--set KEY=VALUE,...] [--heartbeat-ms 5000] [--timeout-s T]
 *                          [--settle-s 60] [--idle-s 10] [--queue-ms 100] [--tcp-cc NAME] [--no-http] [--no-raw] [--keep]
 *                          [--start pull|rollout] [--steps 100] [--prefetch] [--log-level info]
 *
 * --start rollout: instead of one `models.pull` admin call per node, one signed rollout policy
 * applied on the first downloader (`tutti apply`), selecting every downloader (not the origin);
 * the elected coordinator commands the waves of --steps (comma-separated: a percentage, or
 * `pause:DURATION`; default one wave of 100%), with strategy.prefetch under --prefetch. Done =
 * the device Active (its own rollouts.json, read from the host), so activation is included;
 * reported besides: apply -> 100% Active / its transfer lower bound (plan.ts `rolloutBoundMs`:
 * timed pauses + T_min per wave, each wave downloading after the one before it; with prefetch
 * T_min + max(pauses, T_min)) (the rollouts issue's goal, <= 1.2) and the requests coordinators
 * sent to devices (prepare, command, report).
 *
 * --chunk-kib: the average content-defined chunk size `pack` cuts (default: pack's own, 64 KiB up
 * to 128 MiB files, what users run); --set: fetcher and chunk server settings every node starts
 * with (`tutti node start --transfer`, node/models/transfer-tuning.ts). --tcp-cc: every
 * namespace's TCP congestion control (one of net.ipv4.tcp_allowed_congestion_control; default the
 * host's). --log-level debug: the fetchers log every chunk they store and where it came from, and
 * the report says when the swarm first held each chunk (bench/netns/swarm.ts).
 *
 * Also reported: the TCP segments the origin and the downloaders retransmitted, and the packets
 * each tbf queue dropped (uplink/downlink), during the download.
 *
 * Reported per run (T_min = F * 8 / RATE, times from the start barrier): origin egress / F,
 * bytes received / (N x F), p50 / T_min, last / T_min, done count, CPU core-seconds per MiB moved
 * per node, the start skew, the HTTP baseline's last / T_min, and the CPU baseline: the same
 * libp2p stack (TCP, private network, noise, yamux) streaming the file raw from the origin, CPU
 * per MiB moved per downloader, and Tutti's over it (goal <= 2). See docs/BENCHMARKS.md.
 */
import { createHash } from 'node:crypto'
import { rmSync } from 'node:fs'
import { mkdtemp, readFile, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { initFleet } from '../../node/fleet/fleet.js'
import { pack } from '../../node/models/pack.js'
import { buildMatMulModel } from '../../node/models/testing/onnx-builder.js'
import { fmt, machine, median, print, ratio, sum, table, writeResults } from '../lib/stats.js'
import { labUnavailable, tcpCongestionControls } from '../../sim/netns/lab.js'
import { runOnce } from './run.js'
import { parseTransferTuning } from '../../node/models/transfer-tuning.js'
import type { Lab } from '../../sim/netns/lab.js'
import { rolloutBoundMs, rolloutPlan } from './plan.js'
import type { NodeResult, RolloutPlan, RunResult, SideResult } from './run.js'

const MIB = 1024 * 1024

interface Options {
  nodes: number
  sizeMiB: number
  rateMbit: number
  runs: number
  /** Average (CDC) chunk size in KiB; undefined: what `pack` picks (what users run). */
  chunkKiB?: number
  /** `--transfer` settings for every node (`--set maxInFlight=8,uploadSlots=3`). */
  transfer: string[]
  /** Every node's `--log-level` (debug: what a --keep'd node.log should show). */
  logLevel?: string
  heartbeatMs: number
  timeoutS: number
  settleS: number
  idleS: number
  queueMs: number
  /** `--tcp-cc`, checked against the host's list once the lab can run (see tcpCc). */
  tcpCc?: string
  http: boolean
  raw: boolean
  keep: boolean
  /** Set: the downloads start with this rollout (`--start rollout`); unset: a pull per node. */
  rollout?: RolloutPlan
}


/** `--set` pairs, checked here as `tutti node start --transfer` would check them. */
function transferPairs (text: string): string[] {
  const pairs = text.split(',').map(p => p.trim()).filter(p => p !== '')
  try {
    parseTransferTuning(pairs)
  } catch (err) {
    usage(`--set: ${(err as Error).message}`)
  }
  return pairs
}

/** `--tcp-cc`: one of the kernel's congestion controls; unset, the host's (which namespaces inherit). */
function tcpCc (value: string | undefined): string {
  const { allowed, available, current } = tcpCongestionControls()
  if (value === undefined) return current
  if (!allowed.includes(value)) {
    usage(`--tcp-cc must be one a namespace may choose (net.ipv4.tcp_allowed_congestion_control: ${allowed.join(', ')}; the kernel has ${available.join(', ')}), got "${value}"`)
  }
  return value
}

function usage (message: string): never {
  process.stderr.write(`netns: ${message}\n`)
  process.exit(2)
}

function parseOptions (argv: string[]): Options {
  let values
  try {
    values = parseArgs({
      args: argv,
      options: {
        nodes: { type: 'string', default: '5' },
        'size-mib': { type: 'string', default: '20' },
        'rate-mbit': { type: 'string', default: '10' },
        runs: { type: 'string', default: '1' },
        'chunk-kib': { type: 'string' },
        set: { type: 'string', default: '' },
        'heartbeat-ms': { type: 'string', default: '5000' },
        'timeout-s': { type: 'string' },
        'settle-s': { type: 'string', default: '60' },
        'idle-s': { type: 'string', default: '10' },
        'queue-ms': { type: 'string', default: '100' },
        'tcp-cc': { type: 'string' },
        'no-http': { type: 'boolean', default: false },
        'no-raw': { type: 'boolean', default: false },
        keep: { type: 'boolean', default: false },
        start: { type: 'string', default: 'pull' },
        steps: { type: 'string' },
        prefetch: { type: 'boolean', default: false },
        'log-level': { type: 'string' }
      }
    }).values
  } catch (err) {
    usage((err as Error).message)
  }
  const num = (flag: string, value: string, min: number, integer = false): number => {
    const n = Number(value)
    if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) usage(`--${flag} must be ${integer ? 'an integer' : 'a number'} >= ${min}, got "${value}"`)
    return n
  }
  const sizeMiB = num('size-mib', values['size-mib'], 0.01)
  const rateMbit = num('rate-mbit', values['rate-mbit'], 0.1)
  const nodes = num('nodes', values.nodes, 1, true)
  if (nodes > 200) usage('--nodes must be at most 200')
  const tMinS = sizeMiB * MIB * 8 / (rateMbit * 1e6)
  if (values['log-level'] != null && !['debug', 'info', 'warn', 'error'].includes(values['log-level'])) usage(`--log-level must be debug, info, warn or error, got "${values['log-level']}"`)
  if (values.start !== 'pull' && values.start !== 'rollout') usage(`--start must be pull or rollout, got "${values.start}"`)
  if (values.start === 'pull' && (values.steps != null || values.prefetch)) usage('--steps and --prefetch go with --start rollout')
  let rollout: RolloutPlan | undefined
  if (values.start === 'rollout') {
    try {
      rollout = rolloutPlan(values.steps ?? '100', values.prefetch)
    } catch (err) {
      usage((err as Error).message)
    }
  }
  return {
    nodes,
    sizeMiB,
    rateMbit,
    runs: num('runs', values.runs, 1, true),
    chunkKiB: values['chunk-kib'] != null ? num('chunk-kib', values['chunk-kib'], 1, true) : undefined,
    transfer: transferPairs(values.set),
    heartbeatMs: num('heartbeat-ms', values['heartbeat-ms'], 50, true),
    // Long enough for plain HTTP (N x T_min) with room to spare.
    timeoutS: values['timeout-s'] != null ? num('timeout-s', values['timeout-s'], 1) : Math.ceil(60 + 2 * nodes * tMinS),
    settleS: num('settle-s', values['settle-s'], 0),
    idleS: num('idle-s', values['idle-s'], 0),
    queueMs: num('queue-ms', values['queue-ms'], 1),
    ...(values['tcp-cc'] != null ? { tcpCc: values['tcp-cc'] } : {}),
    http: !values['no-http'],
    raw: !values['no-raw'],
    keep: values.keep,
    logLevel: values['log-level'],
    rollout
  }
}

interface Summary {
  done: number
  originEgressPerF: number
  receivedPerNF: number
  p50PerTmin: number
  lastPerTmin: number
  cpuSPerMiBMoved: number
  cpuSPerMiBMovedMax: number
  /** Median CPU s per MiB moved after subtracting each node's idle CPU rate over the window. */
  cpuSPerMiBMovedBeyondIdle: number
}

function summarize (side: SideResult, n: number, sizeBytes: number, tMinMs: number): Summary {
  const done = side.nodes.filter(x => x.doneMs != null && x.sha256ok)
  const times = side.nodes.map(x => x.doneMs != null && x.sha256ok ? x.doneMs : Number.POSITIVE_INFINITY)
  const perMiB = side.nodes.map(x => x.cpuS / ((x.rxBytes + x.txBytes) / MIB)).filter(Number.isFinite)
  // The same without what the node burns idle (heartbeats, gossip, timers) over the window.
  const movingPerMiB = side.nodes.map(x => (x.cpuS - (x.idleCpuCores ?? Number.NaN) * side.wallMs / 1000) / ((x.rxBytes + x.txBytes) / MIB)).filter(Number.isFinite)
  return {
    done: done.length,
    originEgressPerF: side.originTxBytes / sizeBytes,
    receivedPerNF: sum(side.nodes.map(x => x.rxBytes)) / (n * sizeBytes),
    p50PerTmin: median(times) / tMinMs,
    lastPerTmin: Math.max(...times) / tMinMs,
    cpuSPerMiBMoved: median(perMiB),
    cpuSPerMiBMovedMax: perMiB.length > 0 ? Math.max(...perMiB) : Number.NaN,
    cpuSPerMiBMovedBeyondIdle: median(movingPerMiB)
  }
}

/** Ethernet + IPv4 + TCP with timestamps: what each packet adds to its payload on the wire. */
const HEADER_BYTES = 14 + 20 + 32

/**
 * Where a node's received bytes went, as fractions of F: headers (per packet), background (the
 * idle rate over the node's download time), chunk bytes the fetcher counted beyond F (endgame
 * duplicates, chunks cut off part-way), and the rest, which no counter sees (bytes of requests
 * already cancelled still arriving, HAVE/WATCH and manifest exchanges).
 */
function breakdown (x: NodeResult, sizeBytes: number): string[] {
  if (x.fetcherBytesReceived == null || x.doneMs == null) return ['-', '-', '-', '-']
  const headers = x.rxPackets * HEADER_BYTES
  const idle = (x.idleRxBytesPerSec ?? 0) * x.doneMs / 1000
  const extraCounted = x.fetcherBytesReceived - sizeBytes
  const rest = x.rxBytes - headers - idle - x.fetcherBytesReceived
  return [headers, idle, extraCounted, rest].map(b => fmt(b / sizeBytes, 3))
}

function nodeRows (nodes: NodeResult[], tMinMs: number): string[][] {
  const s = (ms: number | null | undefined): string => ms == null ? '-' : fmt(ms / 1000, 1)
  return nodes.map(x => [
    x.name, x.state, x.sha256ok ? 'ok' : 'BAD', s(x.ackMs), s(x.startedMs), s(x.doneMs),
    x.doneMs != null ? fmt(x.doneMs / tMinMs, 2) : '-', s(x.fetchMs), s(x.assembleMs),
    fmt(x.rxBytes / MIB, 2), fmt(x.txBytes / MIB, 2),
    x.fetcherBytesReceived != null ? fmt(ratio(x.rxBytes, x.fetcherBytesReceived), 3) : '-',
    x.fromPeers != null ? fmt(x.fromPeers * 100, 0) : '-', fmt(x.cpuS, 2)
  ])
}

function rolloutRows (nodes: NodeResult[], tMinMs: number): string[][] {
  const s = (ms: number | null | undefined): string => ms == null ? '-' : fmt(ms / 1000, 1)
  return nodes.map(x => [
    x.name, x.error != null && x.error !== '' ? `${x.state} (${x.error})` : x.state, x.sha256ok ? 'ok' : 'BAD', s(x.commandMs), s(x.startedMs), s(x.downloadedMs), s(x.doneMs),
    x.doneMs != null ? fmt(x.doneMs / tMinMs, 2) : '-', fmt(x.rxBytes / MIB, 2), fmt(x.txBytes / MIB, 2),
    x.asked != null ? `${x.asked.prepare}/${x.asked.command}/${x.asked.report}` : '-', fmt(x.cpuS, 2)
  ])
}

async function main (): Promise<void> {
  const opts = parseOptions(process.argv.slice(2))
  const why = labUnavailable()
  if (why != null) {
    process.stderr.write(`netns: cannot run here: ${why}\n`)
    process.exit(2)
  }
  // Every namespace's TCP congestion control: the host's unless --tcp-cc names another.
  const tcpCongestion = tcpCc(opts.tcpCc)

  let lab: Lab | undefined
  let work: string | undefined
  const cleanup = (): void => {
    lab?.destroy()
    lab = undefined
    if (work != null && !opts.keep) rmSync(work, { recursive: true, force: true })
  }
  process.on('exit', cleanup)
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    process.on(signal, () => {
      process.stderr.write(`netns: ${signal}: removing the lab\n`)
      cleanup()
      process.exit(code)
    })
  }

  work = await mkdtemp(join(tmpdir(), 'tutti-netns-'))
  try {
    const fleet = await initFleet({ dir: join(work, 'fleet'), name: 'netns-bench' })
    const modelPath = join(work, 'model-src.onnx')
    await writeFile(modelPath, buildMatMulModel({ inputSize: 256, weightsBytes: Math.round(opts.sizeMiB * MIB), seed: 7 }))
    const packed = await pack(modelPath, { name: 'netns-bench', version: '1.0.0', adminKey: fleet.adminKey, ...(opts.chunkKiB != null ? { chunkBytes: opts.chunkKiB * 1024 } : {}), outDir: join(work, 'package') })
    const bytes = await readFile(packed.files.model)
    const sha256 = createHash('sha256').update(bytes).digest('hex')
    const sizeBytes = bytes.byteLength
    const tMinMs = sizeBytes * 8 / (opts.rateMbit * 1e6) * 1000
    print(`netns: N = ${opts.nodes}, F = ${(sizeBytes / MIB).toFixed(2)} MiB in ${packed.manifest.chunks.length} chunks, ${opts.rateMbit} Mbit/s each way, TCP ${tcpCongestion}, T_min = ${fmt(tMinMs / 1000, 1)} s, ${opts.runs} run(s); work dir ${work}`)

    const runs: RunResult[] = []
    for (let run = 1; run <= opts.runs; run++) {
      runs.push(await runOnce({
        run,
        nodes: opts.nodes,
        rateMbit: opts.rateMbit,
        queueMs: opts.queueMs,
        tcpCongestion,
        heartbeatMs: opts.heartbeatMs,
        transfer: opts.transfer,
        logLevel: opts.logLevel,
        timeoutMs: opts.timeoutS * 1000,
        settleMs: opts.settleS * 1000,
        idleMs: opts.idleS * 1000,
        http: opts.http,
        raw: opts.raw,
        workDir: work,
        fleetFile: fleet.fleetFile,
        adminKeyFile: fleet.adminKeyFile,
        packageDir: packed.dir,
        modelFile: packed.files.model,
        cid: packed.cid,
        sizeBytes,
        sha256,
        modelName: packed.manifest.name,
        modelVersion: packed.manifest.version,
        rollout: opts.rollout,
        log: line => { print(line) },
        onLab: l => { lab = l }
      }))
      const r = runs.at(-1)!
      if (opts.rollout != null) {
        const o = r.tutti.rollout!
        print(`\nrun ${run}, Tutti per node, started by rollout ${o.name} (seconds from the start barrier, as each device recorded its states; asked = coordinator requests it answered: prepare/command/report):`)
        print(table(['node', 'state', 'sha256', 'command', 'downloading', 'downloaded', 'Active', 'Active/T_min', 'rx MiB', 'tx MiB', 'asked', 'CPU s'], rolloutRows(r.tutti.nodes, tMinMs)))
        print(`rollout: applied in ${o.appliedMs != null ? `${fmt(o.appliedMs, 0)} ms` : `- (${o.error ?? '?'})`}, phase ${o.phase ?? '-'}${o.completedMs != null ? ` (Completed seen at ${fmt(o.completedMs / 1000, 1)} s)` : ''}, coordinator ${o.coordinator ?? '-'} at epoch ${o.epoch ?? '-'}; requests to devices: ${o.requests.prepare} prepare, ${o.requests.command} command, ${o.requests.report} report`)
      } else {
        print(`\nrun ${run}, Tutti per node (seconds from the start barrier; rx/fetcher = kernel bytes received / the fetcher's own count):`)
        print(table(['node', 'state', 'sha256', 'ack', 'started', 'done', 'done/T_min', 'fetch', 'assemble', 'rx MiB', 'tx MiB', 'rx/fetcher', '% from peers', 'CPU s'], nodeRows(r.tutti.nodes, tMinMs)))
      }
      for (const x of r.tutti.nodes.filter(y => y.progress != null)) {
        const pr = x.progress!
        const byState = new Map<string, number>()
        for (const peer of pr.peers) byState.set(peer.state, (byState.get(peer.state) ?? 0) + 1)
        print(`not finished: ${x.name} had ${pr.chunksDone}/${pr.chunksTotal} chunks after ${fmt(pr.elapsedMs / 1000, 1)} s, ${pr.peers.length} peers (${[...byState].map(([k, v]) => `${v} ${k}`).join(', ')}), ${pr.peers.reduce((a, peer) => a + peer.inFlight, 0)} chunks in flight, offers per peer ${pr.peers.map(peer => peer.offers).join(' ')}`)
      }
      print('\nbytes received beyond F, per node, as fractions of F: TCP/IP headers, background (idle rate x download time), chunk bytes the fetcher counted beyond F, the rest (no counter sees it):')
      print(table(['node', 'headers', 'background', 'fetcher extra', 'unseen', 'from each sender: kernel MiB / fetcher MiB'], r.tutti.nodes.map(x => [x.name, ...breakdown(x, sizeBytes),
        (x.sources ?? []).filter(y => y.kernelBytes > 64 * 1024).map(y => `${y.from} ${fmt(y.kernelBytes / MIB, 2)}/${fmt(y.fetcherBytes / MIB, 2)}`).join(', ')])))
      const prof = r.tutti.nodes.filter(x => x.rxProfile != null)
      if (prof.length > 0) {
        print(`\ndownlinks over time (kernel counters every 250 ms): when 5 % and 95 % of what each node received by the end had arrived (headers included), and the downlink's use in between (bits / (time x ${opts.rateMbit} Mbit/s)):`)
        print(table(['node', '5 % at s', '95 % at s', 'done s', 'use 5-95 %'], prof.map(x => [x.name, fmt(x.rxProfile!.at5Ms / 1000, 1), fmt(x.rxProfile!.at95Ms / 1000, 1), x.doneMs != null ? fmt(x.doneMs / 1000, 1) : '-', fmt(x.rxProfile!.middleLinkUse * 100, 0) + ' %'])))
        const step = median(prof.map(x => x.rxProfile!.stepMs)) / 1000
        print(`median: 5 % at ${fmt(median(prof.map(x => x.rxProfile!.at5Ms)) / 1000, 1)} s, use 5-95 % ${fmt(median(prof.map(x => x.rxProfile!.middleLinkUse)) * 100, 0)} %, 95 % -> done ${fmt(median(prof.filter(x => x.doneMs != null).map(x => x.doneMs! - x.rxProfile!.at95Ms)) / 1000, 1)} s (each 5 % takes ${fmt(step, 1)} s at the cap)`)
      }
      const fc = r.tutti.firstCopies
      if (fc != null) {
        const dones = r.tutti.nodes.map(x => x.doneMs).filter((x): x is number => x != null).sort((a, b) => a - b)
        print(`the swarm's first copies (nodes' debug logs): ${fc.fromOrigin} of ${fc.chunks} chunks first came from the origin, half of them by ${fmt(fc.originHalfAtMs / 1000, 1)} s, 90 % by ${fmt(fc.originNinetyAtMs / 1000, 1)} s; every chunk was in the swarm by ${fmt(fc.everyChunkAtMs / 1000, 1)} s (${fmt(fc.everyChunkAtMs / tMinMs, 2)} x T_min), the devices done ${dones.length > 0 ? `${fmt((dones[0]! - fc.everyChunkAtMs) / 1000, 1)}-${fmt((dones[dones.length - 1]! - fc.everyChunkAtMs) / 1000, 1)} s` : '-'} after it`)
      }
      const so = r.tutti.originSeedOffers
      if (so != null) print(`the origin's fresh offers as a seed, by reason (each past a chunk's first costs a copy): ${Object.entries(so).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      const tcp = (c: { outSegs: number, retransSegs: number }): string => `${c.retransSegs} of ${c.outSegs} (${fmt(c.retransSegs / Math.max(1, c.outSegs) * 100, 2)} %)`
      print(`TCP segments retransmitted during the download (a capped link's queue overflowed): origin, Tutti ${tcp(r.tutti.originTcp)}${r.http != null ? `, HTTP ${tcp(r.http.originTcp)}` : ''}${r.raw != null ? `, raw libp2p ${tcp(r.raw.originTcp)}` : ''}; the downloaders together, Tutti ${tcp(r.tutti.downloadersTcp)}`)
      const drops = (d: Record<string, { up: number, down: number }>): string => Object.entries(d).map(([name, x]) => `${name} ${x.up}/${x.down}`).join(', ')
      print(`packets the tbf queues dropped (uplink/downlink): Tutti ${drops(r.tutti.tbfDrops)}${r.http != null ? `; HTTP ${drops(r.http.tbfDrops)}` : ''}`)
      print(`start skew: ${fmt(r.tutti.startSkewAckMs, 0)} ms between the admin answers, ${fmt(r.tutti.startSkewNodeMs, 0)} ms between the jobs' own start times\n`)
    }

    const rows = runs.flatMap(r => {
      const t = summarize(r.tutti, opts.nodes, sizeBytes, tMinMs)
      const h = r.http != null ? summarize(r.http, opts.nodes, sizeBytes, tMinMs) : undefined
      const w = r.raw != null ? summarize(r.raw, opts.nodes, sizeBytes, tMinMs) : undefined
      return [{ r, t, h, w }]
    })
    print(`N = ${opts.nodes}, F = ${(sizeBytes / MIB).toFixed(2)} MiB, ${opts.rateMbit} Mbit/s both ways, TCP ${tcpCongestion}, T_min = ${fmt(tMinMs / 1000, 1)} s`)
    print(table(
      ['run', 'origin egress / F', 'bytes received / (N x F)', 'p50 / T_min', 'last / T_min', 'done', 'CPU s / MiB moved (median, max; median beyond idle)', 'start skew ms', 'HTTP last / T_min', 'HTTP done', 'HTTP origin egress / F'],
      rows.map(({ r, t, h }) => [
        String(r.run), fmt(t.originEgressPerF, 3), fmt(t.receivedPerNF, 3), fmt(t.p50PerTmin, 2), fmt(t.lastPerTmin, 2),
        `${t.done}/${opts.nodes}`, `${fmt(t.cpuSPerMiBMoved, 3)}, ${fmt(t.cpuSPerMiBMovedMax, 3)}; ${fmt(t.cpuSPerMiBMovedBeyondIdle, 3)}`, fmt(Math.max(r.tutti.startSkewAckMs, r.tutti.startSkewNodeMs), 0),
        h != null ? fmt(h.lastPerTmin, 2) : '-', h != null ? `${h.done}/${opts.nodes}` : '-', h != null ? fmt(h.originEgressPerF, 3) : '-'
      ])
    ))
    if (opts.rollout != null) {
      const plan = opts.rollout
      const boundMs = rolloutBoundMs(plan, tMinMs)
      const how = plan.waves <= 1 ? 'timed pauses + T_min' : plan.prefetch ? 'T_min + max(timed pauses, T_min): the later waves download during the pauses' : `timed pauses + ${plan.waves} x T_min: each wave downloads after the one before it`
      print(`\napply -> 100% Active, steps ${plan.steps}${plan.prefetch ? ', prefetch' : ''}; lower bound = ${how} = ${fmt(boundMs / 1000, 1)} s (pauses ${fmt(plan.pausesMs / 1000, 1)} s, T_min ${fmt(tMinMs / 1000, 1)} s; the rollouts issue's goal: <= 1.2)`)
      print(table(['run', '100% Active s', 'lower bound s', 'ratio', 'p50 Active / T_min', 'Completed seen s', 'phase', 'REPORTs', 'REPORTs per device', 'commands', 'prepares'],
        rows.map(({ r, t }) => {
          const o = r.tutti.rollout!
          const last = t.done === opts.nodes ? t.lastPerTmin * tMinMs : Number.POSITIVE_INFINITY
          return [String(r.run), fmt(last / 1000, 1), fmt(boundMs / 1000, 1), fmt(last / boundMs, 2), fmt(t.p50PerTmin, 2), o.completedMs != null ? fmt(o.completedMs / 1000, 1) : '-', o.phase ?? '-',
            String(o.requests.report), fmt(o.requests.report / opts.nodes, 1), String(o.requests.command), String(o.requests.prepare)]
        })))
    }
    if (opts.raw) {
      print('\nCPU per MiB moved, per node: Tutti (over its window; beyond its idle rate) against the same libp2p stack streaming the file raw from the origin (each downloader over its transfer alone), goal <= 2')
      print(table(
        ['run', 'Tutti CPU s / MiB (median)', 'beyond idle', 'raw libp2p CPU s / MiB (median downloader)', 'raw origin CPU s / MiB sent', 'Tutti / raw', 'beyond idle / raw', 'raw last / T_min', 'raw done'],
        // A baseline that did not move the whole file to every downloader is no baseline.
        rows.map(({ r, t, w }) => w == null || w.done < opts.nodes
          ? [String(r.run), fmt(t.cpuSPerMiBMoved, 4), fmt(t.cpuSPerMiBMovedBeyondIdle, 4), '-', '-', '-', '-', '-', w != null ? `${w.done}/${opts.nodes} (no ratio)` : '-']
          : [String(r.run), fmt(t.cpuSPerMiBMoved, 4), fmt(t.cpuSPerMiBMovedBeyondIdle, 4), fmt(w.cpuSPerMiBMoved, 4),
              fmt(r.raw!.originCpuS / (r.raw!.originTxBytes / MIB), 4), fmt(ratio(t.cpuSPerMiBMoved, w.cpuSPerMiBMoved), 2),
              fmt(ratio(t.cpuSPerMiBMovedBeyondIdle, w.cpuSPerMiBMoved), 2), fmt(w.lastPerTmin, 2), `${w.done}/${opts.nodes}`])
      ))
    }
    const result = {
      benchmark: 'netns',
      date: new Date().toISOString(),
      machine: machine(),
      options: opts,
      model: { cid: packed.cid, sizeBytes, chunks: packed.manifest.chunks.length, sha256 },
      tMinMs,
      runs: rows.map(({ r, t, h, w }) => ({ run: r.run, tutti: { summary: t, ...r.tutti }, http: r.http != null ? { summary: h, ...r.http } : undefined, raw: r.raw != null ? { summary: w, ...r.raw } : undefined }))
    }
    // The latest run as netns.json, and one file per setup so runs at several N are all kept.
    const file = await writeResults('netns', result)
    const kept = await writeResults(`netns-n${opts.nodes}-${opts.sizeMiB}mib-${opts.rateMbit}mbit${opts.rollout != null ? "-rollout" : ""}`, result)
    print(`\nresults: ${file} (and ${kept})`)
    if (rows.some(({ t }) => t.done < opts.nodes)) process.exitCode = 1
  } finally {
    cleanup()
    if (opts.keep) print(`kept ${work}`)
  }
}

main().catch(err => {
  process.stderr.write(`netns: ${(err as Error).stack ?? String(err)}\n`)
  process.exitCode = 1
})
