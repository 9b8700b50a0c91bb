/**
 * The readable summary of a run (Markdown): the outcome and its times, every invariant's verdict,
 * coordinator changes with their epochs, convergence after each heal, bytes from the origin and
 * from peers, heartbeat bytes per node (measured with the node's aggregation, and modelled with and
 * without it),
 * the simulator's speed, and links to the plots. Pure over the engine's result.
 */
import { heartbeatCost } from './heartbeats.js'
import type { DeviceStateKind } from '../../node/rollouts/device.js'
import type { SimEvent, Violation } from './invariants.js'
import type { InvariantName, Scenario, SimMode } from '../scenario.js'

/** One row of the time series the plots draw. */
export interface Sample {
  t: number
  up: number
  /** Devices per state in the rollout; `none` = never dispatched. */
  states: Record<DeviceStateKind | 'none', number>
  policyHolders: number
  onNew: number
  originBytes: number
  peerBytes: number
}

/** What a run of any mode reports: the summary and the plots are drawn from it. */
export interface RunResult {
  mode: SimMode
  events: SimEvent[]
  samples: Sample[]
  phase: string
  rollout: string
  newVersion: string
  oldVersions: string[]
  applyAtMs: number
  modelBytes: number
  /** Model bytes sent by the origin (node 0) and by every other node. */
  originBytes: number
  peerBytes: number
  /** Model bytes each node uploaded. */
  uploaded: number[]
  /** Targets (matching, up) at the end, how many run the new version Active, and since when all of them do. */
  end: { targets: number, active: number, allActiveAtMs?: number }
  nodes: number
  simulatedMs: number
  /** Measured heartbeats (the DES counts every one). */
  heartbeat?: { beats: number, bytesReceivedPerNodePerSec: number, digestBytesReceivedPerNodePerSec: number, digestPacedBytesPerNodePerSec?: number, digests: number, meanIntervalMs: number }
  /** Policy gossip messages (the DES counts every one). */
  gossip?: { messages: number, dropped: number }
  /** Requests coordinators sent to devices, by kind (the DES counts every one). */
  coordinatorRequests?: { prepare: number, command: number, report: number }
  /** Lines a mode adds to the summary's head (its time scale, what it could not do). */
  notes?: string[]
}

const s1 = (ms: number): string => ms < 10_000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`

export interface Figures {
  /** Last node to hold the policy, after the apply. */
  policyConvergenceMs?: number
  /** Per heal: how long until every node up at the heal held the policy. */
  heals: Array<{ atMs: number, lacking: number, convergedAfterMs?: number }>
  completedAtMs?: number
  rolledBackAtMs?: number
  applyToAllActiveMs?: number
  originCopies: number
  peerCopies: number
  heartbeatBytesPerNodePerSec?: number
  /** Of which shard digests. */
  digestBytesPerNodePerSec?: number
  /** Shard digests at the pace the shards set last (their latest digests over the interval after them). */
  digestPacedBytesPerNodePerSec?: number
  nodeSecondsPerWallSecond: number
}

export function figures (r: RunResult, wallMs: number): Figures {
  const firstHeld = new Map<number, number>()
  const up = new Set<number>()
  const heals: Figures['heals'] = []
  let completedAtMs: number | undefined
  let rolledBackAtMs: number | undefined
  for (const e of r.events) {
    if (e.type === 'policyHeld' && !firstHeld.has(e.node)) firstHeld.set(e.node, e.t)
    if (e.type === 'phase' && e.phase === 'Completed' && completedAtMs === undefined) completedAtMs = e.t
    if (e.type === 'phase' && e.phase === 'RolledBack' && rolledBackAtMs === undefined) rolledBackAtMs = e.t
  }
  // Which nodes were up at each heal.
  const down = new Set<number>()
  for (const e of r.events) {
    if (e.type === 'down') down.add(e.node)
    if (e.type === 'up') down.delete(e.node)
    if (e.type === 'running') up.add(e.node)
    if (e.type === 'healed') {
      const lacking = [...up].filter(n => !down.has(n) && !((firstHeld.get(n) ?? Number.POSITIVE_INFINITY) <= e.t))
      const times = lacking.map(n => firstHeld.get(n))
      const converged = times.every(t => t !== undefined) ? Math.max(e.t, ...(times as number[])) - e.t : undefined
      heals.push(converged === undefined ? { atMs: e.t, lacking: lacking.length } : { atMs: e.t, lacking: lacking.length, convergedAfterMs: converged })
    }
  }
  const held = [...firstHeld.values()]
  return {
    ...(held.length > 0 ? { policyConvergenceMs: Math.max(...held) - r.applyAtMs } : {}),
    heals,
    ...(completedAtMs !== undefined ? { completedAtMs } : {}),
    ...(rolledBackAtMs !== undefined ? { rolledBackAtMs } : {}),
    ...(r.end.allActiveAtMs !== undefined ? { applyToAllActiveMs: r.end.allActiveAtMs - r.applyAtMs } : {}),
    originCopies: r.originBytes / r.modelBytes,
    peerCopies: r.peerBytes / r.modelBytes,
    ...(r.heartbeat !== undefined ? { heartbeatBytesPerNodePerSec: r.heartbeat.bytesReceivedPerNodePerSec, digestBytesPerNodePerSec: r.heartbeat.digestBytesReceivedPerNodePerSec } : {}),
    ...(r.heartbeat?.digestPacedBytesPerNodePerSec !== undefined ? { digestPacedBytesPerNodePerSec: r.heartbeat.digestPacedBytesPerNodePerSec } : {}),
    nodeSecondsPerWallSecond: (r.nodes * r.simulatedMs / 1000) / Math.max(0.001, wallMs / 1000)
  }
}

export function summarize (scenario: Scenario, r: RunResult, f: Figures, violations: Violation[], wallMs: number, plots: Array<{ file: string, title: string }>): string {
  const lines: string[] = []
  const verdict = violations.length === 0 ? 'all hold' : `${violations.length} violated`
  lines.push(`# ${scenario.name} (${r.mode}, seed ${scenario.seed}, ${r.nodes} nodes, ${Math.round(r.simulatedMs / 1000)} s simulated)`, '')
  lines.push(`- outcome: ${r.phase}; invariants: ${verdict}`)
  const end = r.events.find(e => e.type === 'end')
  if (end?.type === 'end' && end.message !== undefined && r.phase !== 'Completed' && r.phase !== 'RolledBack') lines.push(`- the coordinator's last word: ${end.message}`)
  lines.push(`- apply at ${s1(r.applyAtMs)}; ${f.completedAtMs !== undefined ? `Completed at ${s1(f.completedAtMs)} (${s1(f.completedAtMs - r.applyAtMs)} after the apply)` : 'never Completed'}${f.rolledBackAtMs !== undefined ? `; RolledBack at ${s1(f.rolledBackAtMs)} (${s1(f.rolledBackAtMs - r.applyAtMs)} after the apply)` : ''}`)
  lines.push(`- apply -> 100% Active: ${f.applyToAllActiveMs !== undefined ? s1(f.applyToAllActiveMs) : `not reached (${r.end.active} of ${r.end.targets} live targets Active at the end)`}`)
  lines.push(`- policy convergence (the last node to hold the policy, after the apply): ${f.policyConvergenceMs !== undefined ? s1(f.policyConvergenceMs) : 'none held it'}`)
  for (const h of f.heals) {
    lines.push(`- heal at ${s1(h.atMs)}: ${h.lacking} live node(s) lacked the policy; ${h.convergedAfterMs !== undefined ? `every one held it ${s1(h.convergedAfterMs)} later` : 'some never got it'}`)
  }
  lines.push(`- model bytes: ${f.originCopies.toFixed(2)} copies from the origin, ${f.peerCopies.toFixed(2)} from peers (model ${(r.modelBytes / 1048576).toFixed(0)} MiB)`)
  if (r.gossip !== undefined) lines.push(`- policy gossip: ${r.gossip.messages} messages, ${r.gossip.dropped} dropped`)
  if (r.coordinatorRequests !== undefined) lines.push(`- coordinator requests to devices: ${r.coordinatorRequests.prepare} PREPARE, ${r.coordinatorRequests.command} COMMAND, ${r.coordinatorRequests.report} REPORT`)
  for (const note of r.notes ?? []) lines.push(`- ${note}`)
  lines.push(`- speed: ${Math.round(wallMs)} ms wall, ${Math.round(f.nodeSecondsPerWallSecond).toLocaleString('en-US')} simulated node-seconds per wall second`, '')

  lines.push('## Invariants', '')
  const names: InvariantName[] = scenario.invariants
  for (const name of names) {
    const v = violations.find(x => x.invariant === name)
    lines.push(v === undefined ? `- ${name}: holds` : `- ${name}: VIOLATED (seed ${scenario.seed}): ${v.message}${v.event !== undefined ? `; first violating event: \`${JSON.stringify(v.event)}\`` : ''}`)
  }
  for (const v of violations.filter(x => !names.includes(x.invariant))) lines.push(`- ${v.invariant}: VIOLATED: ${v.message}`)
  lines.push('')

  lines.push('## Coordinator changes', '', '| t | node | what | epoch | why |', '|---:|---|---|---:|---|')
  const coord = r.events.filter((e): e is Extract<SimEvent, { type: 'coordinator' }> => e.type === 'coordinator')
  for (const e of coord.slice(0, 200)) lines.push(`| ${s1(e.t)} | ${e.node} | ${e.action} | ${e.epoch} | ${e.reason ?? ''} |`)
  if (coord.length > 200) lines.push(`| ... | | ${coord.length - 200} more in timeline.jsonl | | |`)
  const stale = r.events.filter(e => e.type === 'commandRefused').length
  lines.push('', `Commands refused for a stale epoch: ${stale}.`, '')

  lines.push('## Rollout phases', '', '| t | phase | epoch | coordinator | step | trip |', '|---:|---|---:|---|---:|---|')
  for (const e of r.events) if (e.type === 'phase') lines.push(`| ${s1(e.t)} | ${e.phase} | ${e.epoch} | ${e.coordinator} | ${e.step} | ${e.trip ?? ''} |`)
  lines.push('')

  lines.push('## Faults', '')
  for (const e of r.events) {
    if (e.type === 'partitioned') lines.push(`- ${s1(e.t)}: partition into groups of ${e.groups.join(' | ')}`)
    else if (e.type === 'healed') lines.push(`- ${s1(e.t)}: heal`)
    else if (e.type === 'fault') lines.push(`- ${s1(e.t)}: ${e.action} on ${e.nodes} node(s)`)
  }
  const downs = r.events.filter(e => e.type === 'down').length
  const ups = r.events.filter(e => e.type === 'up').length
  lines.push(`- ${downs} crash or pause event(s), ${ups} restart, resume or join event(s)`, '')

  lines.push('## Heartbeats', '')
  const here = heartbeatCost(r.nodes)
  if (r.heartbeat !== undefined) lines.push(`Measured in this run, with the node's aggregation (sim/des/heartbeats.ts over node/membership/shards.ts): ${Math.round(r.heartbeat.bytesReceivedPerNodePerSec)} B/s received per node, of which ${Math.round(r.heartbeat.digestBytesReceivedPerNodePerSec)} B/s shard digests (${here.shardBits === 0 ? 'not sharded at this size' : `${2 ** here.shardBits} shards, ${r.heartbeat.digests} digests${r.heartbeat.digestPacedBytesPerNodePerSec !== undefined ? `, ${Math.round(r.heartbeat.digestPacedBytesPerNodePerSec)} B/s at the pace they set last` : ''}`}; mean interval ${Math.round(r.heartbeat.meanIntervalMs / 1000)} s, ${r.heartbeat.beats} beats).`)
  lines.push('Modelled at steady state (the same functions; 1% of a shard changed per digest):', '')
  lines.push('| fleet size | every heartbeat to every node, B/s per node | with shards and digests, B/s per node | shards | digest interval |', '|---:|---:|---:|---:|---:|')
  for (const n of [...new Set([100, 230, 1_000, 10_000, 100_000, r.nodes])].sort((a, b) => a - b)) {
    const c = heartbeatCost(n)
    lines.push(`| ${n.toLocaleString('en-US')} | ${Math.round(c.flatBytesPerSec).toLocaleString('en-US')} | ${Math.round(c.shardedBytesPerSec).toLocaleString('en-US')} | ${c.shardBits === 0 ? '-' : 2 ** c.shardBits} | ${c.shardBits === 0 ? '-' : s1(c.digestIntervalMs)} |`)
  }
  lines.push('')
  lines.push('## Plots', '')
  for (const p of plots) lines.push(`- [${p.title}](${p.file})`)
  if (plots.length === 0) lines.push('- none (--no-plots)')
  return lines.join('\n') + '\n'
}
