/**
 * The CLI's side of the admin protocol: load the admin key and the fleet, dial the peer given by
 * --peer (or TUTTI_PEER) inside the fleet's private network, ask, hang up.
 */
import { dirname, join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { loadAdminKey, loadFleet, FLEET_FILE, swarmKey } from '../node/fleet/fleet.js'
import { createDialerLibp2p } from '../node/mesh/libp2p.js'
import { callAdmin, AdminRemoteError, AdminTransportError } from '../protocols/admin/index.js'
import { CliError, UsageError } from './errors.js'
import type { Command } from 'commander'
import type { GlobalOptions } from './program.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p } from '@libp2p/interface'

export interface Connection {
  peer: Multiaddr
  keyFile: string
  fleetFile: string
  timeoutMs: number
}

/** The connection target of a command: its global options, however they were given. */
export function connectionOf (command: Command): Connection {
  return connectionFrom(command.optsWithGlobals<GlobalOptions>())
}

/**
 * Resolves --peer/--key/--fleet/--timeout (commander has already filled them from TUTTI_PEER,
 * TUTTI_KEY, TUTTI_FLEET) into a connection target.
 */
export function connectionFrom (values: GlobalOptions): Connection {
  const { peer, key: keyFile } = values
  if (peer == null || peer === '') throw new UsageError('no peer to attach to: pass --peer MULTIADDR or set TUTTI_PEER')
  if (keyFile == null || keyFile === '') throw new UsageError('no admin key: pass --key FILE or set TUTTI_KEY')
  let ma: Multiaddr
  try {
    ma = multiaddr(peer)
  } catch (err) {
    throw new UsageError(`--peer "${peer}" is not a multiaddr (for example /ip4/127.0.0.1/tcp/7410/p2p/12D3KooW...): ${(err as Error).message}`)
  }
  const fleetFile = values.fleet ?? join(dirname(keyFile), FLEET_FILE)
  const timeout = values.timeout
  let timeoutMs = 15_000
  if (timeout != null) {
    const s = Number(timeout.replace(/s$/, ''))
    if (!(s > 0)) throw new UsageError(`--timeout must be a number of seconds, got "${timeout}"`)
    timeoutMs = s * 1000
  }
  return { peer: ma, keyFile, fleetFile, timeoutMs }
}

/** Opens a dialer in the fleet, runs `fn` with an `ask` bound to the target peer, closes. */
export type Ask = <R>(method: string, params?: Record<string, unknown>) => Promise<R>

export async function withPeer<T> (conn: Connection, fn: (ask: Ask, fleet: FleetConfig, libp2p: Libp2p) => Promise<T>): Promise<T> {
  const fleet = await loadFleet(conn.fleetFile)
  const { key } = await loadAdminKey(conn.keyFile)
  const libp2p = await createDialerLibp2p({ privateKey: key, swarmKey: swarmKey(fleet) })
  await libp2p.start()
  try {
    return await fn(async <R>(method: string, params: Record<string, unknown> = {}) => {
      try {
        return await callAdmin<R>(libp2p, conn.peer, method, params, { signal: AbortSignal.timeout(conn.timeoutMs) })
      } catch (err) {
        if (err instanceof AdminRemoteError) throw new CliError(err.message, { cause: err, code: err.code })
        if (err instanceof AdminTransportError) throw new CliError(`cannot reach ${conn.peer.toString()}: ${err.message}`, { cause: err, code: err.code })
        throw err
      }
    }, fleet, libp2p)
  } finally {
    await libp2p.stop()
  }
}
