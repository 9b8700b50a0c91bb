/**
 * The CLI's side of the admin protocol: load the admin key and the fleet, dial the peer given by
 * --peer (or TUTTI_PEER) inside the fleet's private network, ask, hang up.
 *
 * libp2p and the fleet code are imported when a command first dials, not when the CLI starts:
 * `tutti version`, `--help` and every usage error never load them (docs/CLI.md, "Start-up").
 */
import { dirname, join } from 'node:path'
import { CliError, UsageError } from './errors.js'
import type { Command } from 'commander'
import type { GlobalOptions } from './program.js'
import type { FleetConfig } from '../node/fleet/fleet.js'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Libp2p, PeerId } from '@libp2p/interface'

/** fleet.json, as node/fleet/fleet.ts names it (kept here so the CLI starts without that module). */
const FLEET_FILE = 'fleet.json'

export interface Connection {
  /** The --peer multiaddr as given; checked by {@link parsePeer} when a command dials. */
  peer: string
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
  // The cheap part of the multiaddr check, so a typo fails before anything loads.
  if (!peer.startsWith('/')) throw new UsageError(`--peer "${peer}" is not a multiaddr (for example /ip4/127.0.0.1/tcp/7410/p2p/12D3KooW...)`)
  const fleetFile = values.fleet ?? join(dirname(keyFile), FLEET_FILE)
  const timeout = values.timeout
  let timeoutMs = 15_000
  if (timeout != null) {
    const s = Number(timeout.replace(/s$/, ''))
    if (!(s > 0)) throw new UsageError(`--timeout must be a number of seconds, got "${timeout}"`)
    timeoutMs = s * 1000
  }
  return { peer, keyFile, fleetFile, timeoutMs }
}

/** The --peer multiaddr and the peer id in its /p2p/ part; a malformed one is a usage error. */
export async function parsePeer (peer: string): Promise<{ addr: Multiaddr, peerId?: PeerId }> {
  const [{ multiaddr }, { peerIdFromString }] = await Promise.all([import('@multiformats/multiaddr'), import('@libp2p/peer-id')])
  let addr: Multiaddr
  try {
    addr = multiaddr(peer)
  } catch (err) {
    throw new UsageError(`--peer "${peer}" is not a multiaddr (for example /ip4/127.0.0.1/tcp/7410/p2p/12D3KooW...): ${(err as Error).message}`)
  }
  const id = addr.getComponents().findLast(c => c.name === 'p2p')?.value
  if (id == null) return { addr }
  try {
    return { addr, peerId: peerIdFromString(id) }
  } catch {
    throw new UsageError(`--peer "${peer}": "${id}" is not a peer id (they look like 12D3KooW... or Qm...; 'tutti get nodes -o wide' prints them)`)
  }
}

/** Opens a dialer in the fleet, runs `fn` with an `ask` bound to the target peer, closes. */
export type Ask = <R>(method: string, params?: Record<string, unknown>) => Promise<R>

export async function withPeer<T> (conn: Connection, fn: (ask: Ask, fleet: FleetConfig, libp2p: Libp2p) => Promise<T>): Promise<T> {
  const target = await parsePeer(conn.peer)
  const [{ loadAdminKey, loadFleet, swarmKey }, { createDialerLibp2p }, { callAdmin, AdminRemoteError, AdminTransportError }] = await Promise.all([
    import('../node/fleet/fleet.js'), import('../node/mesh/dialer.js'), import('../protocols/admin/index.js')
  ])
  const fleet = await loadFleet(conn.fleetFile)
  const { key } = await loadAdminKey(conn.keyFile)
  const libp2p = await createDialerLibp2p({ privateKey: key, swarmKey: swarmKey(fleet) })
  await libp2p.start()
  try {
    return await fn(async <R>(method: string, params: Record<string, unknown> = {}) => {
      try {
        return await callAdmin<R>(libp2p, target.addr, method, params, { signal: AbortSignal.timeout(conn.timeoutMs) })
      } catch (err) {
        if (err instanceof AdminRemoteError) throw new CliError(err.message, { cause: err, code: err.code })
        if (err instanceof AdminTransportError) {
          const other = await otherPeerAt(libp2p, target, err, conn.timeoutMs)
          if (other != null) {
            throw new CliError(`cannot reach ${conn.peer}: the node at that address is ${other}, not ${target.peerId!.toString()} (the /p2p/ part of --peer); ` +
              `it is in this fleet (the network key matched). Attach to ${target.addr.decapsulateCode(421).toString()}/p2p/${other}, or give the address of ${target.peerId!.toString()}`, { cause: err, code: 'ERR_PEER_ID_MISMATCH' })
          }
          throw new CliError(`cannot reach ${conn.peer}: ${err.message}`, { cause: err, code: err.code })
        }
        throw err
      }
    }, fleet, libp2p)
  } finally {
    await libp2p.stop()
  }
}

/**
 * After a failed handshake with a peer named by its id: whether another node of the fleet
 * answers at that address. A wrong network key fails before the peer ids are compared, and
 * libp2p reports both as an EncryptionFailedError without the reason, so dial the address once
 * more without the id. The peer id it answers with, or undefined (not that case).
 */
async function otherPeerAt (libp2p: Libp2p, target: { addr: Multiaddr, peerId?: PeerId }, err: Error, timeoutMs: number): Promise<string | undefined> {
  if (target.peerId == null || !causedBy(err, 'EncryptionFailedError')) return undefined
  try {
    // Left open: libp2p.stop() closes it with the rest.
    const connection = await libp2p.dial(target.addr.decapsulateCode(421), { signal: AbortSignal.timeout(timeoutMs) })
    const other = connection.remotePeer.toString()
    return other !== target.peerId.toString() ? other : undefined
  } catch {
    return undefined // the network key, or the address, is what is wrong: the first message stands
  }
}

/** Whether an error named `name` is in the `cause` / `errors` chain of `err`. */
function causedBy (err: unknown, name: string, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 8) return false
  const e = err as { name?: unknown, cause?: unknown, errors?: unknown }
  if (e.name === name) return true
  return causedBy(e.cause, name, depth + 1) || (Array.isArray(e.errors) && e.errors.some(inner => causedBy(inner, name, depth + 1)))
}
