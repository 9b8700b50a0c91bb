/**
 * Rollouts on real Tutti nodes (in-process mesh, memory transport, real stores on disk, real
 * onnxruntime), each measured against a baseline taken in the same run:
 *
 *   npm run bench -- rollouts [--only propagation|failover|apply] [--nodes N] [--trials K]
 *                             [--heartbeat-ms MS] [--pause-ms 2000] [--seed 1] [--prefetch]
 *                             [--link-mbit R --model-kib K]
 *
 * 1. propagation: `policies.apply` on node 0 to the policy held by all N (each node's
 *    'policy:changed'), vs a same-size message published on a separate topic of the same libp2p
 *    nodes' gossipsub (delivered to all N). Default N = 50. Ratio policy / plain.
 * 2. failover: a rollout held at an indefinite pause; its coordinator is stopped. Detection = the
 *    first surviving node marking it suspect or dead ('member:status'); failover = that observer
 *    holding progress of another coordinator at a higher epoch. Default N = 20.
 *    Ratio (failover - kill) / (detection - kill); goal <= 1.1.
 * 3. apply: `policies.apply` to 100% Active for steps [10%, pause, 100%], the model imported on
 *    node 0 only (everyone else fetches it peer to peer), vs a lower bound = the timed pause + the
 *    time one node takes alone to fetch and activate a model of the same size through the same
 *    `Serving.activate` (measured in the same run, before each rollout; the memory transport has
 *    no rate cap). Default N = 20 and 50. Ratio; goal <= 1.2. Also against the same two waves
 *    activated directly, without the rollout (first wave at once, the rest a pause later, a fresh
 *    model of the same size): all N devices' transfers and activations share this process's one
 *    event loop, which the first bound ignores; this second ratio is what the orchestration adds.
 *    --link-mbit R: every node's uplink and downlink capped at R Mbit/s (the simulator's shaped
 *    in-memory transport, sim/shaped/transport.ts: one egress and one ingress bucket per node,
 *    shared by its links), with a model of --model-kib KiB (default 1024, cut as `pack` cuts by
 *    default). The lower bound is then the physical one: each wave's devices must take the model
 *    in through their downlinks, T_min = model bytes x 8 / R, and a wave starts only after the one
 *    before it is Active and the pause has run: pause + 2 x T_min (with --prefetch the second
 *    wave downloads during the pause: T_min + max(pause, T_min); bench/netns/plan.ts
 *    `rolloutBoundMs`, the netns benchmark's bound too). Where the transfers, not the one
 *    process's CPU, set the pace, this is the issue's ratio on the in-process mesh; on 2 cores
 *    the CPU still weighs at N = 20 and sets the pace at N = 50 (docs/BENCHMARKS.md).
 *
 * --nodes replaces every section's size(s). For propagation and failover the heartbeat interval
 * is pinned (no adaptive stretch): 1 s up to 20 nodes, 15 s above (all nodes share one event
 * loop; see bench/mesh.ts); apply runs with the node's adaptive interval unless --heartbeat-ms.
 * Results: bench/results/rollouts.json. See docs/BENCHMARKS.md.
 */
import { writeFile } from 'node:fs/promises'
import os from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { linearClassifier } from '../node/inference/testing/models.js'
import { ShapedNetwork } from '../sim/shaped/transport.js'
import { rolloutBoundMs } from './netns/plan.js'
import { pack } from '../node/models/pack.js'
import { DEFAULT_INTERVAL } from '../node/membership/interval.js'
import { fullyConverged, startLocalMesh, waitFor, createTestFleet } from '../sim/local-mesh.js'
import { TempDirs } from '../test/models-helpers.js'
import { OPEN, rolloutYaml, signedRollout } from '../test/rollout-helpers.js'
import { fmt, machine, median, percentile, print, randomBytesFrom, ratio, seededRandom, table, writeResults } from './lib/stats.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { LocalMesh } from '../sim/local-mesh.js'
import type { PrivateKey } from '@libp2p/interface'

type Section = 'propagation' | 'failover' | 'apply'
const SECTIONS: Section[] = ['propagation', 'failover', 'apply']

/** Meshes above this size get the long heartbeat interval. */
const SMALL_MESH = 20
const SMALL_HEARTBEAT_MS = 1000
const LARGE_HEARTBEAT_MS = 15_000

/** The plain-gossipsub baseline's topic, on the same libp2p nodes as Tutti's. */
const PLAIN_TOPIC = 'bench/rollouts-plain/1'

/** Input features of the benchmark's classifier: 256 x 4 float32 weights, about 4 KiB. */
const MODEL_FEATURES = 256
const CHUNK_BYTES = 1024

/** With --link-mbit: each capped link's queue, ms of its rate (sim/shaped/transport.ts `queueMs`; bench/netns's tbf queue is 100 ms). */
const LINK_QUEUE_MS = 100

/** How often completion is checked where no event marks it, in ms (the resolution of those times). */
const POLL_MS = 5

interface Options {
  only?: Section
  nodes?: number
  trials?: number
  heartbeatMs?: number
  pauseMs: number
  seed: number
  timeoutMs: number
  /** apply: the manifest sets strategy.prefetch (later waves download during the pause). */
  prefetch: boolean
  /** apply: every node's uplink and downlink, Mbit/s (shaped transport); unset: the memory transport, uncapped. */
  linkMbit?: number
  /** apply with --link-mbit: the model's size, KiB. */
  modelKib: number
}

function parseOptions (argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      nodes: { type: 'string' },
      trials: { type: 'string' },
      'heartbeat-ms': { type: 'string' },
      'pause-ms': { type: 'string', default: '2000' },
      seed: { type: 'string', default: '1' },
      'timeout-ms': { type: 'string', default: '180000' },
      prefetch: { type: 'boolean', default: false },
      'link-mbit': { type: 'string' },
      'model-kib': { type: 'string' }
    },
    strict: true
  })
  const int = (name: string, value: string | undefined, min: number): number | undefined => {
    if (value == null) return undefined
    const n = Number(value.trim())
    if (!Number.isInteger(n) || n < min) throw new RangeError(`--${name} must be an integer >= ${min}, got "${value}"`)
    return n
  }
  if (values.only != null && !SECTIONS.includes(values.only as Section)) throw new RangeError(`--only takes ${SECTIONS.join(', ')}, got "${values.only}"`)
  let linkMbit: number | undefined
  if (values['link-mbit'] != null) {
    linkMbit = Number(values['link-mbit'].trim())
    if (!Number.isFinite(linkMbit) || linkMbit <= 0) throw new RangeError(`--link-mbit must be a positive number, got "${values['link-mbit']}"`)
  }
  if (values['model-kib'] != null && linkMbit == null) throw new RangeError('--model-kib needs --link-mbit (without a rate cap the benchmark uses its 4 KiB classifier)')
  return {
    only: values.only as Section | undefined,
    nodes: int('nodes', values.nodes, 3),
    trials: int('trials', values.trials, 1),
    heartbeatMs: int('heartbeat-ms', values['heartbeat-ms'], 100),
    pauseMs: int('pause-ms', values['pause-ms'], 0)!,
    seed: int('seed', values.seed, 0)!,
    timeoutMs: int('timeout-ms', values['timeout-ms'], 1000)!,
    prefetch: values.prefetch === true,
    linkMbit,
    modelKib: int('model-kib', values['model-kib'], 1) ?? 1024
  }
}

const heartbeatFor = (o: Options, size: number): number => o.heartbeatMs ?? (size <= SMALL_MESH ? SMALL_HEARTBEAT_MS : LARGE_HEARTBEAT_MS)
/**
 * apply runs with what a fleet runs: the node's own adaptive heartbeat interval (base 5 s, longer
 * as N grows), unless --heartbeat-ms pins one. Nothing in a rollout's progress waits on a
 * heartbeat (the coordinator asks devices in flight directly), so a shorter interval only adds
 * gossip, which on one event loop carrying every node is CPU taken from the rollout.
 */
const applyHeartbeat = (o: Options): number | 'adaptive' => o.heartbeatMs ?? 'adaptive'
const log = (line: string): void => { process.stderr.write(`  ${line}\n`) }

/** A mesh of N nodes with data dirs (stores, policies, rollout state on disk), fully converged. */
async function startMesh (dirs: TempDirs, fleet: FleetConfig, size: number, heartbeatMs: number | 'adaptive', timeoutMs: number, net?: ShapedNetwork): Promise<LocalMesh> {
  const dir = await dirs.make('tutti-bench-rollouts-')
  const t = performance.now()
  const base = heartbeatMs === 'adaptive' ? DEFAULT_INTERVAL.baseIntervalMs : heartbeatMs
  const mesh = await startLocalMesh({
    size,
    fleet,
    heartbeatMs: base,
    node: i => ({
      dataDir: join(dir, `n${i}`),
      labels: { class: 'camera' },
      // Pinned unless 'adaptive': the adaptive interval would stretch with N (node/membership/interval.ts).
      heartbeat: heartbeatMs === 'adaptive' ? { baseIntervalMs: base } : { baseIntervalMs: heartbeatMs, budgetBytesPerSec: Number.MAX_SAFE_INTEGER }
    }),
    ...(net != null ? { components: i => ({ transports: [net.transport(`n${i}`)] }) } : {})
  })
  try {
    await waitFor(`${size} nodes to see each other alive`, () => fullyConverged(mesh.nodes), timeoutMs, 20)
  } catch (err) {
    await mesh.stop()
    throw err
  }
  log(`N=${size}: mesh converged in ${((performance.now() - t) / 1000).toFixed(1)} s (heartbeat ${heartbeatMs === 'adaptive' ? `adaptive, now ${Math.max(...mesh.nodes.map(n => n.membership.currentIntervalMs()))} ms` : `${heartbeatMs} ms`})`)
  return mesh
}

/** The model apply rolls out: the 4 KiB classifier in 1 KiB chunks, or (with --link-mbit) one of --model-kib cut as `pack` cuts. */
interface ModelSpec { features: number, chunkBytes?: number }
const modelSpec = (o: Options): ModelSpec => o.linkMbit == null
  ? { features: MODEL_FEATURES, chunkBytes: CHUNK_BYTES }
  : { features: Math.max(1, Math.round(o.modelKib * 1024 / 16)) }

/** Packs a classifier (4 classes) as `name@version`; returns its package dir and ONNX size. */
async function packModel (dir: string, adminKey: PrivateKey, name: string, version: string, seed: number, spec: ModelSpec = { features: MODEL_FEATURES, chunkBytes: CHUNK_BYTES }): Promise<{ pkg: string, bytes: number }> {
  const model = linearClassifier({ features: spec.features, seed })
  const file = join(dir, `${name}-${version}.onnx`)
  await writeFile(file, model.bytes)
  const result = await pack(file, { name, version, adminKey, outDir: join(dir, `pkg-${name}-${version}`), ...(spec.chunkBytes != null ? { chunkBytes: spec.chunkBytes } : {}) })
  return { pkg: result.dir, bytes: model.bytes.byteLength }
}

/** Imports a package on one node and announces it; returns its CID. */
async function importOn (node: TuttiNode, pkg: string): Promise<string> {
  const { cid } = await node.models!.store.importPackage(pkg)
  await node.models!.announceAll()
  return cid
}

/** Resolves when `done()` holds, checked every POLL_MS and whenever `kick` is called; rejects after timeoutMs. */
function until (what: string, done: () => boolean, timeoutMs: number): { promise: Promise<void>, kick: () => void } {
  let kick: () => void = () => {}
  const promise = new Promise<void>((resolve, reject) => {
    const timer = setInterval(check, POLL_MS)
    const deadline = setTimeout(() => { clearInterval(timer); reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)) }, timeoutMs)
    function check (): void {
      if (!done()) return
      clearInterval(timer)
      clearTimeout(deadline)
      resolve()
    }
    kick = check
    check()
  })
  return { promise, kick: () => { kick() } }
}

/** Tombstones a rollout so its coordinator stops driving it before the next trial. */
async function deleteRollout (at: TuttiNode, adminKey: PrivateKey, name: string, yaml: string, cid: string): Promise<void> {
  const held = at.policies.get(name)
  if (held == null) return
  const { envelope } = await signedRollout(adminKey, yaml, cid, held.doc.version + 1, { ...OPEN, deleted: true })
  await at.policies.apply(envelope)
}

// ---------------------------------------------------------------------------------------------
// 1. Policy propagation vs plain gossipsub

interface PropagationTrial {
  order: string
  policyAllMs: number
  plainAllMs: number
  policyPerNodeMs: number[]
  plainPerNodeMs: number[]
}

async function propagation (o: Options, dirs: TempDirs): Promise<Record<string, unknown>> {
  const size = o.nodes ?? 50
  const trials = o.trials ?? 20
  const heartbeatMs = heartbeatFor(o, size)
  const { fleet, adminKey } = await createTestFleet('bench-rollouts')
  const mesh = await startMesh(dirs, fleet, size, heartbeatMs, o.timeoutMs)
  const nodes = mesh.nodes
  try {
    const dir = await dirs.make('tutti-bench-models-')
    const { pkg } = await packModel(dir, adminKey, 'clf', '1.0.0', 1)
    const cid = await importOn(nodes[0]!, pkg)
    // A rollout that targets no node: what is timed is the policy reaching every node, not a rollout.
    const yaml = rolloutYaml('bench-prop', '1.0.0', `  selector: { matchLabels: { bench: nobody } }
  strategy:
    steps: [ {setPercent: 10}, {pause: 2s}, {setPercent: 100} ]
`)
    for (const n of nodes) n.libp2p.services.pubsub.subscribe(PLAIN_TOPIC)
    // Gossipsub grafts its mesh for the new topic on its own heartbeats (1 s).
    await sleep(3000)
    const random = seededRandom(o.seed)
    const results: PropagationTrial[] = []
    for (let t = 0; t < trials; t++) {
      const { name, envelope } = await signedRollout(adminKey, yaml, cid, t + 1)
      const policyFirst = t % 2 === 0
      let policy: { allMs: number, perNodeMs: number[] } | undefined
      let plain: { allMs: number, perNodeMs: number[] } | undefined
      for (const which of policyFirst ? ['policy', 'plain'] : ['plain', 'policy']) {
        if (which === 'policy') policy = await policyTrial(nodes, name, t + 1, envelope, o.timeoutMs)
        else plain = await plainTrial(nodes, randomBytesFrom(random, envelope.byteLength), t, o.timeoutMs)
        await sleep(500)
      }
      results.push({ order: policyFirst ? 'policy,plain' : 'plain,policy', policyAllMs: policy!.allMs, plainAllMs: plain!.allMs, policyPerNodeMs: policy!.perNodeMs, plainPerNodeMs: plain!.perNodeMs })
      log(`propagation trial ${t + 1}/${trials}: policy ${fmt(policy!.allMs)} ms, plain ${fmt(plain!.allMs)} ms to all ${size}`)
    }
    const envelopeBytes = (await signedRollout(adminKey, yaml, cid, 1)).envelope.byteLength
    const series = {
      policy: { all: results.map(r => r.policyAllMs), perNode: results.flatMap(r => r.policyPerNodeMs) },
      plain: { all: results.map(r => r.plainAllMs), perNode: results.flatMap(r => r.plainPerNodeMs) }
    }
    const row = (label: string, key: 'all' | 'perNode', p: number): string[] => {
      const a = percentile(series.policy[key], p)
      const b = percentile(series.plain[key], p)
      return [label, fmt(a), fmt(b), fmt(ratio(a, b), 2)]
    }
    const rows = [
      row('held by all N, p50 over trials (ms)', 'all', 50),
      row('held by all N, p99 over trials (ms)', 'all', 99),
      row('per node, p50 over nodes and trials (ms)', 'perNode', 50),
      row('per node, p99 over nodes and trials (ms)', 'perNode', 99)
    ]
    print()
    print(`1. Policy propagation, N = ${size}, heartbeat ${heartbeatMs} ms, ${trials} trial(s), ${envelopeBytes}-byte envelope (plain: the same size on ${PLAIN_TOPIC})`)
    print(table(['', 'policy', 'plain gossipsub', 'policy/plain'], rows))
    return {
      size,
      heartbeatMs,
      trials,
      envelopeBytes,
      policyAllP50Ms: percentile(series.policy.all, 50),
      policyAllP99Ms: percentile(series.policy.all, 99),
      plainAllP50Ms: percentile(series.plain.all, 50),
      plainAllP99Ms: percentile(series.plain.all, 99),
      ratioP50: ratio(percentile(series.policy.all, 50), percentile(series.plain.all, 50)),
      ratioP99: ratio(percentile(series.policy.all, 99), percentile(series.plain.all, 99)),
      runs: results.map(r => ({ order: r.order, policyAllMs: r.policyAllMs, plainAllMs: r.plainAllMs, policyPerNodeP50Ms: median(r.policyPerNodeMs), plainPerNodeP50Ms: median(r.plainPerNodeMs) }))
    }
  } finally {
    await mesh.stop()
  }
}

/** Applies `envelope` on node 0 and times when each node's policy service holds that version. */
async function policyTrial (nodes: TuttiNode[], name: string, version: number, envelope: Uint8Array, timeoutMs: number): Promise<{ allMs: number, perNodeMs: number[] }> {
  const at: Array<number | undefined> = nodes.map(() => undefined)
  let held = 0
  const listeners = nodes.map((n, i) => {
    const listener = (evt: CustomEvent<{ policy: { doc: { name: string, version: number } } }>): void => {
      const { doc } = evt.detail.policy
      if (doc.name !== name || doc.version !== version || at[i] != null) return
      at[i] = performance.now()
      held++
    }
    n.policies.addEventListener('policy:changed', listener)
    return listener
  })
  const wait = until(`policy ${name} v${version} on all ${nodes.length} nodes`, () => held === nodes.length, timeoutMs)
  try {
    const t0 = performance.now()
    const applied = nodes[0]!.policies.apply(envelope)
    await wait.promise
    await applied
    return { allMs: Math.max(...at.map(t => t!)) - t0, perNodeMs: at.slice(1).map(t => t! - t0) }
  } finally {
    nodes.forEach((n, i) => { n.policies.removeEventListener('policy:changed', listeners[i]!) })
  }
}

/** Publishes `data` from node 0 on the plain topic and times its delivery to every other node. */
async function plainTrial (nodes: TuttiNode[], data: Uint8Array, trial: number, timeoutMs: number): Promise<{ allMs: number, perNodeMs: number[] }> {
  // Tag the message so a late delivery of an earlier trial is not counted.
  new DataView(data.buffer, data.byteOffset, data.byteLength).setUint32(0, trial + 1)
  const at: Array<number | undefined> = nodes.map(() => undefined)
  let held = 1
  const listeners = nodes.map((n, i) => {
    const listener = (evt: CustomEvent<{ topic: string, data: Uint8Array }>): void => {
      const msg = evt.detail
      if (msg.topic !== PLAIN_TOPIC || msg.data.byteLength < 4 || at[i] != null) return
      if (new DataView(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).getUint32(0) !== trial + 1) return
      at[i] = performance.now()
      held++
    }
    if (i > 0) n.libp2p.services.pubsub.addEventListener('message', listener as never)
    return listener
  })
  const wait = until(`plain message ${trial + 1} on all ${nodes.length} nodes`, () => held === nodes.length, timeoutMs)
  try {
    const t0 = performance.now()
    at[0] = t0
    await nodes[0]!.libp2p.services.pubsub.publish(PLAIN_TOPIC, data)
    await wait.promise
    return { allMs: Math.max(...at.map(t => t!)) - t0, perNodeMs: at.slice(1).map(t => t! - t0) }
  } finally {
    nodes.forEach((n, i) => { if (i > 0) n.libp2p.services.pubsub.removeEventListener('message', listeners[i] as never) })
  }
}

// ---------------------------------------------------------------------------------------------
// 2. Coordinator failover vs failure detection

interface FailoverTrial {
  alive: number
  detectionMs: number
  failoverMs: number
  newCoordinatorDetectionMs: number
  allSurvivorsMs: number
  ratio: number
  gapIntervals: number
}

async function failover (o: Options, dirs: TempDirs): Promise<Record<string, unknown>> {
  const size = o.nodes ?? 20
  const trials = Math.min(o.trials ?? 5, size - 3)
  const heartbeatMs = heartbeatFor(o, size)
  const { fleet, adminKey } = await createTestFleet('bench-rollouts')
  const mesh = await startMesh(dirs, fleet, size, heartbeatMs, o.timeoutMs)
  const dir = await dirs.make('tutti-bench-models-')
  const stopped = new Set<number>()
  const results: FailoverTrial[] = []
  try {
    for (let t = 0; t < trials; t++) {
      const alive = mesh.nodes.map((n, i) => ({ n, i })).filter(x => !stopped.has(x.i))
      const applier = alive[0]!.n
      const version = `1.${t}.0`
      const { pkg } = await packModel(dir, adminKey, 'clf', version, 100 + t)
      const cid = await importOn(applier, pkg)
      const yaml = rolloutYaml(`bench-failover-${t}`, version, `  selector: {}
  strategy:
    steps: [ {setPercent: 10}, {pause: {}}, {setPercent: 100} ]
`)
      const { name, envelope } = await signedRollout(adminKey, yaml, cid, 1)
      await applier.policies.apply(envelope)
      const atPause = until(`rollout ${name} at its indefinite pause on every live node`, () => alive.every(({ n }) => n.rollouts?.latestProgress(name)?.progress.step === 1), o.timeoutMs)
      await atPause.promise
      // One interval more, so every node has fresh progress from the coordinator before it dies.
      await sleep(heartbeatMs)
      const first = applier.rollouts!.latestProgress(name)!.progress
      const victim = alive.find(x => x.n.peerId === first.coordinator)
      if (victim == null) throw new Error(`the coordinator ${first.coordinator} of ${name} is not a live node of this mesh`)
      const survivors = alive.filter(x => x !== victim)
      const detected = new Map<number, number>()
      const failedOver = new Map<number, number>()
      const replaced = (n: TuttiNode): boolean => {
        const p = n.rollouts?.latestProgress(name)?.progress
        return p != null && p.coordinator !== first.coordinator && p.epoch > first.epoch
      }
      const check = (): void => {
        const now = performance.now()
        for (const { n, i } of survivors) if (!failedOver.has(i) && replaced(n)) failedOver.set(i, now)
      }
      const onStatus = survivors.map(({ n, i }) => {
        const listener = (evt: CustomEvent<{ peerId: string, to: string }>): void => {
          if (evt.detail.peerId === victim.n.peerId && evt.detail.to !== 'alive' && !detected.has(i)) detected.set(i, performance.now())
          check()
        }
        n.membership.addEventListener('member:status', listener)
        n.membership.addEventListener('heartbeat', check)
        return { n, listener }
      })
      try {
        const done = until(`a new coordinator of ${name} held by every survivor`, () => {
          check()
          return detected.size > 0 && failedOver.size === survivors.length
        }, o.timeoutMs)
        const kill = performance.now()
        await victim.n.stop()
        stopped.add(victim.i)
        await done.promise
        const [observer, detectedAt] = [...detected.entries()].sort((a, b) => a[1] - b[1])[0]!
        const failoverAt = failedOver.get(observer)!
        const next = mesh.nodes[observer]!.rollouts!.latestProgress(name)!.progress
        const nextIndex = survivors.find(x => x.n.peerId === next.coordinator)?.i
        const trial: FailoverTrial = {
          alive: alive.length,
          detectionMs: detectedAt - kill,
          failoverMs: failoverAt - kill,
          newCoordinatorDetectionMs: nextIndex != null && detected.has(nextIndex) ? detected.get(nextIndex)! - kill : Number.NaN,
          allSurvivorsMs: Math.max(...failedOver.values()) - kill,
          ratio: ratio(failoverAt - kill, detectedAt - kill),
          gapIntervals: (failoverAt - detectedAt) / heartbeatMs
        }
        results.push(trial)
        log(`failover trial ${t + 1}/${trials}: detection ${fmt(trial.detectionMs, 0)} ms, failover ${fmt(trial.failoverMs, 0)} ms (epoch ${first.epoch} -> ${next.epoch}), ratio ${fmt(trial.ratio, 2)}`)
      } finally {
        for (const { n, listener } of onStatus) {
          n.membership.removeEventListener('member:status', listener)
          n.membership.removeEventListener('heartbeat', check)
        }
      }
      await deleteRollout(survivors[0]!.n, adminKey, name, yaml, cid)
      await sleep(heartbeatMs)
    }
  } finally {
    await mesh.stop()
  }
  const col = (f: (r: FailoverTrial) => number, digits: number): string[] => {
    const v = results.map(f)
    return [fmt(median(v), digits), fmt(Math.min(...v), digits), fmt(Math.max(...v), digits)]
  }
  print()
  print(`2. Coordinator failover, N = ${size} (one node fewer each trial), heartbeat ${heartbeatMs} ms, ${results.length} trial(s); times from the coordinator's stop()`)
  print(table(['', 'median', 'min', 'max'], [
    ['detection: first survivor marks it suspect/dead (ms)', ...col(r => r.detectionMs, 0)],
    ['failover: that survivor holds the new coordinator\'s progress (ms)', ...col(r => r.failoverMs, 0)],
    ['  the new coordinator\'s own detection (ms)', ...col(r => r.newCoordinatorDetectionMs, 0)],
    ['  every survivor holds the new progress (ms)', ...col(r => r.allSurvivorsMs, 0)],
    ['(failover - kill) / (detection - kill)   goal <= 1.1', ...col(r => r.ratio, 2)],
    ['(failover - detection) in heartbeat intervals', ...col(r => r.gapIntervals, 2)]
  ]))
  return { size, heartbeatMs, trials: results.length, ratioMedian: median(results.map(r => r.ratio)), gapIntervalsMedian: median(results.map(r => r.gapIntervals)), runs: results }
}

// ---------------------------------------------------------------------------------------------
// 3. apply -> 100% Active vs pauses + one node's fetch-and-activate

interface ApplyTrial {
  size: number
  totalMs: number
  firstWaveMs: number
  completedMs: number
  baselineFetchActivateMs: number
  /** With --link-mbit: the model's bytes x 8 / the link rate. */
  tMinMs?: number
  lowerBoundMs: number
  ratio: number
  /** The same waves activated directly (no rollout): the first wave, then, the pause later, the rest. */
  directWaveAMs: number
  directWaveBMs: number
  directWavesMs: number
  /** 100% Active over those direct waves: what the rollout adds to the transfers themselves. */
  ratioDirect: number
  /** REPORT requests the devices answered during the rollout (the coordinator's polls of devices in flight). */
  reports: number
}

async function applyRun (o: Options, dirs: TempDirs, size: number): Promise<ApplyTrial[]> {
  const trials = o.trials ?? (size <= SMALL_MESH ? 3 : 2)
  const { fleet, adminKey } = await createTestFleet('bench-rollouts')
  let net: ShapedNetwork | undefined
  if (o.linkMbit != null) {
    // Every node's own uplink and downlink, as tc tbf caps a device's (bench/netns); the links between them add nothing.
    // Short queues shared in turn, as TCP keeps them: without that a host's connections share its
    // buckets in write order, and a ping waits behind every megabyte queued on the others (in a
    // first run at 2 Mbit/s: connections dropped, peers suspect, manifests 5 s late).
    net = new ShapedNetwork({ random: seededRandom(o.seed), queueMs: LINK_QUEUE_MS })
    for (let i = 0; i < size; i++) {
      net.setEgress(`n${i}`, o.linkMbit * 1e6 / 8)
      net.setIngress(`n${i}`, o.linkMbit * 1e6 / 8)
    }
  }
  const spec = modelSpec(o)
  const mesh = await startMesh(dirs, fleet, size, applyHeartbeat(o), o.timeoutMs, net)
  const nodes = mesh.nodes
  const dir = await dirs.make('tutti-bench-models-')
  const results: ApplyTrial[] = []
  try {
    for (let t = 0; t < trials; t++) {
      const version = `2.${t}.0`
      const model = await packModel(dir, adminKey, 'clf', version, 200 + t, spec)
      const base = await packModel(dir, adminKey, 'clf-baseline', version, 300 + t, spec)
      const cid = await importOn(nodes[0]!, model.pkg)
      const baseCid = await importOn(nodes[0]!, base.pkg)
      // Baseline: one node alone fetches (peer to peer from node 0) and activates a model of the same size.
      const b = nodes[1 + (t % (size - 1))]!
      const tb = performance.now()
      await b.serving.activate(baseCid, {}, { expect: { name: 'clf-baseline', version } })
      const baselineMs = performance.now() - tb
      await b.serving.deactivate('clf-baseline')
      await sleep(500)
      // Second baseline: the same two waves without the rollout machinery, on the same mesh and
      // a fresh model of the same size: the first wave's nodes activate it at once, then, the
      // pause later, all the others. What this costs is the transfer and activation of N devices
      // on one event loop; the rollout's time over it is what the orchestration adds.
      const direct = await packModel(dir, adminKey, 'clf-direct', version, 400 + t, spec)
      const directCid = await importOn(nodes[0]!, direct.pkg)
      const firstWave = Math.ceil(size * 0.1)
      const order = [...nodes.keys()].slice(1)
      const waveA = order.slice(0, firstWave).map(i => nodes[i]!)
      const waveB = nodes.filter(n => !waveA.includes(n))
      const activateAll = async (wave: TuttiNode[]): Promise<number> => {
        const t0 = performance.now()
        await Promise.all(wave.map(async n => await n.serving.activate(directCid, {}, { expect: { name: 'clf-direct', version } })))
        return performance.now() - t0
      }
      const waveAMs = await activateAll(waveA)
      await sleep(o.pauseMs)
      const waveBMs = await activateAll(waveB)
      await Promise.all(nodes.map(async n => { if (n.serving.activeOf('clf-direct') != null) await n.serving.deactivate('clf-direct') }))
      await sleep(500)

      const yaml = rolloutYaml(`bench-apply-${t}`, version, `  selector: {}
  strategy:
    steps: [ {setPercent: 10}, {pause: ${o.pauseMs}ms}, {setPercent: 100} ]${o.prefetch ? '\n    prefetch: true' : ''}
`)
      const { name, envelope } = await signedRollout(adminKey, yaml, cid, 1)
      const activeAt: Array<number | undefined> = nodes.map(() => undefined)
      let active = 0
      let completedAt: number | undefined
      const check = (): boolean => {
        const now = performance.now()
        nodes.forEach((n, i) => {
          if (activeAt[i] != null || n.serving.activeOf('clf')?.cid !== cid) return
          const r = n.rollouts?.agent.get(name)
          if (r?.device?.kind === 'Active' && r.cid === cid) {
            activeAt[i] = now
            active++
          }
        })
        if (completedAt == null && nodes[0]!.rollouts?.latestProgress(name)?.progress.phase === 'Completed') completedAt = now
        return active === size && completedAt != null
      }
      const done = until(`rollout ${name} Active on all ${size} nodes`, check, o.timeoutMs)
      const reportsServed = (): number => nodes.reduce((sum, n) => sum + (n.rollouts?.served.report ?? 0), 0)
      const reports0 = reportsServed()
      const t0 = performance.now()
      await nodes[0]!.policies.apply(envelope)
      await done.promise
      const reports = reportsServed() - reports0
      const times = activeAt.map(x => x! - t0).sort((x, y) => x - y)
      const totalMs = times[times.length - 1]!
      // Uncapped: the pause + one node alone. Capped: the physical bound of two waves (see the module doc).
      const tMinMs = o.linkMbit != null ? model.bytes * 8 / (o.linkMbit * 1e6) * 1000 : undefined
      const lowerBoundMs = tMinMs == null ? o.pauseMs + baselineMs : rolloutBoundMs({ waves: 2, pausesMs: o.pauseMs, prefetch: o.prefetch }, tMinMs)
      const directWavesMs = waveAMs + o.pauseMs + waveBMs
      const trial: ApplyTrial = {
        size,
        totalMs,
        firstWaveMs: times[Math.max(0, Math.ceil(size * 0.1) - 1)]!,
        completedMs: completedAt! - t0,
        baselineFetchActivateMs: baselineMs,
        ...(tMinMs != null ? { tMinMs } : {}),
        lowerBoundMs,
        ratio: ratio(totalMs, lowerBoundMs),
        directWaveAMs: waveAMs,
        directWaveBMs: waveBMs,
        directWavesMs,
        ratioDirect: ratio(totalMs, directWavesMs),
        reports
      }
      results.push(trial)
      log(`apply N=${size} trial ${t + 1}/${trials}: 100% Active at ${fmt(totalMs, 0)} ms, lower bound ${fmt(lowerBoundMs, 0)} ms (${tMinMs != null ? `T_min ${fmt(tMinMs, 0)} ms, ` : ''}one node alone: ${fmt(baselineMs, 0)} ms), ratio ${fmt(trial.ratio, 2)}; the same waves directly ${fmt(waveAMs, 0)} + ${o.pauseMs} + ${fmt(waveBMs, 0)} ms, ratio ${fmt(trial.ratioDirect, 2)}; ${reports} REPORT requests answered`)
      await deleteRollout(nodes[0]!, adminKey, name, yaml, cid)
      await sleep(1000)
    }
  } finally {
    await mesh.stop()
  }
  return results
}

async function apply (o: Options, dirs: TempDirs): Promise<Record<string, unknown>> {
  const sizes = o.nodes != null ? [o.nodes] : [20, 50]
  const bySize: Record<string, unknown> = {}
  const rows: string[][] = []
  for (const size of sizes) {
    const results = await applyRun(o, dirs, size)
    const med = (f: (r: ApplyTrial) => number): number => median(results.map(f))
    const spread = (f: (r: ApplyTrial) => number, digits: number): string => `${fmt(Math.min(...results.map(f)), digits)}-${fmt(Math.max(...results.map(f)), digits)}`
    rows.push([String(size), String(results.length), fmt(med(r => r.firstWaveMs), 0), fmt(med(r => r.totalMs), 0), fmt(med(r => r.completedMs), 0),
      fmt(med(r => r.baselineFetchActivateMs), 0), fmt(med(r => r.lowerBoundMs), 0), fmt(med(r => r.ratio), 2), spread(r => r.ratio, 2),
      `${fmt(med(r => r.directWaveAMs), 0)} + ${fmt(med(r => r.directWaveBMs), 0)}`, fmt(med(r => r.ratioDirect), 2), spread(r => r.ratioDirect, 2), fmt(med(r => r.reports), 0)])
    bySize[String(size)] = { heartbeatMs: applyHeartbeat(o), ratioMedian: med(r => r.ratio), ratioDirectMedian: med(r => r.ratioDirect), runs: results }
  }
  print()
  const spec = modelSpec(o)
  const what = o.linkMbit == null
    ? `a ${spec.features}x4 classifier in ${spec.chunkBytes}-byte chunks on node 0 only; lower bound = pause + one node alone fetching and activating a model of the same size (memory transport, no rate cap)`
    : `every node's uplink and downlink at ${o.linkMbit} Mbit/s (shaped transport), a ${o.modelKib} KiB classifier (pack's default chunks) on node 0 only; lower bound = ${o.prefetch ? 'T_min + max(pause, T_min)' : 'pause + 2 x T_min'}, T_min = model bytes x 8 / rate`
  print(`3. apply -> 100% Active, steps [10%, pause ${o.pauseMs} ms, 100%]${o.prefetch ? ', prefetch' : ''}, heartbeat ${o.heartbeatMs != null ? `${o.heartbeatMs} ms` : 'adaptive (the node default)'}, ${what}, medians`)
  print(table(['N', 'trials', '10% wave Active (ms)', '100% Active (ms)', 'Completed at node 0 (ms)', 'one node alone (ms)', 'lower bound (ms)', 'ratio (goal <= 1.2)', 'ratio spread', 'same waves directly (ms)', 'over direct waves', 'spread', 'REPORT requests'], rows))
  return { pauseMs: o.pauseMs, prefetch: o.prefetch, linkMbit: o.linkMbit, modelFeatures: spec.features, chunkBytes: spec.chunkBytes ?? 'pack default', bySize }
}

// ---------------------------------------------------------------------------------------------

async function main (): Promise<number> {
  let options: Options
  try {
    options = parseOptions(process.argv.slice(2))
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`)
    return 2
  }
  const started = performance.now()
  const loadAtStart = os.loadavg()
  print(`rollouts benchmark: npm run bench -- rollouts ${process.argv.slice(2).join(' ')}`.trimEnd())
  print(`node ${process.version}, load average ${loadAtStart.map(l => l.toFixed(2)).join(' ')}, seed ${options.seed}`)
  const dirs = new TempDirs()
  const summary: Partial<Record<Section, unknown>> = {}
  let failed = false
  try {
    for (const section of SECTIONS.filter(s => options.only == null || s === options.only)) {
      const t = performance.now()
      try {
        summary[section] = section === 'propagation' ? await propagation(options, dirs) : section === 'failover' ? await failover(options, dirs) : await apply(options, dirs)
      } catch (err) {
        failed = true
        summary[section] = { error: (err as Error).message }
        log(`${section} failed: ${(err as Error).stack ?? String(err)}`)
      }
      log(`${section}: ${((performance.now() - t) / 1000).toFixed(1)} s`)
    }
  } finally {
    await dirs.cleanup()
  }
  const totalSeconds = (performance.now() - started) / 1000
  const file = await writeResults('rollouts', {
    benchmark: 'rollouts',
    command: `npm run bench -- rollouts ${process.argv.slice(2).join(' ')}`.trimEnd(),
    date: new Date().toISOString(),
    machine: machine(),
    loadAvgAtStart: loadAtStart,
    options,
    totalSeconds,
    summary
  })
  print()
  print(`total ${totalSeconds.toFixed(1)} s, load average now ${os.loadavg().map(l => l.toFixed(2)).join(' ')}; results written to ${file}`)
  return failed ? 1 : 0
}

process.exitCode = await main()
