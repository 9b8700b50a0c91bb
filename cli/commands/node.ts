import { resolve } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadFleet } from '../../node/fleet/fleet.js'
import { createLogger } from '../../core/logger.js'
import { TuttiNode } from '../../node/tutti-node.js'
import { createUncaughtExceptionHandler } from '../../node/mesh/uncaught.js'
import { checkKeyValue } from '../../protocols/heartbeat/index.js'
import { parseMemory } from '../../node/inference/limits.js'
import { keyValues, list, parse, positiveInt, str } from '../args.js'
import { UsageError } from '../errors.js'
import type { CliIO } from '../io.js'
import type { LogLevel } from '../../core/logger.js'

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
  --upload-limit RATE    cap on model chunks served to peers, e.g. 20Mbit, 2MiB (per second)
  --download-limit RATE  cap on model chunks fetched from peers (per second)
  --memory-reserve SIZE  memory kept free for the device; models that would use it are refused (default 256Mi)
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

const RATE_UNITS: Record<string, number> = {
  '': 1, B: 1, K: 1000, KB: 1000, Ki: 1024, KiB: 1024, M: 1e6, MB: 1e6, Mi: 1024 ** 2, MiB: 1024 ** 2, G: 1e9, GB: 1e9, Gi: 1024 ** 3, GiB: 1024 ** 3,
  bit: 1 / 8, Kbit: 1000 / 8, Mbit: 1e6 / 8, Gbit: 1e9 / 8
}

/** A byte rate per second: `2500000`, `2.5MB`, `2MiB`, `20Mbit` (an optional `/s` suffix). */
export function parseRate (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)(?:\/s)?$/.exec(value.trim())
  const unit = m == null ? undefined : RATE_UNITS[m[2]!]
  if (m == null || unit == null) throw new UsageError(`${flag} must be a rate like 2500000, 2.5MB, 2MiB or 20Mbit (per second); got "${value}"`, 'node')
  const bytes = Math.floor(Number(m[1]) * unit)
  if (!(bytes >= 1024)) throw new UsageError(`${flag} must be at least 1 KiB/s; got "${value}"`, 'node')
  return bytes
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
    'upload-limit': { type: 'string' },
    'download-limit': { type: 'string' },
    'memory-reserve': { type: 'string' },
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
  const uploadBytesPerSec = parseRate('--upload-limit', str(values['upload-limit']))
  const downloadBytesPerSec = parseRate('--download-limit', str(values['download-limit']))
  let memoryReserveBytes: number | undefined
  const reserve = str(values['memory-reserve'])
  if (reserve != null) {
    try {
      memoryReserveBytes = parseMemory(reserve)
    } catch (err) {
      throw new UsageError(`--memory-reserve: ${(err as Error).message}`, 'node')
    }
  }
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
    heartbeat: { baseIntervalMs: heartbeatMs },
    models: { uploadBytesPerSec, downloadBytesPerSec },
    inference: { memoryReserveBytes }
  }, { logger })
  // A node is long-lived infrastructure: a stray rejection in a library is logged, not fatal.
  const onUnhandled = (reason: unknown): void => { logger.error('unhandled rejection', { err: reason }) }
  process.on('unhandledRejection', onUnhandled)
  // An exception thrown in one connection's socket event is logged and survived; any other exits
  // (the rule is in node/mesh/uncaught.ts).
  const onUncaught = createUncaughtExceptionHandler({ logger, exit: code => process.exit(code) })
  process.on('uncaughtException', onUncaught)
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
  process.off('uncaughtException', onUncaught)
  return 0
}
