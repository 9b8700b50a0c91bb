import { resolve } from 'node:path'
import { silentLogger } from '../../core/logger.js'
import { systemClock } from '../../core/clock.js'
import { checkKeyValue } from '../../protocols/heartbeat/labels.js'
import { parseBytes, parseCpu } from '../../core/quantity.js'
import { collect, keyValues, outputFormat, usageQuantity } from '../options.js'
import { connectionOf, withPeer } from '../client.js'
import { CliError, InterruptedError, UsageError } from '../errors.js'
import { readJsonInput, sampleFromOipRequest } from '../input.js'
import { bytes, describeBlock, duration, labelList, shortenedTail, shortPeer, structured, table, withoutHeaders } from '../format.js'
import { progressBar } from '../progress.js'
import { Option } from 'commander'
import type { Command } from 'commander'
import type { Ask } from '../client.js'
import type { CliIO } from '../io.js'
import type { OutputFormat } from '../options.js'
import type { CommandModule, GlobalOptions } from '../program.js'
import type { ModelJob } from '../../node/models/service.js'
import type { ModelEntry } from '../../node/models/store.js'
import type { ModelManifest } from '../../node/models/types.js'

/** `tutti model ...` and the `models` resource (`get models`, `describe model REF`). */
export const registerModels: CommandModule = (program, { io, resource }) => {
  const model = program.command('model').alias('models').description('package, distribute, serve and inspect models')
    .addHelpText('after', '\nEvery sub-command but pack attaches to a peer (--peer, --key or TUTTI_PEER, TUTTI_KEY).\n')
  model.command('pack')
    .description('check that a model loads, chunk it and sign its manifest with the admin key')
    .argument('<file.onnx>', 'the ONNX model')
    .requiredOption('--name <name>', 'the model name')
    .requiredOption('--version <semver>', 'its version')
    .option('--label <k=v>', 'a label on the manifest (repeatable)', collect)
    .option('--out <dir>', 'where to write the package (default NAME-VERSION)')
    .option('--chunking <cdc|fixed>', 'cdc: chunks cut by content, so a later version shares the unchanged ones (default); fixed: equal chunks (manifest schema 1, for nodes older than schema 2)')
    .option('--chunk-size <bytes>', 'cdc: the average chunk size, a power of two (default 64Ki, more for files over 128Mi); fixed: the chunk size (default 1Mi)')
    .option('--force', 'overwrite an existing package directory')
    .option('--sample <file.json>', 'the sample input to pack, as an inference request body (when none can be generated)')
    .action(async (file: string, opts: PackOptions, command: Command) => { await pack(io, file, opts, command) })
  model.command('push')
    .description('store a package on the attached peer (it fetches the chunks from this CLI) and announce it')
    .argument('<dir>', 'a package written by model pack')
    .action(async (dir: string, _opts: unknown, command: Command) => { await push(io, dir, command) })
  model.command('pull')
    .description('the attached peer downloads a model from its peers (Ctrl-C stops following; the download goes on)')
    .argument('<ref>', 'NAME@VERSION, NAME or a manifest CID')
    .option('--detach', 'start the download on the peer and return at once')
    .action(async (ref: string, opts: { detach?: boolean }, command: Command) => { await pull(io, ref, opts, command) })
  model.command('ls').alias('list')
    .description('models held by the attached peer')
    .addOption(Object.assign(new Option('-o, --output <format>', 'output format'), { argChoices: [...LS_FORMATS] }))
    .action(async (opts: { output?: string }, command: Command) => { await ls(io, outputFormat(opts.output, LS_FORMATS), command) })
  withLimits(model.command('activate')
    .description('serve a version on the attached peer (fetched first if needed); the active one becomes the previous')
    .argument('<ref>', 'NAME@VERSION or a manifest CID'))
    .action(async (ref: string, opts: LimitOptions, command: Command) => { await activate(io, ref, opts, command) })
  model.command('deactivate')
    .description('stop serving a model on the attached peer (NAME@VERSION of its shadow stops only the shadow)')
    .argument('<ref>', 'NAME, NAME@VERSION or a manifest CID')
    .action(async (ref: string, _opts: unknown, command: Command) => { await deactivate(io, ref, command) })
  model.command('undo')
    .description('switch back to the previous version on the attached peer, under the same limits')
    .argument('<name>', 'the model')
    .action(async (name: string, _opts: unknown, command: Command) => { await undo(io, name, command) })
  withLimits(model.command('shadow')
    .description('run a candidate beside the active version on a sampled fraction of live requests (compared, never returned); --stop ends it')
    .argument('<ref>', 'NAME@VERSION (with --stop: NAME)')
    .option('--fraction <f>', 'the fraction of requests, above 0 and at most 1 (default 0.1)')
    .option('--stop', 'stop the shadow of this model'))
    .action(async (ref: string, opts: LimitOptions & { fraction?: string, stop?: boolean }, command: Command) => { await shadow(io, ref, opts, command) })
  resource({
    names: ['models', 'model'],
    id: 'NAME@VERSION|CID',
    get: { outputs: LS_FORMATS, run: async (command, format) => { await ls(io, format, command) } },
    describe: { outputs: ['json', 'yaml'], run: async (command, format, ref) => { await describeModel(io, ref, format, command) } }
  })
}

const LS_FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const

interface PackOptions { name: string, version: string, label?: string[], out?: string, chunking?: string, chunkSize?: string, force?: boolean, sample?: string }
interface LimitOptions { cpu?: string, memory?: string }

/**
 * The Kubernetes-style limits a served version runs under (checked by the peer). They belong to
 * the model on that peer: one left out keeps its value, `unlimited` removes it.
 */
function withLimits (command: Command): Command {
  return command
    .option('--cpu <cores>', "CPU limit, e.g. 500m or 2, or unlimited (default: the model's limit on the peer)")
    .option('--memory <bytes>', "memory limit, e.g. 256Mi, or unlimited (default: the model's limit on the peer)")
}

/** The limits as the peer takes them: absent keeps the model's, null removes it. */
function limitParams (opts: LimitOptions): { cpu?: string | null, memory?: string | null } {
  const one = (v: string | undefined): string | null | undefined => v === 'unlimited' ? null : v
  return { cpu: one(opts.cpu), memory: one(opts.memory) }
}

/** --cpu and --memory checked here, so a bad one is a usage error before anything is sent. */
function checkLimits (opts: LimitOptions): void {
  if (opts.cpu != null) usageQuantity(() => parseCpu(opts.cpu!, '--cpu'))
  if (opts.memory != null) usageQuantity(() => parseBytes(opts.memory!, '--memory'))
}

async function pack (io: CliIO, file: string, opts: PackOptions, command: Command): Promise<void> {
  const { name, version } = opts
  const { isModelName, isModelVersion } = await import('../../node/models/manifest.js')
  if (!isModelName(name)) throw new UsageError(`--name "${name}" must be 1-64 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`)
  if (!isModelVersion(version)) throw new UsageError(`--version "${version}" is not semver (e.g. 1.2.0)`)
  const keyFile = command.optsWithGlobals<GlobalOptions>().key
  if (keyFile == null) throw new UsageError('model pack needs --key ADMIN.key (the manifest is signed with it)')
  const labels = keyValues('--label', opts.label, checkKeyValue)
  const chunkBytes = opts.chunkSize != null ? usageQuantity(() => parseBytes(opts.chunkSize!, '--chunk-size')) : undefined
  const chunking = opts.chunking ?? 'cdc'
  if (chunking !== 'cdc' && chunking !== 'fixed') throw new UsageError(`--chunking must be cdc or fixed, not ${chunking}`)
  const outDir = resolve(opts.out ?? `${name}-${version}`)
  // The fleet code and onnxruntime are loaded only by the commands that need them.
  const { loadAdminKey } = await import('../../node/fleet/fleet.js')
  const { key } = await loadAdminKey(keyFile)
  const { pack } = await import('../../node/models/pack.js')
  const sampleInput = opts.sample != null ? sampleFromOipRequest(await readJsonInput(opts.sample), '--sample') : undefined
  let result
  try {
    result = await pack(file, { name, version, labels, adminKey: key, chunking, chunkBytes, outDir, force: opts.force === true, sampleInput })
  } catch (err) {
    const code = (err as { code?: unknown }).code
    if (code === 'ERR_INVALID_PACK_OPTIONS') throw new UsageError((err as Error).message)
    if (code === 'ERR_SAMPLE_INPUT' && sampleInput == null) throw new CliError(`${(err as Error).message}; give one with --sample FILE.json (an inference request body)`, { cause: err, code })
    throw err
  }
  const m = result.manifest
  io.out(`packed ${m.name}@${m.version} into ${result.dir}\n`)
  io.out(describeBlock([
    ['Manifest CID', result.cid],
    ['Size', chunkSummary(m)],
    ['Opset', String(m.opset)],
    ['Inputs', m.inputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Outputs', m.outputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Memory', `~${bytes(m.memoryEstimateBytes)} to run (estimate)`],
    ['Signed by', result.signer]
  ]))
}

/**
 * Polls a job on the peer, drawing its progress, until it ends. With `interrupt`, Ctrl-C stops
 * following (the job goes on on the peer) and throws that promise's error.
 */
async function followJob (ask: Ask, first: ModelJob, io: CliIO, label: string, interrupt?: Promise<never>): Promise<ModelJob> {
  const bar = progressBar(io, label)
  let job = first
  while (job.state === 'running') {
    const poll = (async () => {
      await new Promise(resolve => setTimeout(resolve, 250))
      return await ask<ModelJob>('models.job', { id: job.id })
    })()
    try {
      job = await (interrupt == null ? poll : Promise.race([poll, interrupt]))
    } catch (err) {
      if (err instanceof InterruptedError) bar.finish()
      throw err
    }
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

/** `20.0 MiB in 20 chunks of 1.0 MiB`, or `20.0 MiB in 290 chunks (content-defined, avg 64.0 KiB)`. */
function chunkSummary (m: { size: number, chunks: string[], chunkBytes: number, chunking?: { avgBytes: number } }): string {
  return m.chunking != null
    ? `${bytes(m.size)} in ${m.chunks.length} chunks (content-defined, avg ${bytes(m.chunking.avgBytes)})`
    : `${bytes(m.size)} in ${m.chunks.length} chunks of ${bytes(m.chunkBytes)}`
}

async function push (io: CliIO, dir: string, command: Command): Promise<void> {
  const conn = connectionOf(command)
  const [{ base64 }, { loadFleet }, { PackageChunkStore }, { readPackageDir }, { ChunkServer }] = await Promise.all([
    import('multiformats/bases/base64'), import('../../node/fleet/fleet.js'), import('../../node/models/package-store.js'),
    import('../../node/models/package-dir.js'), import('../../protocols/chunks/index.js')
  ])
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
}

/**
 * `model pull`: as `kubectl rollout status`, the CLI follows work the peer does; Ctrl-C stops
 * following, never the download, and says so. `--detach` does not follow at all.
 */
async function pull (io: CliIO, ref: string, opts: { detach?: boolean }, command: Command): Promise<void> {
  const conn = connectionOf(command)
  const peer = conn.peer.toString()
  if (opts.detach === true) {
    const job = await withPeer(conn, async ask => await ask<ModelJob>('models.pull', { ref }))
    io.out(`pulling ${ref} on ${peer} (job ${job.id}, ${job.cid ?? ''}); it goes on there: 'tutti model pull ${ref}' follows it, 'tutti model ls' shows it\n`)
    return
  }
  let onSigint: (() => void) | undefined
  let started: ModelJob | undefined
  const interrupt = new Promise<never>((_resolve, reject) => {
    onSigint = () => {
      const which = started != null ? ` (job ${started.id})` : ''
      reject(new InterruptedError(`stopped following: the pull of ${ref}${which} goes on on ${peer}; 'tutti model pull ${ref}' follows it again, --detach starts one without following`))
    }
  })
  interrupt.catch(() => undefined)
  process.once('SIGINT', onSigint!)
  try {
    const job = await withPeer(conn, async ask => {
      started = await ask<ModelJob>('models.pull', { ref })
      return await followJob(ask, started, io, `pull ${ref}`, interrupt)
    })
    io.out(`pulled ${job.name ?? ref}@${job.version ?? '?'} (${job.cid ?? ''}): ${jobSummary(job)}\n`)
  } finally {
    process.off('SIGINT', onSigint!)
  }
}

function modelState (m: ModelEntry): string {
  if (m.active) return 'active'
  if (m.previous) return 'previous'
  if (m.complete) return 'staged'
  return `partial ${Math.floor(100 * m.chunksHeld / Math.max(1, m.chunks))}%`
}

async function ls (io: CliIO, format: OutputFormat | undefined, command: Command): Promise<void> {
  const { models, conflicts = [] } = await withPeer(connectionOf(command), async ask => await ask<{ models: ModelEntry[], conflicts?: VersionConflict[] }>('models.list'))
  if (format === 'json' || format === 'yaml') {
    io.out(structured({ models, conflicts }, format))
    return
  }
  if (format === 'name') {
    io.out(models.map(m => `model/${m.name}@${m.version}\n`).join(''))
    return
  }
  for (const c of conflicts) io.err(`warning: ${conflictText(c)}\n`)
  if (models.length === 0) {
    io.err('No models held by this peer.\n')
    return
  }
  const wide = format === 'wide'
  const state = (m: ModelEntry): string => modelState(m) + (conflicts.some(c => c.name === m.name && c.version === m.version) ? ' CONFLICT' : '')
  io.out(withoutHeaders(command, table(
    wide ? ['NAME', 'VERSION', 'STATE', 'SIZE', 'CHUNKS', 'MEMORY', 'LABELS', 'CID'] : ['NAME', 'VERSION', 'STATE', 'SIZE', 'CID'],
    models.map(m => wide
      ? [m.name, m.version, state(m), bytes(m.size), `${m.chunksHeld}/${m.chunks}`, bytes(m.memoryEstimateBytes), labelList(m.labels), m.cid]
      : [m.name, m.version, state(m), bytes(m.size), shortPeer(m.cid, 16)])
  )))
}

interface VersionConflict { name: string, version: string, cids: Array<{ cid: string, peers: string[], here: boolean }> }

/** One NAME@VERSION signed twice in the fleet, every CID with where it is. */
function conflictText (c: VersionConflict): string {
  const where = (x: VersionConflict['cids'][number]): string => [x.here ? 'this peer' : '', ...x.peers.map(p => shortPeer(p))].filter(w => w !== '').join(', ')
  return `${c.name}@${c.version} names ${c.cids.length} different manifests in the fleet: ${c.cids.map(x => `${x.cid} (${where(x)})`).join('; ')}; activate by CID, and pack one of them under a new version`
}

interface ModelDescription { entry?: ModelEntry, manifest: ModelManifest, cid: string, signer: string, holders: Array<{ peerId: string, state: string }>, conflict?: VersionConflict }

async function describeModel (io: CliIO, ref: string, format: OutputFormat | undefined, command: Command): Promise<void> {
  const d = await withPeer(connectionOf(command), async ask => await ask<ModelDescription>('models.get', { ref: await fullCid(ask, ref) }))
  if (format === 'json' || format === 'yaml') {
    io.out(structured(d, format))
    return
  }
  const m = d.manifest
  io.out(describeBlock([
    ['Name', m.name],
    ['Version', m.version],
    ['Manifest CID', d.cid],
    ['State', d.entry != null ? modelState(d.entry) : '-'],
    ['Size', chunkSummary(m)],
    ['Digest', m.digest],
    ['Opset', String(m.opset)],
    ['Inputs', m.inputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Outputs', m.outputs.map(t => `${t.name} ${t.type}[${t.shape.join(',')}]`)],
    ['Memory', `~${bytes(m.memoryEstimateBytes)} (estimate)`],
    ['Labels', Object.entries(m.labels).map(([k, v]) => `${k}=${v}`)],
    ['Signed by', d.signer],
    ['Created', m.createdAt],
    ['Held by', d.holders.map(h => `${h.peerId} (${h.state})`)],
    ...(d.conflict != null ? [['Conflict', conflictText(d.conflict)] as [string, string]] : [])
  ]))
}

/** A CID as `model ls` shortens it (`…bm5f3kqzq2lq`), made whole from the peer's models; any other ref as it is. */
async function fullCid (ask: Ask, ref: string): Promise<string> {
  const tail = shortenedTail(ref)
  if (tail == null) return ref
  const { models } = await ask<{ models: ModelEntry[] }>('models.list')
  const matches = [...new Set(models.filter(m => m.cid.endsWith(tail)).map(m => m.cid))]
  if (matches.length === 1) return matches[0]!
  throw new CliError(matches.length === 0 ? `no model held by the attached peer has a CID ending in ${tail}` : `${tail} ends ${matches.length} CIDs: give more of it`, { code: 'ERR_NOT_FOUND' })
}

interface ActivationResult {
  name: string
  version: string
  cid: string
  previous?: string
  status: { limits: { cpuCores?: number, memoryBytes?: number }, cpu: { intraOpThreads: number, cores: number, throttled: boolean } }
  removed?: Array<{ name: string, version: string, cid: string }>
  keepVersions?: number
}

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

async function activate (io: CliIO, ref: string, opts: LimitOptions, command: Command): Promise<void> {
  checkLimits(opts)
  const conn = connectionOf(command)
  const result = await withPeer({ ...conn, timeoutMs: Math.max(conn.timeoutMs, 60_000) }, async ask => {
    await ensureHeld(ask, ref, io)
    return await ask<ActivationResult>('model.activate', { ref, ...limitParams(opts) })
  })
  printActivation(io, result, conn.peer.toString())
}

async function undo (io: CliIO, name: string, command: Command): Promise<void> {
  const conn = connectionOf(command)
  const result = await withPeer({ ...conn, timeoutMs: Math.max(conn.timeoutMs, 60_000) }, async ask => await ask<ActivationResult>('model.undo', { name }))
  printActivation(io, result, conn.peer.toString())
}

function printActivation (io: CliIO, result: ActivationResult, peer: string): void {
  const lim = result.status.limits
  if (lim.cpuCores != null && lim.cpuCores > result.status.cpu.cores) {
    io.err(`warning: the cpu limit of ${lim.cpuCores} cores is more than the ${result.status.cpu.cores} core${result.status.cpu.cores === 1 ? '' : 's'} of ${peer}: the model may use all of them, no more\n`)
  }
  const limits = [lim.cpuCores != null ? `cpu ${lim.cpuCores} cores` : 'cpu unlimited', lim.memoryBytes != null ? `memory ${bytes(lim.memoryBytes)}` : 'memory unlimited'].join(', ')
  io.out(`${result.name}@${result.version} is active on ${peer} (${limits}; ${result.status.cpu.intraOpThreads} thread${result.status.cpu.intraOpThreads === 1 ? '' : 's'}${result.status.cpu.throttled ? ', duty-cycled' : ''})${result.previous != null ? `; previous: ${result.previous}` : ''}\n`)
  const removed = result.removed ?? []
  if (removed.length > 0) {
    io.out(`retention (--keep-versions ${result.keepVersions ?? '?'}) removed ${removed.map(r => `${r.name}@${r.version}`).join(', ')} from ${peer}\n`)
  }
}

async function deactivate (io: CliIO, ref: string, command: Command): Promise<void> {
  const conn = connectionOf(command)
  const r = await withPeer(conn, async ask => await ask<{ name: string, version?: string, stopped: 'active' | 'shadow' }>('model.deactivate', { name: ref }))
  const what = `${r.name}${r.version != null ? `@${r.version}` : ''}`
  io.out(r.stopped === 'shadow'
    ? `the shadow ${what} is stopped on ${conn.peer.toString()}; the active version still serves\n`
    : `${what} is no longer served on ${conn.peer.toString()}\n`)
}

async function shadow (io: CliIO, ref: string, opts: LimitOptions & { fraction?: string, stop?: boolean }, command: Command): Promise<void> {
  if (opts.stop === true) {
    if (opts.fraction != null || opts.cpu != null || opts.memory != null) throw new UsageError('shadow --stop takes no --fraction, --cpu or --memory')
    const conn = connectionOf(command)
    const r = await withPeer(conn, async ask => await ask<{ name: string, version?: string }>('model.unshadow', { name: ref }))
    io.out(`the shadow ${r.name}@${r.version ?? '?'} is stopped on ${conn.peer.toString()}\n`)
    return
  }
  checkLimits(opts)
  const fraction = opts.fraction == null ? 0.1 : Number(opts.fraction)
  if (!(fraction > 0 && fraction <= 1)) throw new UsageError(`--fraction must be above 0 and at most 1, got "${opts.fraction ?? ''}" (to stop a shadow: tutti model shadow NAME --stop)`)
  const conn = connectionOf(command)
  await withPeer({ ...conn, timeoutMs: Math.max(conn.timeoutMs, 60_000) }, async ask => {
    // Nothing to compare against: say so before downloading anything (the peer checks it again).
    const { status } = await ask<{ status: { models: Array<{ name: string, active?: string }> } }>('inference.status')
    const name = ref.split('@')[0]!
    if (ref.includes('@') && status.models.find(m => m.name === name)?.active == null) {
      throw new CliError(`${name} has no active version on ${conn.peer.toString()}: activate one before shadowing it (tutti model activate ${name}@VERSION)`, { code: 'ERR_NO_ACTIVE_VERSION' })
    }
    await ensureHeld(ask, ref, io)
    return await ask('model.shadow', { ref, fraction, ...limitParams(opts) })
  })
  io.out(`${ref} shadows the active version on ${Number((fraction * 100).toPrecision(3))}% of requests on ${conn.peer.toString()}\n`)
}
