/**
 * The netns benchmark's CPU baseline: the libp2p stack a Tutti node runs (TCP, the fleet's
 * private network, noise, yamux) streaming raw bytes and nothing else, no gossip, DHT, chunk
 * protocol or store. `serve` streams a file to every stream opened on RAW_PROTOCOL; `fetch`
 * dials, says `ready` once the connection is up, waits for `go` on stdin (the start barrier),
 * reads the whole file to disk and prints one JSON line: bytes, ms and its own CPU seconds over
 * the transfer alone (process.cpuUsage), start-up and handshake left out.
 *
 *   node --import tsx bench/netns/raw-stream.ts serve --listen /ip4/IP/tcp/PORT --fleet FILE --file F
 *   node --import tsx bench/netns/raw-stream.ts fetch --peer MULTIADDR --fleet FILE --out FILE --size BYTES
 */
import { createReadStream, createWriteStream } from 'node:fs'
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { noise } from '@libp2p/noise'
import { tcp } from '@libp2p/tcp'
import { yamux } from '@libp2p/yamux'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { loadFleet, swarmKey } from '../../node/fleet/fleet.js'
import { tuttiPreSharedKey } from '../../node/mesh/pnet.js'
import { MESH_CONNECTION_MONITOR } from '../../node/mesh/libp2p.js'
import { tuneLibp2pStack } from '../../node/mesh/stack-tuning.js'
import type { Libp2p } from '@libp2p/interface'

export const RAW_PROTOCOL = '/tutti-bench/raw/1.0.0'
/** Bytes per write: the chunk protocol's piece size (protocols/chunks DEFAULT_PIECE_BYTES). */
const PIECE_BYTES = 60 * 1024

async function node (fleetFile: string, listen: string[]): Promise<Libp2p> {
  // The stack as the nodes run it (TUTTI_STOCK_LIBP2P=1 leaves both as shipped).
  tuneLibp2pStack()
  const fleet = await loadFleet(fleetFile)
  return await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen },
    transports: [tcp()],
    connectionProtector: tuttiPreSharedKey({ psk: swarmKey(fleet) }),
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    // A Tutti node's ping cadence and timeouts, so the stack compared does the same work; but no
    // abort on a failed ping. The origin writes as fast as yamux lets it, so each connection's
    // kernel send buffer holds MBs, and at 10 Mbit/s shared by N downloaders a ping queued behind
    // them takes longer than its timeout: the monitor would abort every connection mid-file (each
    // downloader saw a clean end of stream at ~94 % with N = 3, at 27 % with N = 5). Tutti bounds
    // what it keeps in flight instead; this baseline measures the stack's CPU per byte.
    connectionMonitor: { ...MESH_CONNECTION_MONITOR, abortConnectionOnPingFailure: false }
  })
}

async function serve (listen: string, fleetFile: string, file: string): Promise<void> {
  const libp2p = await node(fleetFile, [listen])
  await libp2p.handle(RAW_PROTOCOL, async stream => {
    try {
      for await (const data of createReadStream(file, { highWaterMark: PIECE_BYTES })) {
        if (!stream.send(data as Buffer)) await stream.onDrain()
      }
      // The fetcher closes once it holds --size bytes.
      await new Promise<void>(resolve => { stream.addEventListener('close', () => { resolve() }, { once: true }) })
    } catch (err) {
      process.stderr.write(`raw-stream serve: ${String(err)}\n`)
      stream.abort(err as Error)
    }
  })
  process.stdout.write(`${JSON.stringify({ peerId: libp2p.peerId.toString() })}\n`)
  await new Promise<void>(resolve => { process.once('SIGTERM', resolve) })
  await libp2p.stop()
}

async function fetchOnce (peer: string, fleetFile: string, out: string, size: number): Promise<void> {
  const libp2p = await node(fleetFile, [])
  const addr = multiaddr(peer)
  await libp2p.dial(addr)
  process.stdout.write('ready\n')
  const lines = createInterface({ input: process.stdin })
  for await (const line of lines) if (line.trim() === 'go') break
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  const stream = await libp2p.dialProtocol(addr, RAW_PROTOCOL)
  const sink = createWriteStream(out)
  let closeReason: unknown
  stream.addEventListener('close', (evt: Event) => { closeReason = (evt as Event & { error?: Error }).error })
  let bytes = 0
  for await (const chunk of stream) {
    const buf = chunk.subarray()
    bytes += buf.byteLength
    if (!sink.write(buf)) await once(sink, 'drain')
    if (bytes >= size) break
  }
  await stream.close().catch(() => { stream.abort(new Error('fetch done')) })
  sink.end()
  await once(sink, 'finish')
  // A stream reset ends the iteration like a close: the harness checks bytes and sha256.
  const ms = performance.now() - t0
  if (closeReason != null) process.stderr.write(`raw-stream fetch: the stream ended with ${String(closeReason)} after ${bytes} bytes\n`)
  const used = process.cpuUsage(cpu)
  process.stdout.write(`${JSON.stringify({ bytes, ms, cpuS: (used.user + used.system) / 1e6 })}\n`)
  await libp2p.stop()
}

const [command, ...argv] = process.argv.slice(2)
const { values } = parseArgs({
  args: argv,
  options: { listen: { type: 'string' }, peer: { type: 'string' }, fleet: { type: 'string' }, file: { type: 'string' }, out: { type: 'string' }, size: { type: 'string' } }
})
const need = (name: keyof typeof values): string => {
  const v = values[name]
  if (v == null) {
    process.stderr.write(`raw-stream ${command ?? ''}: --${name} is required\n`)
    process.exit(2)
  }
  return v
}
if (command === 'serve') await serve(need('listen'), need('fleet'), need('file'))
else if (command === 'fetch') await fetchOnce(need('peer'), need('fleet'), need('out'), Number(need('size')))
else {
  process.stderr.write('usage: raw-stream.ts serve|fetch ...\n')
  process.exit(2)
}
