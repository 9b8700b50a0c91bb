import { resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadFleet } from '../../node/fleet/fleet.js'
import { createLogger } from '../../node/logger.js'
import { TuttiNode } from '../../node/tutti-node.js'
import { checkKeyValue } from '../../protocols/heartbeat/index.js'
import { keyValues, list, parse, positiveInt, str } from '../args.js'
import { UsageError } from '../errors.js'
import type { CliIO } from '../io.js'
import type { LogLevel } from '../../node/logger.js'

export const NODE_HELP = `Run a Tutti node.

Usage:
  tutti node start --data DIR --fleet FLEET.json [flags]

Flags:
  --data DIR             identity, datastore and node.json live here (created if missing)
  --fleet FILE           the fleet's fleet.json
  --listen MULTIADDR     address to listen on, repeatable (default /ip4/0.0.0.0/tcp/7410)
  --bootstrap MULTIADDR  a peer to join through, repeatable
  --label k=v            a static label announced in heartbeats, repeatable
  --prop k=v             override a live property (battery=80), repeatable
  --api HOST:PORT|off    local HTTP API (default 127.0.0.1:7411; port 0 picks one)
  --mdns                 discover peers on the LAN with mDNS
  --heartbeat-ms N       base heartbeat interval in ms (default 5000; grows with fleet size)
  --log-level LEVEL      debug, info, warn or error (default info); logs are JSON lines on stderr

On start it prints its peer id, listen addresses and API URL and writes them to DIR/node.json.
SIGINT or SIGTERM stops it cleanly.
`

export function parseApi (value: string | undefined): { host: string, port: number } | false {
  if (value == null) return { host: '127.0.0.1', port: 7411 }
  if (value === 'off') return false
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m == null || port > 65535) throw new UsageError(`--api must be HOST:PORT or off, got "${value}"`, 'node')
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

function multiaddrs (flag: string, values: string[]): string[] {
  for (const v of values) {
    try {
      multiaddr(v)
    } catch (err) {
      throw new UsageError(`${flag} "${v}" is not a multiaddr: ${(err as Error).message}`, 'node')
    }
  }
  return values
}

export async function nodeCommand (args: string[], io: CliIO, options: { signal?: AbortSignal } = {}): Promise<number> {
  const [sub, ...rest] = args
  if (sub == null || sub === '--help' || sub === '-h') {
    io.out(NODE_HELP)
    return sub == null ? 2 : 0
  }
  if (sub !== 'start') throw new UsageError(`unknown node command "${sub}"`, 'node')
  const { values, positionals } = parse(rest, {
    data: { type: 'string' },
    fleet: { type: 'string' },
    listen: { type: 'string', multiple: true },
    bootstrap: { type: 'string', multiple: true },
    label: { type: 'string', multiple: true },
    prop: { type: 'string', multiple: true },
    api: { type: 'string' },
    mdns: { type: 'boolean' },
    'heartbeat-ms': { type: 'string' },
    'log-level': { type: 'string' }
  }, 'node')
  if (values.help === true) {
    io.out(NODE_HELP)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'node')
  const data = str(values.data)
  const fleetFile = str(values.fleet)
  if (data == null) throw new UsageError('node start needs --data DIR', 'node')
  if (fleetFile == null) throw new UsageError('node start needs --fleet FILE (the fleet.json from `tutti fleet init`)', 'node')
  const level = str(values['log-level']) ?? 'info'
  if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new UsageError(`--log-level must be debug, info, warn or error; got "${level}"`, 'node')
  const labels = keyValues('--label', list(values.label), checkKeyValue)
  const props = keyValues('--prop', list(values.prop), checkKeyValue)
  const api = parseApi(str(values.api))
  const heartbeatMs = positiveInt('--heartbeat-ms', str(values['heartbeat-ms']), 5000)
  if (heartbeatMs < 50) throw new UsageError('--heartbeat-ms must be at least 50', 'node')
  const listen = multiaddrs('--listen', list(values.listen))
  const bootstrap = multiaddrs('--bootstrap', list(values.bootstrap))

  const fleet = await loadFleet(fleetFile)
  const logger = createLogger({ level: level as LogLevel })
  const node = await TuttiNode.create({
    fleet,
    dataDir: resolve(data),
    transport: 'tcp',
    listen: listen.length > 0 ? listen : ['/ip4/0.0.0.0/tcp/7410'],
    bootstrap,
    labels,
    props,
    api,
    mdns: values.mdns === true,
    heartbeat: { baseIntervalMs: heartbeatMs }
  }, { logger })
  // A node is long-lived infrastructure: a stray rejection in a library is logged, not fatal.
  const onUnhandled = (reason: unknown): void => { logger.error('unhandled rejection', { err: reason }) }
  process.on('unhandledRejection', onUnhandled)
  await node.start()
  io.out(`peer id:   ${node.peerId}\n`)
  io.out(`fleet:     ${fleet.fleetId} (${fleet.name})\n`)
  for (const addr of node.addresses()) io.out(`listening: ${addr}\n`)
  io.out(`api:       ${node.apiUrl ?? 'off'}\n`)
  io.out(`node file: ${resolve(data, 'node.json')}\n`)

  await new Promise<void>(resolveStop => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      options.signal?.removeEventListener('abort', stop)
      resolveStop()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    options.signal?.addEventListener('abort', stop, { once: true })
  })
  await node.stop()
  process.off('unhandledRejection', onUnhandled)
  return 0
}
