import { resolve } from 'node:path'
import { MAX_KEEP_VERSIONS } from '../../node/models/constants.js'
import { isLoopbackHost } from '../../node/api/token.js'
import { Option } from 'commander'
import { createLogger } from '../../core/logger.js'
import { checkKeyValue } from '../../protocols/heartbeat/labels.js'
import { parseByteRate, parseBytes } from '../../core/quantity.js'
import { collect, keyValues, positiveInt, usageQuantity } from '../options.js'
import { UsageError } from '../errors.js'
import type { Command } from 'commander'
import type { CliIO } from '../io.js'
import type { CommandModule, GlobalOptions } from '../program.js'
import type { LogLevel } from '../../core/logger.js'
import type { FetcherInit } from '../../node/fetcher/fetcher.js'
import type { ChunkServerInit } from '../../protocols/chunks/chunks.js'

/** `tutti node start`. */
export const registerNode: CommandModule = (program, { io }) => {
  const node = program.command('node').description('run a node (every device runs the same one)')
  node.command('start')
    .description('run a node until SIGINT or SIGTERM')
    .requiredOption('--data <dir>', 'identity, datastore and node.json live here (created if missing)')
    .option('--listen <multiaddr>', 'address to listen on, repeatable (default /ip4/0.0.0.0/tcp/7410)', collect)
    .option('--bootstrap <multiaddr>', 'a peer to join through, repeatable', collect)
    .option('--label <k=v>', 'a static label announced in heartbeats, repeatable', collect)
    .option('--prop <k=v>', 'override a live property (battery=80), repeatable', collect)
    .option('--api <host:port|off>', 'local HTTP API (port 0 picks one)', '127.0.0.1:7411')
    .option('--api-token-file <file>', 'bearer token the API requires (created 0600 if missing); needed beyond loopback')
    .option('--mdns', 'discover peers on the LAN with mDNS')
    .option('--heartbeat-ms <ms>', 'base heartbeat interval (grows with fleet size)', positiveInt('--heartbeat-ms'), 5000)
    .option('--shard-above <nodes>', 'fleet size from which heartbeats are sharded and aggregated (default 240; docs/HEARTBEATS.md)', positiveInt('--shard-above'))
    .option('--shard-size <nodes>', 'fewest nodes a heartbeat shard holds; shards hold this to twice this (default 100)', positiveInt('--shard-size'))
    .option('--upload-limit <rate>', 'cap on model chunks served to peers per second, e.g. 20Mbit, 2MiB')
    .option('--download-limit <rate>', 'cap on model chunks fetched from peers per second')
    .option('--transfer <key=value>', 'override a fetcher or chunk server default (maxInFlight=8, uploadSlots=3), repeatable; for tuning on real links (docs/models.md)', collect)
    .option('--keep-versions <n>', 'versions of each model the store keeps, the active one included (kept for later starts; default 2)', positiveInt('--keep-versions'))
    .option('--memory-reserve <bytes>', 'memory kept free for the device; models that would use it are refused (default 256Mi)')
    .addOption(new Option('--log-level <level>', 'logs are JSON lines on stderr').choices(['debug', 'info', 'warn', 'error']).default('info'))
    .addHelpText('after', `
--fleet FILE (or TUTTI_FLEET) is the fleet's fleet.json. On start the node prints its peer id,
listen addresses and API URL and writes them to DIR/node.json.
`)
    .action(async (opts: NodeStartOptions, command: Command) => { await start(io, opts, command) })
}

interface NodeStartOptions {
  data: string
  listen?: string[]
  bootstrap?: string[]
  label?: string[]
  prop?: string[]
  api: string
  apiTokenFile?: string
  mdns?: boolean
  heartbeatMs: number
  shardAbove?: number
  shardSize?: number
  uploadLimit?: string
  downloadLimit?: string
  transfer?: string[]
  memoryReserve?: string
  keepVersions?: number
  logLevel: LogLevel
}

export function parseApi (value: string): { host: string, port: number, tokenFile?: string } | false {
  if (value === 'off') return false
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(value)
  const port = Number(m?.[2])
  if (m == null || port > 65535) throw new UsageError(`--api must be HOST:PORT or off, got "${value}"`)
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port }
}

/** A byte rate per second for a limit flag: `2500000`, `2.5MB`, `2MiB`, `20Mbit` (an optional `/s`). */
export function parseRate (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const bytes = usageQuantity(() => parseByteRate(value, flag))
  if (!(bytes >= 1024)) throw new UsageError(`${flag} must be at least 1 KiB/s; got "${value}"`)
  return bytes
}

async function multiaddrs (flag: string, values: string[]): Promise<string[]> {
  const { multiaddr } = await import('@multiformats/multiaddr')
  for (const v of values) {
    try {
      multiaddr(v)
    } catch (err) {
      throw new UsageError(`${flag} "${v}" is not a multiaddr: ${(err as Error).message}`)
    }
  }
  return values
}

/** `--transfer` pairs, checked before the node starts (loaded only when given: the CLI starts light). */
async function transferTuning (pairs: string[]): Promise<{ fetcher?: FetcherInit, chunkServer?: ChunkServerInit }> {
  if (pairs.length === 0) return {}
  const { parseTransferTuning } = await import('../../node/models/transfer-tuning.js')
  try {
    return parseTransferTuning(pairs)
  } catch (err) {
    throw new UsageError(`--transfer: ${(err as Error).message}`)
  }
}

async function start (io: CliIO, opts: NodeStartOptions, command: Command): Promise<void> {
  const data = opts.data
  const fleetFile = command.optsWithGlobals<GlobalOptions>().fleet
  if (fleetFile == null) throw new UsageError('node start needs --fleet FILE (the fleet.json from `tutti fleet init`)')
  const level = opts.logLevel
  const labels = keyValues('--label', opts.label, checkKeyValue)
  const props = keyValues('--prop', opts.prop, checkKeyValue)
  const api = parseApi(opts.api)
  if (api !== false && opts.apiTokenFile != null) api.tokenFile = resolve(opts.apiTokenFile)
  if (api !== false && !isLoopbackHost(api.host) && api.tokenFile == null) {
    throw new UsageError(`--api ${opts.api} listens beyond loopback: anyone who can reach it could run inference and read the fleet. Give --api-token-file FILE (a bearer token, created 0600 if missing), or use 127.0.0.1`)
  }
  const heartbeatMs = opts.heartbeatMs
  if (heartbeatMs < 50) throw new UsageError('--heartbeat-ms must be at least 50')
  if (opts.shardAbove != null && opts.shardAbove < 2) throw new UsageError('--shard-above must be at least 2')
  const listen = await multiaddrs('--listen', opts.listen ?? [])
  const uploadBytesPerSec = parseRate('--upload-limit', opts.uploadLimit)
  const downloadBytesPerSec = parseRate('--download-limit', opts.downloadLimit)
  const memoryReserveBytes = opts.memoryReserve != null ? usageQuantity(() => parseBytes(opts.memoryReserve!, '--memory-reserve')) : undefined
  const bootstrap = await multiaddrs('--bootstrap', opts.bootstrap ?? [])
  const transfer = await transferTuning(opts.transfer ?? [])
  if (opts.keepVersions != null && opts.keepVersions > MAX_KEEP_VERSIONS) throw new UsageError(`--keep-versions must be at most ${MAX_KEEP_VERSIONS}, got ${opts.keepVersions}`)

  const [{ exposedSecret, loadFleet }, { TuttiNode }, { createUncaughtExceptionHandler }] = await Promise.all([
    import('../../node/fleet/fleet.js'), import('../../node/tutti-node.js'), import('../../node/mesh/uncaught.js')
  ])

  const fleet = await loadFleet(fleetFile)
  // fleet.json holds the network key; an older `fleet init` wrote it 0644. Warn, do not refuse.
  const exposed = await exposedSecret(fleetFile, 'fleet file')
  if (exposed != null) io.err(`warning: ${exposed}\n`)
  const logger = createLogger({ level })
  const node = await TuttiNode.create({
    fleet,
    dataDir: resolve(data),
    transport: 'tcp',
    listen: listen.length > 0 ? listen : ['/ip4/0.0.0.0/tcp/7410'],
    bootstrap,
    labels,
    props,
    api,
    mdns: opts.mdns === true,
    heartbeat: { baseIntervalMs: heartbeatMs },
    aggregation: {
      ...(opts.shardAbove != null ? { shardAboveNodes: opts.shardAbove } : {}),
      ...(opts.shardSize != null ? { minShardSize: opts.shardSize } : {})
    },
    models: { uploadBytesPerSec, downloadBytesPerSec, retainVersions: opts.keepVersions, ...transfer },
    inference: { memoryReserveBytes }
  }, { logger })
  // A node is long-lived infrastructure: a stray rejection in a library is logged, not fatal.
  const onUnhandled = (reason: unknown): void => { logger.error('unhandled rejection', { err: reason }) }
  process.on('unhandledRejection', onUnhandled)
  // An error thrown in one connection's socket event must not take the node down; anything else
  // still ends the process so a supervisor restarts it (the rule is in node/mesh/uncaught.ts).
  const onUncaught = createUncaughtExceptionHandler({ logger, exit: code => process.exit(code) })
  process.on('uncaughtException', onUncaught)
  await node.start()
  io.out(`peer id:   ${node.peerId}\n`)
  io.out(`fleet:     ${fleet.fleetId} (${fleet.name})\n`)
  for (const addr of node.addresses()) io.out(`listening: ${addr}\n`)
  io.out(`api:       ${node.apiUrl ?? 'off'}${api !== false && api.tokenFile != null ? ` (bearer token in ${api.tokenFile})` : ''}\n`)
  io.out(`node file: ${resolve(data, 'node.json')}\n`)

  await new Promise<void>(resolveStop => {
    const stop = (): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolveStop()
    }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  await node.stop()
  process.off('unhandledRejection', onUnhandled)
  process.off('uncaughtException', onUncaught)
}
