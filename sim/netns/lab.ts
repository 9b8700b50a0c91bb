/**
 * A lab of hosts on one Linux machine: each host a network namespace with one interface (`eth0`)
 * on a shared bridge, its uplink and downlink each capped by `tc tbf`, packets dropped at random
 * or between groups by nftables, processes started inside it and stopped with it, and the kernel's
 * own byte counters per link, and CPU and disk caps per process through cgroups (cgroup.ts). The
 * simulator's multi-host mode (sim/real/multihost.ts) and the netns benchmark (bench/netns) run on
 * it; it imports only Node built-ins.
 *
 *   const lab = createLab()                          // root only; cleans a crashed lab's leftovers
 *   const a = lab.addNode('a', { mbit: 10 })         // namespace, veth on the bridge, both ways capped
 *   lab.spawn(a, 'node', ['server.js'])              // runs inside a's namespace
 *   lab.counters(a)                                  // { rxBytes, txBytes, ... } as a sees them
 *   lab.partition([a], [b]); lab.heal()              // nftables drop between groups
 *   lab.setLoss(a, 0.01)                             // 1 % of a's packets dropped, each way
 *   lab.setLinkUp(a, false)                          // a cut off from everyone
 *   lab.countSources(a, [b]); lab.bytesFrom(a)       // bytes a received from b (nftables counters)
 *   lab.capProcess(a, pid, { cpuCores: 0.25 })       // a quarter of a core for that process (cgroups)
 *   await lab.stopProcesses(); lab.destroy()         // SIGTERM, then namespaces, veths, bridge gone
 *
 * Names: namespace `tlab-ID-NAME`, bridge `tlIDbr`, host side of node i's veth `tlIDhI`, all
 * in 10.213.K.0/24 (bridge .1, node i at .(i + 2)), ID and K random per lab. A state file
 * /run/tutti-lab/ID.json names the lab's owner process; `createLab` removes every lab whose owner
 * is gone (its namespaces, links, cgroups `tutti-lab-ID-NAME` and the processes still in them), so
 * a crashed run leaves nothing behind for long. `destroy` is synchronous so it can run from an 'exit' handler.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { capProcess, removeGroups } from './cgroup.js'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import type { ProcessCaps } from './cgroup.js'

/** Where labs record their owner process. */
const STATE_DIR = '/run/tutti-lab'
const NS_PREFIX = 'tlab-'
/** Clock ticks per second of /proc/PID/stat (USER_HZ; 100 on every Linux port in use). */
const USER_HZ = 100

export type LabErrorCode = 'ERR_LAB_UNAVAILABLE' | 'ERR_LAB_COMMAND' | 'ERR_LAB_INPUT'

export class LabError extends Error {
  readonly code: LabErrorCode
  constructor (code: LabErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'LabError'
    this.code = code
  }
}

/** What `labUnavailable` looks at; tests hand in their own to check the refusal. */
export interface LabProbe {
  platform: string
  /** The effective user id (0 is root), undefined where the platform has none. */
  uid: () => number | undefined
  /** Whether `cmd args` runs and exits 0. */
  runs: (cmd: string, args: readonly string[]) => boolean
}

/** This machine. */
export const systemProbe: LabProbe = {
  platform: process.platform,
  uid: () => process.getuid?.(),
  runs: (cmd, args) => {
    try {
      execFileSync(cmd, args, { stdio: 'ignore' })
      return true
    } catch {
      return false
    }
  }
}

/**
 * Why a lab cannot run here, or undefined when it can: Linux, root, iproute2's `ip` and `tc`,
 * and with `nft: true` also nftables' `nft` (partitions, loss and per-source counts need it).
 */
export function labUnavailable (options: { nft?: boolean, probe?: LabProbe } = {}): string | undefined {
  const probe = options.probe ?? systemProbe
  if (probe.platform !== 'linux') return 'network namespaces need Linux'
  if (probe.uid() !== 0) return 'network namespaces, veths and tc need root (run it as root, e.g. with sudo)'
  const tools: Array<[string, string[], string]> = [['ip', ['netns', 'list'], 'iproute2'], ['tc', ['-V'], 'iproute2']]
  if (options.nft === true) tools.push(['nft', ['--version'], 'nftables'])
  for (const [cmd, args, pkg] of tools) {
    if (!probe.runs(cmd, args)) return `the \`${cmd}\` command (${pkg}) is not available`
  }
  return undefined
}

/** Whether `nft` (nftables) is installed: partitions, loss and per-source counts need it. */
export function nftAvailable (): boolean {
  try {
    execFileSync('nft', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** One direction's cap. */
export interface RateCap {
  /** Megabits (10^6 bits) per second. */
  mbit: number
  /** Token bucket depth in bytes. @default max(16 KiB, 4 ms at the rate) */
  burstBytes?: number
  /** How long a packet may wait in the queue before tbf drops it (ms). @default 100 */
  queueMs?: number
}

export interface LinkCaps {
  /** What the node sends (its uplink). Undefined: uncapped. */
  up?: RateCap
  /** What the node receives (its downlink). Undefined: uncapped. */
  down?: RateCap
}

export interface AddNodeOptions extends LinkCaps {
  /** Both directions at this many Mbit/s (overridden by `up` / `down`). */
  mbit?: number
  /**
   * The namespace's TCP congestion control (`net.ipv4.tcp_congestion_control`: one of the host's
   * `tcp_allowed_congestion_control`). @default the host's, which a new namespace inherits
   */
  tcpCongestion?: string
}

/**
 * The congestion controls a namespace may choose (`tcp_allowed_congestion_control`; root may add
 * any of `tcp_available_congestion_control` to it), and the host's default.
 */
export function tcpCongestionControls (): { allowed: string[], available: string[], current: string } {
  const read = (f: string): string => readFileSync(`/proc/sys/net/ipv4/${f}`, 'utf8').trim()
  return { allowed: read('tcp_allowed_congestion_control').split(/\s+/), available: read('tcp_available_congestion_control').split(/\s+/), current: read('tcp_congestion_control') }
}

export interface LabNode {
  name: string
  index: number
  namespace: string
  /** The node's address on the bridge. */
  ip: string
  /** The host side of the node's veth (on the bridge, in the root namespace). */
  hostIf: string
}

export interface Counters {
  /** Bytes the node received (all protocols, Ethernet headers included), as the kernel counted them. */
  rxBytes: number
  txBytes: number
  rxPackets: number
  txPackets: number
}

/** A namespace's TCP segment counters (all its connections), from /proc/net/snmp. */
export interface TcpCounters {
  outSegs: number
  retransSegs: number
}

interface NodeRules {
  lossIn: number
  lossOut: number
  blocked: Set<string>
  /** Sources whose bytes to this node are counted (nftables counters). */
  counted: string[]
}

export interface LabInit {
  /** 4 hex digits. @default random */
  id?: string
}

function run (cmd: string, args: string[], input?: string): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim()
    throw new LabError('ERR_LAB_COMMAND', `${cmd} ${args.join(' ')} failed: ${stderr !== '' ? stderr : (err as Error).message}`, { cause: err })
  }
}

function tryRun (cmd: string, args: string[]): void {
  try {
    execFileSync(cmd, args, { stdio: 'ignore' })
  } catch {
    // already gone
  }
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function namespaces (): string[] {
  return run('ip', ['netns', 'list']).split('\n').map(l => l.split(' ')[0]!).filter(n => n !== '')
}

function links (): string[] {
  return run('ip', ['-o', 'link', 'show']).split('\n')
    .map(l => /^\d+: ([^:@]+)[:@]/.exec(l)?.[1]).filter((n): n is string => n != null)
}

/** Kills (SIGKILL) every process still inside `ns`. */
function killNamespace (ns: string): void {
  let pids: number[] = []
  try {
    pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      .split('\n').map(Number).filter(p => p > 0)
  } catch {
    return
  }
  for (const pid of pids) {
    try { process.kill(pid, 'SIGKILL') } catch { /* exited */ }
  }
}

/** Removes every namespace and link of lab `id`. */
function removeLab (id: string): void {
  for (const ns of namespaces().filter(n => n.startsWith(`${NS_PREFIX}${id}-`))) {
    killNamespace(ns)
    tryRun('ip', ['netns', 'del', ns])
  }
  for (const link of links().filter(l => l.startsWith(`tl${id}`))) tryRun('ip', ['link', 'del', link])
  removeGroups(id)
}

/** Removes the labs whose owner process is gone, and lab namespaces no state file claims. */
export function cleanLeftovers (): string[] {
  const removed: string[] = []
  const owned = new Set<string>()
  let files: string[] = []
  try {
    files = readdirSync(STATE_DIR).filter(f => f.endsWith('.json'))
  } catch {
    // no lab ever ran
  }
  for (const file of files) {
    const id = file.slice(0, -5)
    let pid = 0
    try {
      pid = Number((JSON.parse(readFileSync(join(STATE_DIR, file), 'utf8')) as { pid?: unknown }).pid)
    } catch {
      // unreadable: treat as orphaned
    }
    if (pid > 0 && pid !== process.pid && alive(pid)) {
      owned.add(id)
      continue
    }
    removeLab(id)
    rmSync(join(STATE_DIR, file), { force: true })
    removed.push(id)
  }
  const orphans = new Set([
    ...namespaces().filter(n => n.startsWith(NS_PREFIX)).map(n => n.slice(NS_PREFIX.length).split('-')[0]!),
    ...links().map(l => /^tl([0-9a-f]{4})(?:br|h\d+)$/.exec(l)?.[1]).filter((id): id is string => id != null)
  ])
  for (const id of orphans) {
    if (owned.has(id)) continue
    removeLab(id)
    removed.push(id)
  }
  removeGroups(id => !owned.has(id))
  return [...new Set(removed)]
}

function tbfArgs (dev: string, cap: RateCap): string[] {
  if (!(cap.mbit > 0)) throw new LabError('ERR_LAB_INPUT', `a rate cap needs mbit > 0, got ${cap.mbit}`)
  const bytesPerSec = cap.mbit * 1e6 / 8
  const burst = Math.round(cap.burstBytes ?? Math.max(16 * 1024, bytesPerSec * 0.004))
  const queueMs = cap.queueMs ?? 100
  return ['qdisc', 'replace', 'dev', dev, 'root', 'tbf', 'rate', `${Math.round(cap.mbit * 1000)}kbit`,
    'burst', String(burst), 'latency', `${queueMs}ms`]
}

export class Lab {
  readonly id: string
  readonly bridge: string
  /** The bridge's address: the root namespace (this process) reaches every node through it. */
  readonly gateway: string
  readonly nodes: LabNode[] = []
  private readonly subnet: string
  private readonly stateFile: string
  private readonly children = new Set<ChildProcess>()
  private readonly rules = new Map<string, NodeRules>()
  private destroyed = false

  constructor (init: LabInit = {}) {
    const why = labUnavailable()
    if (why != null) throw new LabError('ERR_LAB_UNAVAILABLE', why)
    cleanLeftovers()
    const routes = run('ip', ['route', 'show'])
    const subnetOf = (id: string): string => `10.213.${Number.parseInt(id, 16) % 250}`
    let id = init.id
    // Another lab running at the same time has its own /24: pick an id whose subnet is free.
    for (let i = 0; id == null && i < 100; i++) {
      const candidate = randomBytes(2).toString('hex')
      if (!routes.includes(`${subnetOf(candidate)}.0/24`)) id = candidate
    }
    if (id == null || !/^[0-9a-f]{4}$/.test(id)) throw new LabError('ERR_LAB_INPUT', `a lab id is 4 hex digits, got "${String(id)}"`)
    this.id = id
    this.bridge = `tl${this.id}br`
    this.subnet = subnetOf(this.id)
    this.gateway = `${this.subnet}.1`
    this.stateFile = join(STATE_DIR, `${this.id}.json`)
    mkdirSync(STATE_DIR, { recursive: true })
    writeFileSync(this.stateFile, JSON.stringify({ pid: process.pid, createdAt: new Date().toISOString() }) + '\n')
    try {
      run('ip', ['link', 'add', this.bridge, 'type', 'bridge'])
      run('ip', ['addr', 'add', `${this.gateway}/24`, 'dev', this.bridge])
      run('ip', ['link', 'set', this.bridge, 'up'])
    } catch (err) {
      this.destroy()
      throw err
    }
  }

  /** A namespace on the bridge, its links capped as asked. */
  addNode (name: string, options: AddNodeOptions = {}): LabNode {
    if (!/^[a-z0-9]{1,20}$/.test(name)) throw new LabError('ERR_LAB_INPUT', `a node name is 1-20 lower-case letters and digits, got "${name}"`)
    if (this.nodes.some(n => n.name === name)) throw new LabError('ERR_LAB_INPUT', `node ${name} already exists`)
    if (this.nodes.length >= 250) throw new LabError('ERR_LAB_INPUT', 'a lab holds at most 250 nodes')
    const index = this.nodes.length
    const node: LabNode = { name, index, namespace: `${NS_PREFIX}${this.id}-${name}`, ip: `${this.subnet}.${index + 2}`, hostIf: `tl${this.id}h${index}` }
    run('ip', ['netns', 'add', node.namespace])
    this.nodes.push(node)
    run('ip', ['link', 'add', node.hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', node.namespace])
    // No segmentation offload: every packet is a wire-sized one, so the byte counters include
    // every packet's headers (with GSO a 64 KiB super-packet carries its headers once) and tbf
    // paces real packets.
    run('ip', ['link', 'set', node.hostIf, 'gso_max_segs', '1'])
    run('ip', ['-n', node.namespace, 'link', 'set', 'eth0', 'gso_max_segs', '1'])
    run('ip', ['link', 'set', node.hostIf, 'master', this.bridge, 'up'])
    run('ip', ['-n', node.namespace, 'addr', 'add', `${node.ip}/24`, 'dev', 'eth0'])
    run('ip', ['-n', node.namespace, 'link', 'set', 'eth0', 'up'])
    run('ip', ['-n', node.namespace, 'link', 'set', 'lo', 'up'])
    if (options.tcpCongestion !== undefined) {
      if (!/^[a-z0-9_]{1,16}$/.test(options.tcpCongestion)) throw new LabError('ERR_LAB_INPUT', `a TCP congestion control is a kernel module name, got "${options.tcpCongestion}"`)
      run('ip', ['netns', 'exec', node.namespace, 'sysctl', '-qw', `net.ipv4.tcp_congestion_control=${options.tcpCongestion}`])
    }
    const both = options.mbit != null ? { mbit: options.mbit } : undefined
    this.setLink(node, { up: options.up ?? both, down: options.down ?? both })
    this.rules.set(node.name, { lossIn: 0, lossOut: 0, blocked: new Set(), counted: [] })
    return node
  }

  /** Replaces a node's caps; a direction left undefined becomes uncapped. */
  setLink (node: LabNode, caps: LinkCaps): void {
    // Uplink: the egress of eth0 inside the namespace. Downlink: the egress of the host side.
    if (caps.up != null) run('ip', ['netns', 'exec', node.namespace, 'tc', ...tbfArgs('eth0', caps.up)])
    else tryRun('ip', ['netns', 'exec', node.namespace, 'tc', 'qdisc', 'del', 'dev', 'eth0', 'root'])
    if (caps.down != null) run('tc', tbfArgs(node.hostIf, caps.down))
    else tryRun('tc', ['qdisc', 'del', 'dev', node.hostIf, 'root'])
  }

  /** Takes a node's link down (cut off from every other node) or up again. */
  setLinkUp (node: LabNode, up: boolean): void {
    run('ip', ['link', 'set', node.hostIf, up ? 'up' : 'down'])
  }

  /** Drops a random fraction of the packets a node receives (`in`) and sends (`out`). Needs nft. */
  setLoss (node: LabNode, fraction: number | { in: number, out: number }): void {
    const { in: lossIn, out: lossOut } = typeof fraction === 'number' ? { in: fraction, out: fraction } : fraction
    for (const f of [lossIn, lossOut]) {
      if (!(f >= 0 && f <= 1)) throw new LabError('ERR_LAB_INPUT', `a loss fraction is in [0, 1], got ${f}`)
    }
    const rules = this.rulesOf(node)
    rules.lossIn = lossIn
    rules.lossOut = lossOut
    this.applyRules(node)
  }

  /** Drops every packet between a node of `a` and a node of `b` (both ways). Needs nft. */
  partition (a: LabNode[], b: LabNode[]): void {
    for (const x of a) {
      for (const y of b) {
        this.rulesOf(x).blocked.add(y.ip)
        this.rulesOf(y).blocked.add(x.ip)
      }
    }
    for (const n of new Set([...a, ...b])) this.applyRules(n)
  }

  /** Lifts every partition (losses stay). */
  heal (): void {
    for (const node of this.nodes) {
      const rules = this.rulesOf(node)
      if (rules.blocked.size === 0) continue
      rules.blocked.clear()
      this.applyRules(node)
    }
  }

  /**
   * Counts, from now on, the bytes `node` receives from each of `sources` (IP packets, headers
   * included, Ethernet not; before loss and partition drops). Needs nft. Read with `bytesFrom`;
   * the counts restart whenever the node's loss or partition rules change.
   */
  countSources (node: LabNode, sources: LabNode[]): void {
    this.rulesOf(node).counted = sources.map(n => n.ip)
    this.applyRules(node)
  }

  /** Bytes `node` has received from each counted source, by source IP (see countSources). */
  bytesFrom (node: LabNode): Map<string, number> {
    const out = new Map<string, number>()
    if (this.rulesOf(node).counted.length === 0) return out
    const json = JSON.parse(run('ip', ['netns', 'exec', node.namespace, 'nft', '-j', 'list', 'chain', 'inet', 'tuttilab', 'input'])) as
      { nftables: Array<{ rule?: { comment?: string, expr: Array<{ counter?: { bytes: number } }> } }> }
    for (const item of json.nftables) {
      const rule = item.rule
      const bytes = rule?.expr.find(e => e.counter != null)?.counter?.bytes
      if (rule?.comment != null && bytes != null) out.set(rule.comment, bytes)
    }
    return out
  }

  /** A node's byte and packet counters, read from the host side of its veth (so swapped). */
  counters (node: LabNode): Counters {
    const read = (stat: string): number => Number(readFileSync(`/sys/class/net/${node.hostIf}/statistics/${stat}`, 'utf8'))
    return { rxBytes: read('tx_bytes'), txBytes: read('rx_bytes'), rxPackets: read('tx_packets'), txPackets: read('rx_packets') }
  }

  /**
   * The node's TCP segment counters (its namespace's /proc/net/snmp): segments sent, and of them
   * retransmitted. A capped link's queue that overflows drops segments, and each one costs its
   * sender a retransmission and a cut of its congestion window.
   */
  tcpCounters (node: LabNode): TcpCounters {
    const lines = run('ip', ['netns', 'exec', node.namespace, 'cat', '/proc/net/snmp']).split('\n').filter(l => l.startsWith('Tcp:'))
    const names = lines[0]?.split(/\s+/) ?? []
    const values = lines[1]?.split(/\s+/) ?? []
    const get = (name: string): number => {
      const v = Number(values[names.indexOf(name)])
      if (names.indexOf(name) < 0 || !Number.isFinite(v)) throw new LabError('ERR_LAB_COMMAND', `no Tcp ${name} in /proc/net/snmp of ${node.namespace}`)
      return v
    }
    return { outSegs: get('OutSegs'), retransSegs: get('RetransSegs') }
  }

  /** Packets the node's tbf queues dropped so far, uplink (its eth0) and downlink (the host side of its veth). */
  tbfDrops (node: LabNode): { up: number, down: number } {
    const drops = (json: string): number => (JSON.parse(json) as Array<{ kind?: string, drops?: number }>).filter(q => q.kind === 'tbf').reduce((a, q) => a + (q.drops ?? 0), 0)
    return {
      up: drops(run('ip', ['netns', 'exec', node.namespace, 'tc', '-s', '-j', 'qdisc', 'show', 'dev', 'eth0'])),
      down: drops(run('tc', ['-s', '-j', 'qdisc', 'show', 'dev', node.hostIf]))
    }
  }

  /** Runs `cmd` inside the node's namespace (`ip netns exec` execs, so the child's pid is cmd's). */
  spawn (node: LabNode, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
    if (this.destroyed) throw new LabError('ERR_LAB_INPUT', 'the lab is destroyed')
    const child = spawn('ip', ['netns', 'exec', node.namespace, cmd, ...args], options)
    this.children.add(child)
    child.once('exit', () => { this.children.delete(child) })
    child.once('error', () => { this.children.delete(child) })
    return child
  }

  /**
   * Caps a process of the node (CPU share, disk rate) through cgroups; fields left undefined lift
   * their cap. See sim/netns/cgroup.ts for what a disk cap does and does not slow.
   */
  capProcess (node: LabNode, pid: number, caps: ProcessCaps): void {
    try {
      capProcess(this.id, node.name, pid, caps)
    } catch (err) {
      throw new LabError('ERR_LAB_COMMAND', `cannot cap ${node.name}: ${(err as Error).message}`, { cause: err })
    }
  }

  /** Sends SIGTERM to every process the lab started, and SIGKILL to those still running after `graceMs`. */
  async stopProcesses (graceMs = 10_000): Promise<void> {
    const running = [...this.children].filter(c => c.exitCode === null && c.signalCode === null)
    await Promise.all(running.map(async child => {
      const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
      child.kill('SIGCONT') // a paused (SIGSTOPped) process would not act on SIGTERM
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
    }))
  }

  /**
   * Kills whatever still runs in the lab's namespaces and removes them, the veths and the bridge.
   * Idempotent and synchronous (safe in an 'exit' handler).
   */
  destroy (): void {
    if (this.destroyed) return
    this.destroyed = true
    for (const child of this.children) child.kill('SIGKILL')
    removeLab(this.id)
    rmSync(this.stateFile, { force: true })
  }

  private rulesOf (node: LabNode): NodeRules {
    const rules = this.rules.get(node.name)
    if (rules == null) throw new LabError('ERR_LAB_INPUT', `node ${node.name} is not in this lab`)
    return rules
  }

  private applyRules (node: LabNode): void {
    const { lossIn, lossOut, blocked, counted } = this.rulesOf(node)
    const chain = (hook: string, loss: number, dir: 'saddr' | 'daddr'): string => [
      `  chain ${hook} {`,
      `    type filter hook ${hook} priority 0; policy accept;`,
      ...(hook === 'input' ? counted.map(ip => `    ip saddr ${ip} counter comment "${ip}"`) : []),
      ...(blocked.size > 0 ? [`    ip ${dir} { ${[...blocked].join(', ')} } drop`] : []),
      ...(loss >= 1 ? ['    drop'] : loss > 0 ? [`    numgen random mod 1000000 < ${Math.round(loss * 1e6)} drop`] : []),
      '  }'
    ].join('\n')
    const script = [
      'table inet tuttilab {}',
      'delete table inet tuttilab',
      'table inet tuttilab {',
      chain('input', lossIn, 'saddr'),
      chain('output', lossOut, 'daddr'),
      '}'
    ].join('\n') + '\n'
    run('ip', ['netns', 'exec', node.namespace, 'nft', '-f', '-'], script)
  }
}

/** Creates a lab (root only: throws LabError ERR_LAB_UNAVAILABLE saying why otherwise). */
export function createLab (init: LabInit = {}): Lab {
  return new Lab(init)
}

/** User + system CPU seconds a process has used so far (from /proc/PID/stat), or NaN once it is gone. */
export function cpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ
  } catch {
    return Number.NaN
  }
}
