import { bytes, describeBlock, duration, labelList, shortPeer, table } from '../format.js'
import { connectionFrom, CONNECTION_OPTIONS, withPeer } from '../client.js'
import { outputFormat, parse, str } from '../args.js'
import { UsageError } from '../errors.js'
import { describeModel } from './model.js'
import type { CliIO } from '../io.js'
import type { MemberInfo } from '../../node/membership/membership.js'
import type { NodeDescription } from '../../node/tutti-node.js'

export const GET_HELP = `Display resources as seen by the peer the CLI attaches to.

Usage:
  tutti get nodes [-o table|wide|json] --peer MULTIADDR --key ADMIN.key [--fleet FLEET.json]

--peer and --key may come from TUTTI_PEER and TUTTI_KEY; the fleet file defaults to the
fleet.json beside the key file.
`

export const DESCRIBE_HELP = `Show details of one resource.

Usage:
  tutti describe node PEER_ID [-o json] --peer MULTIADDR --key ADMIN.key
  tutti describe model NAME@VERSION|CID [-o json] --peer MULTIADDR --key ADMIN.key

PEER_ID may be a unique suffix of a peer id, as 'get nodes' shows them.
`

const NODE_RESOURCES = new Set(['node', 'nodes', 'no'])

interface NodesList { observer: string, nodes: MemberInfo[] }

export async function getCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, output: { type: 'string', short: 'o' } }, 'get')
  if (values.help === true) {
    io.out(GET_HELP)
    return 0
  }
  const [resource, ...extra] = positionals
  if (resource == null) throw new UsageError('get needs a resource type: nodes', 'get')
  if (!NODE_RESOURCES.has(resource)) throw new UsageError(`unknown resource type "${resource}" (known: nodes)`, 'get')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'get')
  const format = outputFormat(str(values.output))
  const conn = connectionFrom(values, io)
  const list = await withPeer(conn, async ask => await ask<NodesList>('nodes.list'))
  io.out(formatNodes(list, format))
  return 0
}

export function formatNodes (list: NodesList, format: 'table' | 'wide' | 'json'): string {
  if (format === 'json') return JSON.stringify(list, null, 2) + '\n'
  const wide = format === 'wide'
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

export async function describeCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, output: { type: 'string', short: 'o' } }, 'describe')
  if (values.help === true) {
    io.out(DESCRIBE_HELP)
    return 0
  }
  const [resource, id, ...extra] = positionals
  if (resource === 'model' || resource === 'models') {
    if (id == null) throw new UsageError('describe model needs NAME@VERSION or a manifest CID', 'describe')
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'describe')
    const format = outputFormat(str(values.output))
    if (format === 'wide') throw new UsageError('describe supports -o json only', 'describe')
    return await describeModel(id, values, io, format)
  }
  if (resource == null || !NODE_RESOURCES.has(resource)) throw new UsageError(resource == null ? 'describe needs a resource type: node or model' : `unknown resource type "${resource}" (known: node, model)`, 'describe')
  if (id == null) throw new UsageError('describe node needs a PEER_ID', 'describe')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'describe')
  const format = outputFormat(str(values.output))
  if (format === 'wide') throw new UsageError('describe supports -o json only', 'describe')
  const conn = connectionFrom(values, io)
  const result = await withPeer(conn, async ask => await ask<{ observer: string, node: NodeDescription }>('nodes.get', { peerId: id }))
  io.out(format === 'json' ? JSON.stringify(result, null, 2) + '\n' : formatDescription(result.observer, result.node))
  return 0
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
    ['First seen', new Date(n.firstSeenMs).toISOString()],
    ['Fleet size', `${n.fleetSize} (as this node counts it)`],
    ['Labels', kv(n.labels)],
    ['Properties', kv(n.props)],
    ['Models', (n.models ?? []).map(m => `${m.name}@${m.version} ${m.state}${m.stats != null ? `: ${m.stats.n} requests, ${m.stats.e} errors, p50 ${m.stats.p50} ms, p99 ${m.stats.p99} ms, ${m.stats.nf} non-finite, ${m.stats.mb} MiB${m.stats.ag != null ? `, agreement ${m.stats.ag}` : ''}` : ''}`)]
  ])
}
