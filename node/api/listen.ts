/**
 * Why a node could not listen, told from error codes, never from message text. Node's socket
 * errors carry `code` (EADDRINUSE...); libp2p wraps its listeners' errors (`cause`, or `errors` of
 * an aggregate), and libp2p 3's transport manager keeps only their text, so for its
 * `UnsupportedListenAddressesError` the address is asked again, here, for an error with a code.
 */
import { createServer } from 'node:net'
import { multiaddr } from '@multiformats/multiaddr'

/** The error Node gives when another socket holds the address. */
export const ADDRESS_IN_USE = 'EADDRINUSE'

/** Whether `err`, its `cause` chain or any of its aggregated `errors` has `code`. */
export function hasErrorCode (err: unknown, code: string, depth = 0): boolean {
  if (err == null || typeof err !== 'object' || depth > 8) return false
  const e = err as { code?: unknown, cause?: unknown, errors?: unknown }
  if (e.code === code) return true
  if (hasErrorCode(e.cause, code, depth + 1)) return true
  return Array.isArray(e.errors) && e.errors.some(x => hasErrorCode(x, code, depth + 1))
}

/** Host and port of a TCP listen multiaddr with a fixed port (`/ip4/H/tcp/P`, `/ip6/H/tcp/P`). */
export function tcpListenAddress (addr: string): { host: string, port: number } | undefined {
  let components
  try {
    components = multiaddr(addr).getComponents()
  } catch {
    return undefined
  }
  const [ip, tcp] = components
  if (ip == null || tcp == null || (ip.name !== 'ip4' && ip.name !== 'ip6') || tcp.name !== 'tcp') return undefined
  const port = Number(tcp.value)
  if (!Number.isSafeInteger(port) || port <= 0) return undefined
  return { host: ip.value ?? '', port }
}

/** Binds `host:port` once and lets go: the bind's error (with its `code`), or undefined if it was free. */
export async function probeListen (host: string, port: number): Promise<NodeJS.ErrnoException | undefined> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', err => { resolve(err as NodeJS.ErrnoException) })
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => { resolve(undefined) })
    })
  })
}

/**
 * The listen addresses of `listen` that are in use, given libp2p's start error `err`: those its
 * codes name, else (libp2p kept only text) the fixed-port TCP addresses a fresh bind finds taken.
 */
export async function addressesInUse (err: unknown, listen: readonly string[]): Promise<string[]> {
  if (hasErrorCode(err, ADDRESS_IN_USE)) return listen.slice()
  if ((err as { name?: string } | undefined)?.name !== 'UnsupportedListenAddressesError') return []
  const taken: string[] = []
  for (const addr of listen) {
    const at = tcpListenAddress(addr)
    if (at == null) continue
    const bindError = await probeListen(at.host, at.port)
    if (bindError?.code === ADDRESS_IN_USE) taken.push(addr)
  }
  return taken
}
