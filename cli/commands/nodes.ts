import { bytes, describeBlock, duration, labelList, shortenedTail, shortPeer, structured, table } from '../format.js'
import { connectionOf, withPeer } from '../client.js'
import { getOptions } from '../resources.js'
import { UsageError } from '../errors.js'
import type { Ask } from '../client.js'
import type { CliIO } from '../io.js'
import type { OutputFormat } from '../options.js'
import type { CommandModule } from '../program.js'
import type { Selector } from '../../core/selector.js'
import type { MemberInfo } from '../../node/membership/membership.js'
import type { NodeDescription } from '../../node/tutti-node.js'

interface NodesList { observer: string, nodes: MemberInfo[] }

/** How often `get nodes -w` asks again, ms. */
const WATCH_POLL_MS = 2000

/** Printed to stderr under a table that marks the answering peer, so pipes get the table only. */
export const SELF_FOOTER = '(* the peer that answered)\n'

/** The `nodes` resource: `get nodes`, `describe node PEER_ID`, `delete node PEER_ID`. */
export const registerNodes: CommandModule = (_program, { io, resource }) => {
  resource({
    names: ['nodes', 'node', 'no'],
    id: 'PEER_ID',
    get: {
      outputs: ['table', 'wide', 'json', 'yaml', 'name'],
      features: ['selector', 'watch'],
      run: async (command, format) => {
        const options = getOptions(command)
        const selector = options.selector != null ? await parseSelectorFlag(options.selector) : undefined
        await withPeer(connectionOf(command), async ask => {
          const first = await listNodes(ask, selector)
          printNodes(io, first, format, options.headers)
          if (options.watch) await watchNodes(io, ask, selector, format, first)
        })
      }
    },
    describe: {
      outputs: ['json', 'yaml'],
      // PEER_ID may be a unique suffix of a peer id, or the id as 'get nodes' shortens it (…N6xikrKoGFf6).
      run: async (command, format, id) => {
        const result = await withPeer(connectionOf(command), async ask => await ask<{ observer: string, node: NodeDescription }>('nodes.get', { peerId: shortenedTail(id) ?? id }))
        io.out(format === 'json' || format === 'yaml' ? structured(result, format) : formatDescription(result.observer, result.node))
      }
    },
    delete: {
      outputs: [],
      run: async (command, _format, id) => {
        const result = await withPeer(connectionOf(command), async ask => await ask<{ observer: string, peerId: string }>('nodes.forget', { peerId: shortenedTail(id) ?? id }))
        io.out(`node/${result.peerId} forgotten by ${shortPeer(result.observer)} (other peers forget it once it has been dead an hour, or by 'delete node' on them)\n`)
      }
    }
  })
}

async function parseSelectorFlag (text: string): Promise<Selector> {
  const { parseSelector, SelectorError } = await import('../../core/selector.js')
  try {
    return parseSelector(text)
  } catch (err) {
    if (err instanceof SelectorError) throw new UsageError(`-l ${JSON.stringify(text)}: ${err.message}`)
    throw err
  }
}

async function listNodes (ask: Ask, selector: Selector | undefined): Promise<NodesList> {
  const list = await ask<NodesList>('nodes.list')
  if (selector == null) return list
  // The same attributes a rollout selector sees: properties, then labels over them.
  const { matchesSelector } = await import('../../core/selector.js')
  return { ...list, nodes: list.nodes.filter(n => matchesSelector(selector, { ...n.props, ...n.labels })) }
}

function printNodes (io: CliIO, list: NodesList, format: OutputFormat | undefined, headers: boolean): void {
  if (format === 'json' || format === 'yaml') {
    io.out(structured(list, format))
    return
  }
  if (format === 'name') {
    io.out(list.nodes.map(n => `node/${n.peerId}\n`).join(''))
    return
  }
  if (list.nodes.length === 0) {
    io.err('No nodes match.\n')
    return
  }
  io.out(formatNodes(list, format === 'wide', headers))
  if (list.nodes.some(n => n.self)) io.err(SELF_FOOTER)
}

/** What makes a row worth printing again under -w: not its ages, which move every poll. */
function watchKey (n: MemberInfo): string {
  return JSON.stringify([n.status, n.restarts, n.nodeVersion, n.labels, (n.models ?? []).map(m => [m.name, m.version, m.state])])
}

/** `get nodes -w`: polls, and prints the row of every node that joined or changed, until Ctrl-C. */
async function watchNodes (io: CliIO, ask: Ask, selector: Selector | undefined, format: OutputFormat | undefined, first: NodesList): Promise<void> {
  const seen = new Map(first.nodes.map(n => [n.peerId, watchKey(n)]))
  for (;;) {
    await new Promise(resolve => setTimeout(resolve, WATCH_POLL_MS))
    const list = await listNodes(ask, selector)
    const changed = list.nodes.filter(n => seen.get(n.peerId) !== watchKey(n))
    for (const n of changed) seen.set(n.peerId, watchKey(n))
    if (changed.length === 0) continue
    if (format === 'json' || format === 'yaml') {
      for (const n of changed) io.out(structured(n, format))
    } else if (format === 'name') {
      io.out(changed.map(n => `node/${n.peerId}\n`).join(''))
    } else {
      io.out(formatNodes({ ...list, nodes: changed }, format === 'wide', false))
    }
  }
}

/**
 * The `get nodes` table. A dead node's uptime and models are what it announced before it went
 * quiet, not what it runs: they show as `-` (describe shows the last announcement, marked so).
 */
export function formatNodes (list: NodesList, wide: boolean, headers = true): string {
  const header = wide
    ? ['PEER', 'STATUS', 'LAST-SEEN', 'UPTIME', 'BATTERY', 'ARCH', 'CPUS', 'MEM-FREE', 'VERSION', 'INTERVAL', 'MODELS', 'LABELS']
    : ['PEER', 'STATUS', 'LAST-SEEN', 'UPTIME', 'BATTERY', 'MODELS', 'LABELS']
  const rows = list.nodes.map(n => {
    const dead = n.status === 'dead'
    const peer = wide ? n.peerId : shortPeer(n.peerId)
    const status = n.self ? `${n.status}*` : n.status
    const battery = n.props.battery != null && !dead ? `${n.props.battery}%` : '-'
    const base = [peer, status, n.self ? '-' : `${duration(n.ageMs)} ago`, dead ? '-' : duration(n.uptimeMs + n.ageMs), battery]
    const models = dead ? [] : n.models ?? []
    if (!wide) {
      const active = models.filter(m => m.state === 'active').map(m => `${m.name}@${m.version}`)
      return [...base, active.length > 0 ? active.join(',') : '-', labelList(n.labels)]
    }
    const free = Number(n.props['mem.free'])
    const all = models.map(m => `${m.name}@${m.version}(${m.state}${m.stats != null ? ` ${m.stats.n} req p50 ${m.stats.p50}ms` : ''})`)
    return [...base, n.props.arch ?? '-', n.props.cpus ?? '-', Number.isFinite(free) && !dead ? bytes(free) : '-', n.nodeVersion, duration(n.intervalMs), all.length > 0 ? all.join(',') : '-', labelList(n.labels)]
  })
  const text = table(header, rows)
  return headers ? text : text.slice(text.indexOf('\n') + 1)
}

export function formatDescription (observer: string, n: NodeDescription): string {
  const kv = (r: Record<string, string>): string[] => Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
  const dead = n.status === 'dead'
  const lastAnnounced = (lines: string[]): string[] => dead && lines.length > 0 ? [`(as announced before it went quiet, ${duration(n.ageMs)} ago)`, ...lines] : lines
  return describeBlock([
    ['Peer ID', n.peerId],
    ['Status', n.self ? 'alive (this is the peer that answered)' : `${n.status} (last heard ${duration(n.ageMs)} ago; heartbeat every ${duration(n.intervalMs)})`],
    ['Seen by', observer],
    // Past the aggregation threshold, a node outside the observer's shard is known from digests.
    ...(n.via === 'digest' || n.aggregator != null
      ? [['Known from', n.via === 'digest'
          ? `the shard digest of ${shortPeer(n.aggregator ?? '?')} (no inference stats, no mem.free: describe it on the node itself for those)`
          : `its heartbeats; last kept fresh by the shard digest of ${shortPeer(n.aggregator ?? '?')}`]] as Array<[string, string]>
      : []),
    ['Connected', n.self ? '-' : n.connected ? 'yes' : 'no'],
    ['Addresses', n.addresses],
    ['Version', n.nodeVersion],
    ['Uptime', dead ? `- (was up ${duration(n.uptimeMs)} when last heard)` : duration(n.uptimeMs + n.ageMs)],
    ['Booted', new Date(n.bootMs).toISOString()],
    ['Restarts', String(n.restarts)],
    ...(n.localHealth != null
      ? [['Local health', n.localHealth === 0 ? '0 (timers on time)' : `${n.localHealth}: timers late, peers get ${1 + n.localHealth}x the usual time before suspect and dead`] as [string, string]]
      : []),
    ...(n.policies != null
      ? [['Policies', `${n.policies.held} held (${n.policies.tombstones} deleted), ${n.policies.accepted} accepted, ${n.policies.duplicates} duplicates; rejected: ${Object.entries(n.policies.rejected).filter(([, c]) => c > 0).map(([code, c]) => `${code} ${c}`).join(', ') || 'none'}`] as [string, string]]
      : []),
    ...(n.rolloutRequests != null
      ? [['Coordinator asks', `${n.rolloutRequests.prepare} prepare, ${n.rolloutRequests.command} command, ${n.rolloutRequests.report} report (answered since start)`] as [string, string]]
      : []),
    ...((n.rollouts ?? []).length > 0 ? [['Rollouts', lastAnnounced((n.rollouts ?? []).map(r => `${r.name} v${r.policyVersion}: ${r.state}${r.reason !== '' ? ` (${r.reason})` : ''}, epoch ${r.epoch}`))] as [string, string[]]] : []),
    ['First seen', new Date(n.firstSeenMs).toISOString()],
    ['Fleet size', `${n.fleetSize} (as this node counts it)`],
    ['Labels', kv(n.labels)],
    ['Properties', lastAnnounced(kv(n.props))],
    ['Models', lastAnnounced((n.models ?? []).map(modelLine))]
  ])
}

/** One model of `describe node`: its state and, while loaded, its numbers; a shadow's with its fraction and samples. */
function modelLine (m: NonNullable<MemberInfo['models']>[number]): string {
  const st = m.stats
  const shadow = st?.fr != null ? `, shadow on ${Number((st.fr * 100).toPrecision(3))}% of requests` : ''
  if (st == null) return `${m.name}@${m.version} ${m.state}`
  const agreement = st.ag != null ? `, agreement ${st.ag}` : ''
  const samples = st.sc != null ? `${st.ag != null ? ' over' : ', agreement: none yet,'} ${st.sc} compared sample${st.sc === 1 ? '' : 's'}` : ''
  return `${m.name}@${m.version} ${m.state}${shadow}: ${st.n} requests, ${st.e} errors, p50 ${st.p50} ms, p99 ${st.p99} ms, ${st.nf} non-finite, ${st.mb} MiB${agreement}${samples}`
}
