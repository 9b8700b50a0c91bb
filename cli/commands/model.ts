import { resolve } from 'node:path'
import { base64 } from 'multiformats/bases/base64'
import { loadAdminKey, loadFleet } from '../../node/fleet/fleet.js'
import { silentLogger } from '../../core/logger.js'
import { systemClock } from '../../core/clock.js'
import { PackageChunkStore } from '../../node/models/package-store.js'
import { readPackageDir } from '../../node/models/package-dir.js'
import { ChunkServer } from '../../protocols/chunks/index.js'
import { checkKeyValue } from '../../protocols/heartbeat/index.js'
import { keyValues, list, outputFormat, parse, str } from '../args.js'
import { connectionFrom, CONNECTION_OPTIONS, withPeer } from '../client.js'
import { CliError, UsageError } from '../errors.js'
import { bytes, describeBlock, duration, labelList, shortPeer, table } from '../format.js'
import { progressBar } from '../progress.js'
import type { Ask } from '../client.js'
import type { CliIO } from '../io.js'
import type { ModelJob } from '../../node/models/service.js'
import type { ModelEntry } from '../../node/models/store.js'
import type { ModelManifest } from '../../node/models/types.js'

export const MODEL_HELP = `Package, distribute and inspect models.

Usage:
  tutti model pack FILE.onnx --name NAME --version SEMVER --key ADMIN.key [--label k=v]... [--out DIR] [--chunk-size BYTES] [--force]
  tutti model push DIR                        store a package on the attached peer (it fetches the chunks from this CLI)
  tutti model pull NAME@VERSION|NAME|CID      the attached peer downloads it from its peers
  tutti model ls [-o table|wide|json]         models held by the attached peer
  tutti model activate NAME@VERSION [--cpu 500m] [--memory 256Mi]
                                              serve that version on the attached peer (fetching it
                                              first if needed); the active one becomes the previous
  tutti model deactivate NAME                 stop serving a model on the attached peer
  tutti model shadow NAME@VERSION [--fraction 0.1]
                                              run a candidate beside the active version on a sampled
                                              fraction of live requests; only compared, never returned
  tutti describe model NAME@VERSION|CID       one model in detail

push, pull and ls attach to a peer like every other command (--peer, --key or TUTTI_PEER, TUTTI_KEY).
`

function parseSize (flag: string, value: string | undefined): number | undefined {
  if (value == null) return undefined
  const m = /^(\d+)(Ki|Mi|K|M)?$/.exec(value)
  if (m == null) throw new UsageError(`${flag} must be a byte count like 1048576, 512Ki or 1Mi; got "${value}"`, 'model')
  const unit = { Ki: 1024, Mi: 1024 * 1024, K: 1000, M: 1_000_000 }[m[2] ?? ''] ?? 1
  return Number(m[1]) * unit
}

export async function modelCommand (args: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = args
  switch (sub) {
    case undefined:
    case '--help':
    case '-h':
      io.out(MODEL_HELP)
      return sub == null ? 2 : 0
    case 'pack': return await packCommand(rest, io)
    case 'push': return await pushCommand(rest, io)
    case 'pull': return await pullCommand(rest, io)
    case 'ls':
    case 'list': return await lsCommand(rest, io)
    case 'activate': return await activateCommand(rest, io)
    case 'deactivate': return await deactivateCommand(rest, io)
    case 'shadow': return await shadowCommand(rest, io)
    default: throw new UsageError(`unknown model command "${sub}"`, 'model')
  }
}

async function packCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, {
    name: { type: 'string' },
    version: { type: 'string' },
    label: { type: 'string', multiple: true },
    key: { type: 'string' },
    out: { type: 'string' },
    'chunk-size': { type: 'string' },
    force: { type: 'boolean' }
  }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [file, ...extra] = positionals
  if (file == null) throw new UsageError('model pack needs FILE.onnx', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const name = str(values.name)
  const version = str(values.version)
  const keyFile = str(values.key) ?? io.env.TUTTI_KEY
  if (name == null) throw new UsageError('model pack needs --name NAME', 'model')
  if (version == null) throw new UsageError('model pack needs --version SEMVER', 'model')
  if (keyFile == null) throw new UsageError('model pack needs --key ADMIN.key (the manifest is signed with it)', 'model')
  const labels = keyValues('--label', list(values.label), checkKeyValue)
  const chunkBytes = parseSize('--chunk-size', str(values['chunk-size']))
  const outDir = resolve(str(values.out) ?? `${name}-${version}`)
  const { key } = await loadAdminKey(keyFile)
  // onnxruntime is loaded only by commands that need it.
  const { pack } = await import('../../node/models/pack.js')
  const result = await pack(file, { name, version, labels, adminKey: key, chunkBytes, outDir, force: values.force === true })
  const m = result.manifest
  io.out(`packed ${m.name}@${m.version} into ${result.dir}\n`)
  io.out(describeBlock([
    ['Manifest CID', result.cid],
    ['Size', `${bytes(m.size)} in ${m.chunks.length} chunks of ${bytes(m.chunkBytes)}`],
    ['Opset', String(m.opset)],
    ['Inputs', m.inputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Outputs', m.outputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Memory', `~${bytes(m.memoryEstimateBytes)} to run (estimate)`],
    ['Signed by', result.signer]
  ]))
  return 0
}

/** Polls a job on the peer, drawing its progress, until it ends. */
async function followJob (ask: Ask, first: ModelJob, io: CliIO, label: string): Promise<ModelJob> {
  const bar = progressBar(io, label)
  let job = first
  while (job.state === 'running') {
    await new Promise(resolve => setTimeout(resolve, 250))
    job = await ask<ModelJob>('models.job', { id: job.id })
    const p = job.progress
    if (p != null && p.bytesTotal > 0) {
      const rate = p.rateBytesPerSec > 0 ? `${bytes(p.rateBytesPerSec)}/s` : ''
      const peers = p.peers.filter(x => x.bytes > 0).length
      bar.update(p.bytesDone, p.bytesTotal, `${rate} ${peers} peer${peers === 1 ? '' : 's'}`.trim())
    }
  }
  bar.finish()
  if (job.state === 'failed') throw new CliError(`${label} failed: ${job.error?.message ?? 'unknown error'}`, { code: job.error?.code })
  return job
}

function jobSummary (job: ModelJob): string {
  const r = job.result
  if (r == null) return ''
  const sources = r.peers.filter(p => p.chunks > 0).map(p => `${shortPeer(p.peerId)} ${p.chunks}`).join(', ')
  return `${r.chunksFetched} chunks (${bytes(r.bytesFetched)}) in ${duration(r.durationMs)}${r.chunksAlreadyHeld > 0 ? `, ${r.chunksAlreadyHeld} already held` : ''}${sources !== '' ? `; from ${sources}` : ''}`
}

async function pushCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [dir, ...extra] = positionals
  if (dir == null) throw new UsageError('model push needs DIR (a package written by model pack)', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const conn = connectionFrom(values, io)
  const fleet = await loadFleet(conn.fleetFile)
  const pkg = await readPackageDir(resolve(dir), { fleet })
  const store = new PackageChunkStore(pkg)
  const job = await withPeer(conn, async (ask, _fleet, libp2p) => {
    // The peer fetches the chunks from us over the chunk protocol, on this same connection.
    const server = new ChunkServer({ libp2p, store, clock: systemClock, logger: silentLogger }, { superSeed: false })
    await server.start()
    try {
      const started = await ask<ModelJob>('models.push', { envelope: base64.baseEncode(pkg.envelope) })
      return await followJob(ask, started, io, `push ${pkg.manifest.name}@${pkg.manifest.version}`)
    } finally {
      await server.stop()
    }
  })
  io.out(`pushed ${job.name ?? pkg.manifest.name}@${job.version ?? pkg.manifest.version} (${pkg.cid}) to ${conn.peer.toString()}: ${jobSummary(job)}\n`)
  return 0
}

async function pullCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [ref, ...extra] = positionals
  if (ref == null) throw new UsageError('model pull needs NAME@VERSION, NAME or a manifest CID', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const conn = connectionFrom(values, io)
  const job = await withPeer(conn, async ask => {
    const started = await ask<ModelJob>('models.pull', { ref })
    return await followJob(ask, started, io, `pull ${ref}`)
  })
  io.out(`pulled ${job.name ?? ref}@${job.version ?? '?'} (${job.cid ?? ''}): ${jobSummary(job)}\n`)
  return 0
}

function modelState (m: ModelEntry): string {
  if (m.active) return 'active'
  if (m.previous) return 'previous'
  if (m.complete) return 'staged'
  return `partial ${Math.floor(100 * m.chunksHeld / Math.max(1, m.chunks))}%`
}

async function lsCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, output: { type: 'string', short: 'o' } }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`, 'model')
  const format = outputFormat(str(values.output))
  const conn = connectionFrom(values, io)
  const { models } = await withPeer(conn, async ask => await ask<{ models: ModelEntry[] }>('models.list'))
  if (format === 'json') {
    io.out(JSON.stringify({ models }, null, 2) + '\n')
    return 0
  }
  if (models.length === 0) {
    io.out('No models held by this peer.\n')
    return 0
  }
  const wide = format === 'wide'
  io.out(table(
    wide ? ['NAME', 'VERSION', 'STATE', 'SIZE', 'CHUNKS', 'MEMORY', 'LABELS', 'CID'] : ['NAME', 'VERSION', 'STATE', 'SIZE', 'CID'],
    models.map(m => wide
      ? [m.name, m.version, modelState(m), bytes(m.size), `${m.chunksHeld}/${m.chunks}`, bytes(m.memoryEstimateBytes), labelList(m.labels), m.cid]
      : [m.name, m.version, modelState(m), bytes(m.size), shortPeer(m.cid, 16)])
  ))
  return 0
}

interface ModelDescription { entry?: ModelEntry, manifest: ModelManifest, cid: string, signer: string, holders: Array<{ peerId: string, state: string }> }

export async function describeModel (ref: string, values: Record<string, unknown>, io: CliIO, format: 'table' | 'json'): Promise<number> {
  const conn = connectionFrom(values, io)
  const d = await withPeer(conn, async ask => await ask<ModelDescription>('models.get', { ref }))
  if (format === 'json') {
    io.out(JSON.stringify(d, null, 2) + '\n')
    return 0
  }
  const m = d.manifest
  io.out(describeBlock([
    ['Name', m.name],
    ['Version', m.version],
    ['Manifest CID', d.cid],
    ['State', d.entry != null ? modelState(d.entry) : '-'],
    ['Size', `${bytes(m.size)} in ${m.chunks.length} chunks of ${bytes(m.chunkBytes)}`],
    ['Digest', m.digest],
    ['Opset', String(m.opset)],
    ['Inputs', m.inputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Outputs', m.outputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Memory', `~${bytes(m.memoryEstimateBytes)} (estimate)`],
    ['Labels', Object.entries(m.labels).map(([k, v]) => `${k}=${v}`)],
    ['Signed by', d.signer],
    ['Created', m.createdAt],
    ['Held by', d.holders.map(h => `${h.peerId} (${h.state})`)]
  ]))
  return 0
}

const LIMIT_OPTIONS = { cpu: { type: 'string' }, memory: { type: 'string' } } as const

interface ActivationResult { name: string, version: string, cid: string, previous?: string, status: { limits: { cpuCores?: number, memoryBytes?: number }, cpu: { intraOpThreads: number, throttled: boolean } } }

/** Makes sure the attached peer holds `ref` complete, pulling it with a progress bar if not. */
async function ensureHeld (ask: Ask, ref: string, io: CliIO): Promise<void> {
  const { models } = await ask<{ models: ModelEntry[] }>('models.list')
  const [name, version] = ref.split('@')
  const held = models.find(m => (m.cid === ref || (m.name === name && (version == null || m.version === version))) && m.complete)
  if (held != null) return
  const started = await ask<ModelJob>('models.pull', { ref })
  const job = await followJob(ask, started, io, `pull ${ref}`)
  io.out(`pulled ${job.name ?? ref}@${job.version ?? '?'}: ${jobSummary(job)}\n`)
}

async function activateCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, ...LIMIT_OPTIONS }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [ref, ...extra] = positionals
  if (ref == null) throw new UsageError('model activate needs NAME@VERSION (or a manifest CID)', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const conn = connectionFrom(values, io)
  const result = await withPeer({ ...conn, timeoutMs: Math.max(conn.timeoutMs, 60_000) }, async ask => {
    await ensureHeld(ask, ref, io)
    return await ask<ActivationResult>('model.activate', { ref, cpu: str(values.cpu), memory: str(values.memory) })
  })
  const lim = result.status.limits
  const limits = [lim.cpuCores != null ? `cpu ${lim.cpuCores} cores` : 'cpu unlimited', lim.memoryBytes != null ? `memory ${bytes(lim.memoryBytes)}` : 'memory unlimited'].join(', ')
  io.out(`${result.name}@${result.version} is active on ${conn.peer.toString()} (${limits}; ${result.status.cpu.intraOpThreads} thread${result.status.cpu.intraOpThreads === 1 ? '' : 's'}${result.status.cpu.throttled ? ', duty-cycled' : ''})${result.previous != null ? `; previous: ${result.previous}` : ''}\n`)
  return 0
}

async function deactivateCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [name, ...extra] = positionals
  if (name == null) throw new UsageError('model deactivate needs NAME', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const conn = connectionFrom(values, io)
  await withPeer(conn, async ask => await ask('model.deactivate', { name }))
  io.out(`${name} is no longer served on ${conn.peer.toString()}\n`)
  return 0
}

async function shadowCommand (args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parse(args, { ...CONNECTION_OPTIONS, ...LIMIT_OPTIONS, fraction: { type: 'string' } }, 'model')
  if (values.help === true) {
    io.out(MODEL_HELP)
    return 0
  }
  const [ref, ...extra] = positionals
  if (ref == null) throw new UsageError('model shadow needs NAME@VERSION', 'model')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}"`, 'model')
  const fraction = Number(str(values.fraction) ?? '0.1')
  if (!(fraction >= 0 && fraction <= 1)) throw new UsageError('--fraction must be between 0 and 1', 'model')
  const conn = connectionFrom(values, io)
  await withPeer({ ...conn, timeoutMs: Math.max(conn.timeoutMs, 60_000) }, async ask => {
    await ensureHeld(ask, ref, io)
    return await ask('model.shadow', { ref, fraction, cpu: str(values.cpu), memory: str(values.memory) })
  })
  io.out(`${ref} shadows the active version on ${Math.round(fraction * 100)}% of requests on ${conn.peer.toString()}\n`)
  return 0
}
