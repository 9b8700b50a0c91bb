import { bytes, describeBlock, duration, labelList, shortenedTail, shortPeer, structured, table } from '../format.js'
import { connectionOf, withPeer } from '../client.js'
import type { CommandModule } from '../program.js'
import type { MemberInfo } from '../../node/membership/membership.js'
import type { NodeDescription } from '../../node/tutti-node.js'

interface NodesList { observer: string, nodes: MemberInfo[] }

/** The `nodes` resource: `get nodes`, `describe node PEER_ID`. */
export const registerNodes: CommandModule = (_program, { io, resource }) => {
  resource({
    names: ['nodes', 'node', 'no'],
    id: 'PEER_ID',
    get: {
      outputs: ['table', 'wide', 'json', 'yaml'],
      run: async (command, format) => {
        const list = await withPeer(connectionOf(command), async ask => await ask<NodesList>('nodes.list'))
        io.out(format === 'json' || format === 'yaml' ? structured(list, format) : formatNodes(list, format === 'wide'))
      }
    },
    describe: {
      outputs: ['json', 'yaml'],
      // PEER_ID may be a unique suffix of a peer id, as 'get nodes' shows them.
      run: async (command, format, id) => {
        const result = await withPeer(connectionOf(command), async ask => await ask<{ observer: string, node: NodeDescription }>('nodes.get', { peerId: shortenedTail(id) ?? id }))
        io.out(format === 'json' || format === 'yaml' ? structured(result, format) : formatDescription(result.observer, result.node))
      }
    }
  })
}

export function formatNodes (list: NodesList, wide: boolean): string {
  const headers = wide
    ? ['PEER', 'STATUS', 'LAST-SEEN', 'UPTIME', 'BATTERY', 'ARCH', 'CPUS', 'MEM-FREE', 'VERSION', 'INTERVAL', 'MODELS', 'LABELS']
    : ['PEER', 'STATUS', 'LAST-SEEN', 'UPTIME', 'BATTERY', 'MODELS', 'LABELS']
  const rows = list.nodes.map(n => {
    const peer = wide ? n.peerId : shortPeer(n.peerId)
    const status = n.self ? `${n.status}*` : n.status
    const battery = n.props.battery != null ? `${n.props.battery}%` : '-'
    const base = [peer, status, n.self ? '-' : `${duration(n.ageMs)} ago`, duration(n.uptimeMs + n.ageMs), battery]
    const models = n.models ?? []
    if (!wide) {
      const active = models.filter(m => m.state === 'active').map(m => `${m.name}@${m.version}`)
      return [...base, active.length > 0 ? active.join(',') : '-', labelList(n.labels)]
    }
    const free = Number(n.props['mem.free'])
    const all = models.map(m => `${m.name}@${m.version}(${m.state}${m.stats != null ? ` ${m.stats.n} req p50 ${m.stats.p50}ms` : ''})`)
    return [...base, n.props.arch ?? '-', n.props.cpus ?? '-', Number.isFinite(free) ? bytes(free) : '-', n.nodeVersion, duration(n.intervalMs), all.length > 0 ? all.join(',') : '-', labelList(n.labels)]
  })
  return table(headers, rows) + (list.nodes.some(n => n.self) ? '(* the peer that answered)\n' : '')
}

export function formatDescription (observer: string, n: NodeDescription): string {
  const kv = (r: Record<string, string>): string[] => Object.entries(r).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`)
  return describeBlock([
    ['Peer ID', n.peerId],
    ['Status', n.self ? 'alive (this is the peer that answered)' : `${n.status} (last heard ${duration(n.ageMs)} ago; heartbeat every ${duration(n.intervalMs)})`],
    ['Seen by', observer],
    ['Connected', n.self ? '-' : n.connected ? 'yes' : 'no'],
    ['Addresses', n.addresses],
    ['Version', n.nodeVersion],
    ['Uptime', duration(n.uptimeMs + n.ageMs)],
    ['Booted', new Date(n.bootMs).toISOString()],
    ['Restarts', String(n.restarts)],
    ...(n.policies != null
      ? [['Policies', `${n.policies.held} held (${n.policies.tombstones} deleted), ${n.policies.accepted} accepted, ${n.policies.duplicates} duplicates; rejected: ${Object.entries(n.policies.rejected).filter(([, c]) => c > 0).map(([code, c]) => `${code} ${c}`).join(', ') || 'none'}`] as [string, string]]
      : []),
    ...((n.rollouts ?? []).length > 0 ? [['Rollouts', (n.rollouts ?? []).map(r => `${r.name} v${r.policyVersion}: ${r.state}${r.reason !== '' ? ` (${r.reason})` : ''}, epoch ${r.epoch}`)] as [string, string[]]] : []),
    ['First seen', new Date(n.firstSeenMs).toISOString()],
    ['Fleet size', `${n.fleetSize} (as this node counts it)`],
    ['Labels', kv(n.labels)],
    ['Properties', kv(n.props)],
    ['Models', (n.models ?? []).map(m => `${m.name}@${m.version} ${m.state}${m.stats != null ? `: ${m.stats.n} requests, ${m.stats.e} errors, p50 ${m.stats.p50} ms, p99 ${m.stats.p99} ms, ${m.stats.nf} non-finite, ${m.stats.mb} MiB${m.stats.ag != null ? `, agreement ${m.stats.ag}` : ''}` : ''}`)]
  ])
}
