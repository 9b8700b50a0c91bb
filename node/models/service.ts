/**
 * The node's model subsystem: its store, the chunk server that shares what it holds, the fetcher
 * that gets what it lacks, and the admin methods the CLI uses (`model ls/pull/push`, `describe
 * model`). Downloads run as jobs the CLI polls for progress.
 */
import { randomBytes } from 'node:crypto'
import { z } from 'zod'
import { compare as compareSemver } from 'semver'
import { ChunkServer } from '../../protocols/chunks/index.js'
import { AdminErrorCode, AdminRequestError } from '../../protocols/admin/index.js'
import { Fetcher, FetchAbortedError, announce, libp2pProviders } from '../fetcher/index.js'
import { TokenBucket } from '../ratelimit/token-bucket.js'
import { isManifestCid } from '../../core/cid.js'
import { asAdminError } from '../admin-errors.js'
import { adminParams, base64Bytes, boundedString, modelRef } from '../admin-params.js'
import { timeoutSignal } from '../../core/abort.js'
import { AmbiguousVersionError, ModelError, ModelErrorCode, ModelMismatchError, ModelNotFoundError } from './errors.js'
import { MAX_ENVELOPE_BYTES } from './constants.js'
import { ModelStore } from './store.js'
import { announcedCandidates, announcedConflicts, announcersOf, refParts } from './versions.js'
import { requestManifest } from '../../protocols/chunks/index.js'
import { peerIdFromString } from '@libp2p/peer-id'
import type { DevicePace } from '../../core/pace.js'
import type { Clock } from '../../core/clock.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { Logger } from '../../core/logger.js'
import type { MemberInfo } from '../membership/membership.js'
import type { ChunkServerInit, ChunkServerStats } from '../../protocols/chunks/index.js'
import type { AdminHandler } from '../../protocols/admin/index.js'
import type { HeartbeatModel } from '../../protocols/heartbeat/index.js'
import type { FetcherInit, FetchProgress, FetchResult } from '../fetcher/index.js'
import type { ModelEntry } from './store.js'
import type { VerifiedManifest } from './types.js'
import type { AbortOptions, Libp2p, PeerId } from '@libp2p/interface'

const refParams = z.object({ ref: modelRef })
const pushParams = z.object({ envelope: base64Bytes('manifest envelope', MAX_ENVELOPE_BYTES) })
const jobParams = z.object({ id: boundedString('a job id', 64) })

export interface ModelServiceInit {
  /** Directory of the model store. */
  root: string
  /** Versions kept per model (active + previous). @default 2 */
  retainVersions?: number
  /** Upload cap for chunk serving, bytes per second. @default unlimited */
  uploadBytesPerSec?: number
  /** Download cap for chunk fetching, bytes per second. @default unlimited */
  downloadBytesPerSec?: number
  fetcher?: FetcherInit
  chunkServer?: ChunkServerInit
  /** Finished jobs remembered for `models.job`. @default 64 */
  maxJobs?: number
}

export interface ModelServiceComponents {
  /** Content routing (announcing what this node holds), the peer disconnect event, and dialing (asking a peer for a manifest). */
  libp2p: Pick<Libp2p, 'contentRouting' | 'addEventListener' | 'removeEventListener' | 'dialProtocol'>
  /** The open model store; the service closes it on stop. */
  store: ModelStore
  /** Shares what the store holds; the service starts and stops it. */
  server: ChunkServer
  /** Gets what the store lacks; the service stops it. */
  fetcher: Fetcher
  clock: Clock
  logger: Logger
  /** The mesh view, to resolve NAME@VERSION to a manifest CID from what peers hold. */
  members: () => MemberInfo[]
  /**
   * Announces what this node holds at once (a heartbeat now), so that NAME@VERSION resolves on
   * every peer by the time a pull or push job reports done. @default none
   */
  onHeld?: () => Promise<void>
}

/** What {@link openModelParts} needs: the mesh pieces the chunk server and fetcher use. */
export interface ModelPartsComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle' | 'dialProtocol' | 'getConnections' | 'peerId' | 'contentRouting'>
  fleet: FleetConfig
  clock: Clock
  logger: Logger
  random?: () => number
  /** A device slower than this machine: chunk writes wait its disk (core/pace.ts). */
  pace?: DevicePace
}

/** The parts of the model subsystem, built where the node is assembled. */
export interface ModelParts {
  store: ModelStore
  server: ChunkServer
  fetcher: Fetcher
}

/**
 * Opens the model store at `init.root` and builds the chunk server that shares it and the fetcher
 * that fills it (wired so peers watching this node hear of each new chunk at once).
 */
export async function openModelParts (components: ModelPartsComponents, init: ModelServiceInit): Promise<ModelParts> {
  const { libp2p, clock, logger, fleet, random, pace } = components
  const store = await ModelStore.open({ root: init.root, fleet, logger, retainVersions: init.retainVersions, pace })
  const uploadLimiter = init.uploadBytesPerSec != null ? new TokenBucket(clock, init.uploadBytesPerSec) : undefined
  const downloadLimiter = init.downloadBytesPerSec != null ? new TokenBucket(clock, init.downloadBytesPerSec) : undefined
  const server = new ChunkServer({ libp2p, store, clock, logger, uploadLimiter, random }, init.chunkServer)
  const fetcher = new Fetcher({
    libp2p,
    store,
    clock,
    logger,
    findProviders: libp2pProviders(libp2p),
    announce: async (cid, options) => { await announce(libp2p, cid, options) },
    downloadLimiter,
    // Peers watching this node hear of each new chunk at once, not on the server's recheck.
    onChunkStored: cid => { server.chunkStored(cid) },
    random
  }, init.fetcher)
  return { store, server, fetcher }
}

export type JobState = 'running' | 'done' | 'failed'

/** What a model reference resolved to. */
export interface ResolvedModel {
  cid: string
  name?: string
  version?: string
  /** The signed manifest was checked (held here, or fetched from a peer and verified). */
  verified: boolean
}

/** A NAME@VERSION that names more than one signed manifest in the fleet. */
export interface VersionConflict {
  name: string
  version: string
  /** Every manifest CID of it, verified, with the peers that announce it; `here` when this node holds it. */
  cids: Array<{ cid: string, peers: string[], here: boolean }>
}

/** How long a peer gets to hand over a manifest whose announcement is being checked, in ms. */
const MANIFEST_CHECK_TIMEOUT_MS = 5_000
/** Peers asked for one announced manifest before it counts as unverifiable. */
const MANIFEST_CHECK_PEERS = 3
/** How long an announced manifest nobody could hand over is not asked for again, in ms. */
const MANIFEST_RECHECK_MS = 30_000
/** Manifest identities remembered (a CID's manifest never changes). */
const MAX_IDENTITIES = 1024
/** Apparent conflicts checked per listing. */
const MAX_CONFLICTS_CHECKED = 16

/** A download the CLI can follow: `models.pull` / `models.push` start one, `models.job` reads it. */
export interface ModelJob {
  id: string
  kind: 'pull' | 'push'
  ref: string
  cid?: string
  name?: string
  version?: string
  state: JobState
  startedMs: number
  finishedMs?: number
  progress?: FetchProgress
  result?: { path: string, chunksFetched: number, bytesFetched: number, bytesReceived: number, chunksAlreadyHeld: number, durationMs: number, peers: Array<{ peerId: string, bytes: number, chunks: number }> }
  error?: { code: string, message: string }
}

/** What a pull returns: the verified manifest, the assembled file, and the download's figures. */
export interface PullResult {
  manifest: VerifiedManifest
  path: string
  fetch: FetchResult
}

interface SharedPull {
  promise: Promise<PullResult>
  controller: AbortController
  listeners: Set<(p: FetchProgress) => void>
  callers: number
  settled: boolean
}

/** `promise`, or a rejection with `error(reason)` as soon as `signal` aborts (the work goes on). */
async function untilAborted<T> (promise: Promise<T>, signal: AbortSignal | undefined, error: (reason: unknown) => Error): Promise<T> {
  if (signal == null) return await promise
  if (signal.aborted) throw error(signal.reason)
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<never>((_resolve, reject) => {
      onAbort = () => { reject(error(signal.reason)) }
      signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort != null) signal.removeEventListener('abort', onAbort)
  }
}

export class ModelService {
  private readonly components: ModelServiceComponents
  private readonly init: Partial<ModelServiceInit>
  private readonly log: Logger
  private readonly jobs = new Map<string, ModelJob>()
  private readonly inflight = new Map<string, Promise<ModelJob>>()
  /** Downloads in progress by CID, shared by every caller of pull(). */
  private readonly pulls = new Map<string, SharedPull>()
  private readonly controller = new AbortController()
  /** Manifest CID -> the name and version its signed manifest carries (checked once, kept). */
  private readonly identities = new Map<string, { name: string, version: string }>()
  /** Manifest CID -> until when (clock ms) nobody could hand its manifest over. */
  private readonly unverifiable = new Map<string, number>()
  private started = false

  constructor (components: ModelServiceComponents, init: Partial<ModelServiceInit> = {}) {
    this.components = components
    this.init = init
    this.log = components.logger.child('models')
  }

  get store (): ModelStore {
    return this.components.store
  }

  get fetcher (): Fetcher {
    return this.components.fetcher
  }

  /** What the chunk server has sent to peers since start; undefined before start. */
  serverStats (): ChunkServerStats | undefined {
    return this.started ? this.components.server.stats() : undefined
  }

  /** Starts serving chunks and announces what the store holds. */
  async start (): Promise<void> {
    if (this.started) return
    await this.components.server.start()
    this.started = true
    this.components.libp2p.addEventListener('peer:disconnect', this.onPeerGone)
    // Provider records for what we hold, deferred (fetcher/announcer.ts): the DHT may have no
    // peers yet, and heartbeats tell the fleet first.
    for (const entry of this.store.list()) this.fetcher.announceSoon(entry.cid)
  }

  private readonly onPeerGone = (evt: CustomEvent<PeerId>): void => {
    this.components.server.peerGone(evt.detail.toString())
  }

  /** Aborts downloads, stops serving chunks and closes the store. */
  async stop (): Promise<void> {
    this.components.libp2p.removeEventListener('peer:disconnect', this.onPeerGone)
    this.controller.abort(new Error('model service stopped'))
    this.components.fetcher.stop()
    await Promise.allSettled([...this.inflight.values()])
    await this.components.server.stop()
    this.started = false
    await this.components.store.close()
  }

  /**
   * Announces every manifest this node holds, complete or not (it serves what it has verified), at
   * once: for a caller that just imported a package and wants it found through the DHT now. The
   * node's own announces (at start, after pulls) are deferred instead ({@link Fetcher.announceSoon}).
   */
  async announceAll (options: AbortOptions = {}): Promise<void> {
    const signal = options.signal ?? this.controller.signal
    for (const entry of this.store.list()) {
      if (signal.aborted) return
      await announce(this.components.libp2p, entry.cid, { signal: timeoutSignal(this.components.clock, 30_000, { signal }) })
        .catch(err => { this.log.debug('announce failed', { cid: entry.cid, err }) })
    }
  }

  /** What the heartbeat says this node holds. */
  heartbeatModels (): HeartbeatModel[] {
    return this.components.store.list().map(e => ({
      name: e.name,
      version: e.version,
      cid: e.cid,
      state: e.active ? 'active' : e.previous ? 'previous' : e.complete ? 'staged' : 'partial'
    }))
  }

  list (): ModelEntry[] {
    return this.store.list()
  }

  /**
   * What `ref` means: a CID as is; NAME@VERSION or NAME from the local store, else from what peers
   * announce in their heartbeats (the highest version for a bare NAME). An announcement is only a
   * claim (any member can announce any NAME@VERSION for any CID), so every announced candidate is
   * checked against its signed manifest, fetched from a peer that announces it: one signed under
   * another name or version is skipped (the next candidate is tried). NAME@VERSION with two signed
   * manifests in the fleet throws {@link AmbiguousVersionError} naming both; nothing verifiable,
   * {@link ModelNotFoundError}.
   */
  async resolve (ref: string, options: AbortOptions = {}): Promise<ResolvedModel> {
    if (isManifestCid(ref as unknown)) {
      // What it is, when this node or a peer announcing it can show its signed manifest.
      const id = await this.identify(ref, this.components.members(), options)
      return id != null ? { cid: ref, ...id, verified: true } : { cid: ref, verified: false }
    }
    const at = ref.indexOf('@')
    const name = at < 0 ? ref : ref.slice(0, at)
    const version = at < 0 ? undefined : ref.slice(at + 1)
    const members = this.components.members()
    if (version == null) {
      try {
        const local = this.store.resolve(name)
        return { cid: local.cid, name, version: local.manifest.version, verified: true }
      } catch (err) {
        if (!(err instanceof ModelNotFoundError)) throw err
      }
    }
    const candidates = announcedCandidates(name, version, members)
    const local = version != null ? this.store.list().find(e => e.name === name && e.version === version) : undefined
    const versions = [...new Set([...(local != null ? [local.version] : []), ...candidates.map(c => c.version)])]
    for (const v of versions) {
      const cids = [...new Set([...(local?.version === v ? [local.cid] : []), ...candidates.filter(c => c.version === v).map(c => c.cid)])]
      const genuine: string[] = []
      for (const cid of cids) {
        const id = await this.identify(cid, members, options)
        if (id?.name === name && id.version === v) genuine.push(cid)
        else if (id != null) this.log.warn('a peer announces a manifest under a name or version it is not signed with', { cid, announced: `${name}@${v}`, signed: `${id.name}@${id.version}` })
      }
      if (genuine.length > 1) throw new AmbiguousVersionError(`${name}@${v}`, genuine.sort())
      if (genuine.length === 1) return { cid: genuine[0]!, name, version: v, verified: true }
    }
    throw new ModelNotFoundError(ref)
  }

  /** The manifest CID `ref` resolves to; see {@link resolve}. */
  async resolveCid (ref: string, options: AbortOptions = {}): Promise<string> {
    if (isManifestCid(ref as unknown)) return ref
    return (await this.resolve(ref, options)).cid
  }

  /**
   * NAME@VERSIONs that name two or more signed manifests among what this node holds and live peers
   * announce (each CID checked against its signed manifest, so a lying announcement makes none).
   */
  async conflicts (options: AbortOptions = {}): Promise<VersionConflict[]> {
    const members = this.components.members()
    const out: VersionConflict[] = []
    for (const c of announcedConflicts(this.store.list(), members).slice(0, MAX_CONFLICTS_CHECKED)) {
      const cids: VersionConflict['cids'] = []
      for (const entry of c.cids) {
        const id = await this.identify(entry.cid, members, options)
        if (id?.name === c.name && id.version === c.version) cids.push(entry)
      }
      if (cids.length > 1) out.push({ name: c.name, version: c.version, cids: cids.sort((a, b) => a.cid < b.cid ? -1 : 1) })
    }
    return out
  }

  /**
   * The name and version `cid`'s signed manifest carries: from the store, from what was checked
   * before, or fetched from peers announcing it and verified against the fleet's admins (not
   * stored). Undefined when no peer hands over a manifest that verifies.
   */
  private async identify (cid: string, members: MemberInfo[], options: AbortOptions): Promise<{ name: string, version: string } | undefined> {
    const held = this.store.list().find(e => e.cid === cid)
    if (held != null) return { name: held.name, version: held.version }
    const known = this.identities.get(cid)
    if (known != null) return known
    const now = this.components.clock.now()
    if ((this.unverifiable.get(cid) ?? 0) > now) return undefined
    const signal = options.signal == null ? this.controller.signal : AbortSignal.any([options.signal, this.controller.signal])
    const client = { libp2p: this.components.libp2p, clock: this.components.clock }
    for (const peer of announcersOf(cid, members.filter(m => !m.self)).slice(0, MANIFEST_CHECK_PEERS)) {
      try {
        const envelope = await requestManifest(client, peerIdFromString(peer), cid, { signal, timeoutMs: MANIFEST_CHECK_TIMEOUT_MS })
        const { manifest } = await this.store.verifyEnvelope(envelope, cid, { signal })
        const id = { name: manifest.name, version: manifest.version }
        if (this.identities.size >= MAX_IDENTITIES) this.identities.delete(this.identities.keys().next().value!)
        this.identities.set(cid, id)
        return id
      } catch (err) {
        signal.throwIfAborted()
        this.log.debug('a peer did not hand over a verifiable manifest it announces', { cid, peer, err })
      }
    }
    if (this.unverifiable.size >= MAX_IDENTITIES) this.unverifiable.clear()
    this.unverifiable.set(cid, now + MANIFEST_RECHECK_MS)
    return undefined
  }

  /** Downloads (or resumes) a model and assembles it. */
  async pull (ref: string, options: AbortOptions & { onProgress?: (p: FetchProgress) => void } = {}): Promise<PullResult> {
    const cid = await this.resolveCid(ref, options)
    // One download per CID: a second caller (an activation while a prefetch or a CLI pull of
    // the same model runs) joins it, and it is aborted only once every caller has given up.
    let shared = this.pulls.get(cid)
    if (shared == null) {
      const controller = new AbortController()
      const listeners = new Set<(p: FetchProgress) => void>()
      const entry: SharedPull = {
        controller,
        listeners,
        callers: 0,
        settled: false,
        promise: this.pullOnce(cid, AbortSignal.any([controller.signal, this.controller.signal]), p => { for (const l of listeners) l(p) })
      }
      entry.promise.then(() => { entry.settled = true }, () => { entry.settled = true }).finally(() => {
        if (this.pulls.get(cid) === entry) this.pulls.delete(cid)
      })
      this.pulls.set(cid, entry)
      shared = entry
    }
    const entry = shared
    entry.callers++
    if (options.onProgress != null) entry.listeners.add(options.onProgress)
    let result: PullResult
    try {
      result = await untilAborted(entry.promise, options.signal, reason => new FetchAbortedError(cid, { cause: reason }))
    } finally {
      entry.callers--
      if (options.onProgress != null) entry.listeners.delete(options.onProgress)
      if (entry.callers === 0 && !entry.settled) entry.controller.abort(options.signal?.reason ?? new Error('every caller gave up'))
    }
    // The signed manifest must be what the caller asked for (callers of one CID may name it differently).
    const m = result.manifest.manifest
    const want = refParts(ref)
    if (want != null && (m.name !== want.name || (want.version != null && m.version !== want.version))) {
      throw new ModelMismatchError(cid, `${m.name}@${m.version}`, ref)
    }
    return result
  }

  private async pullOnce (cid: string, signal: AbortSignal, onProgress: (p: FetchProgress) => void): Promise<PullResult> {
    // Peers whose heartbeats say they hold it (complete or partial) are asked first.
    const holders = announcersOf(cid, this.components.members().filter(m => !m.self)).map(id => peerIdFromString(id))
    const fetch = await this.fetcher.fetch(cid, { signal, onProgress, holders })
    const path = await this.store.assemble(cid, { signal })
    this.fetcher.announceSoon(cid)
    this.log.info('model pulled', { cid, model: `${fetch.manifest.manifest.name}@${fetch.manifest.manifest.version}`, chunks: fetch.chunksFetched, ms: fetch.durationMs })
    return { manifest: fetch.manifest, path, fetch }
  }

  /** Starts a pull as a job (joins the running one for the same CID). */
  async startJob (kind: ModelJob['kind'], ref: string, options: AbortOptions = {}): Promise<ModelJob> {
    const cid = await this.resolveCid(ref, options)
    const running = [...this.jobs.values()].find(j => j.cid === cid && j.state === 'running')
    if (running != null) return running
    const job: ModelJob = { id: randomBytes(6).toString('hex'), kind, ref, cid, state: 'running', startedMs: this.components.clock.now() }
    try {
      const m = this.store.resolve(cid).manifest
      job.name = m.name
      job.version = m.version
    } catch {
      // manifest not held yet: the fetcher gets it first
    }
    this.jobs.set(job.id, job)
    this.trimJobs()
    const done = this.pull(cid, { onProgress: p => { job.progress = p; job.name ??= p.name; job.version ??= p.version } })
      .then(async ({ path, fetch }) => {
        await this.components.onHeld?.().catch(err => { this.log.debug('announcing a held model failed', { cid, err }) })
        job.state = 'done'
        job.name = fetch.manifest.manifest.name
        job.version = fetch.manifest.manifest.version
        job.result = {
          path,
          chunksFetched: fetch.chunksFetched,
          bytesFetched: fetch.bytesFetched,
          bytesReceived: fetch.bytesReceived,
          chunksAlreadyHeld: fetch.chunksAlreadyHeld,
          durationMs: fetch.durationMs,
          peers: fetch.peers.map(p => ({ peerId: p.peerId, bytes: p.bytes, chunks: p.chunks }))
        }
        return job
      }, (err: unknown) => {
        job.state = 'failed'
        job.error = { code: (err as { code?: string }).code ?? 'ERR_PULL', message: (err as Error).message }
        this.log.warn('model pull failed', { cid, err })
        return job
      })
      .finally(() => {
        job.finishedMs = this.components.clock.now()
        this.inflight.delete(job.id)
      })
    this.inflight.set(job.id, done)
    return job
  }

  job (id: string): ModelJob | undefined {
    return this.jobs.get(id)
  }

  /** Waits for a job to finish (for in-process callers and tests). */
  async waitJob (id: string): Promise<ModelJob> {
    const running = this.inflight.get(id)
    if (running != null) return await running
    const job = this.jobs.get(id)
    if (job == null) throw new ModelError(ModelErrorCode.JobNotFound, `no job ${id}`)
    return job
  }

  describe (ref: string): { entry?: ModelEntry, manifest: VerifiedManifest['manifest'], cid: string, signer: string, holders: Array<{ peerId: string, state: string }>, conflict?: VersionConflict } {
    const verified = this.store.resolve(ref)
    const entry = this.store.list().find(e => e.cid === verified.cid)
    const holders = this.components.members().filter(m => m.status !== 'dead')
      .flatMap(m => m.models.filter(x => x.cid === verified.cid).map(x => ({ peerId: m.peerId, state: x.state })))
    return { entry, manifest: verified.manifest, cid: verified.cid, signer: verified.signer, holders }
  }

  /** Admin methods: models.list, models.get, models.pull, models.push, models.job. */
  adminHandlers (): Record<string, AdminHandler> {
    const refParam = (params: Record<string, unknown>): string => adminParams(refParams, params).ref
    const notFound = async <T>(fn: () => T | Promise<T>): Promise<T> => {
      try {
        return await fn()
      } catch (err) {
        throw asAdminError(err, { notFoundHint: ' (not held by this peer, and no peer announces it with a signed manifest that matches)' })
      }
    }
    return {
      // With the NAME@VERSIONs that name two signed manifests in the fleet (flagged, never chosen).
      'models.list': async (_params, ctx) => ({ models: this.list(), conflicts: await this.conflicts({ signal: ctx.signal }) }),
      // What this peer's chunk server has sent since the node started (the simulator's upload figures).
      'models.serverStats': async () => ({ stats: this.serverStats() ?? null }),
      'models.get': async (params, ctx) => await notFound(async () => {
        const d = this.describe(refParam(params))
        const conflict = (await this.conflicts({ signal: ctx.signal })).find(c => c.name === d.manifest.name && c.version === d.manifest.version)
        return conflict == null ? d : { ...d, conflict }
      }),
      // NAME@VERSION (or NAME, or a CID) to the manifest CID, from the store or, when this peer does
      // not hold it, from what live peers announce, checked against the signed manifest fetched
      // from them (a CID no peer can show a manifest for comes back unverified, without a name).
      'models.resolve': async (params, ctx) => await notFound(async () => await this.resolve(refParam(params), { signal: ctx.signal })),
      'models.pull': async (params, ctx) => await notFound(async () => await this.startJob('pull', refParam(params), { signal: ctx.signal })),
      'models.push': async (params) => {
        const { envelope } = adminParams(pushParams, params)
        let verified: VerifiedManifest
        try {
          verified = await this.store.putManifest(envelope)
        } catch (err) {
          throw asAdminError(err)
        }
        // The pushing CLI is connected and serves the chunks; the fetcher asks connected peers.
        return await this.startJob('push', verified.cid)
      },
      'models.job': async (params) => {
        const { id } = adminParams(jobParams, params)
        const job = this.job(id)
        if (job == null) throw new AdminRequestError(AdminErrorCode.NotFound, `no job ${id}`)
        return job
      }
    }
  }

  private trimJobs (): void {
    const max = this.init.maxJobs ?? 64
    for (const [id, job] of this.jobs) {
      if (this.jobs.size <= max) break
      if (job.state !== 'running') this.jobs.delete(id)
    }
  }
}
