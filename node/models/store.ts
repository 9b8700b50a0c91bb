/**
 * The model store of a node: content-addressed chunks, verified manifests and assembled model
 * files under one directory (e.g. DATA/models).
 *
 *   ROOT/chunks/<chunk-cid>       verified chunk bytes, while a model is incomplete
 *   ROOT/manifests/<manifest-cid> envelopes exactly as received, verified against the fleet admins
 *   ROOT/models/<manifest-cid>.onnx assembled model files; present only once the whole-file digest matched
 *   ROOT/state.json               active/previous version of each model, arrival order
 *
 * Invariants, whatever instant the process dies at (or the power fails):
 * - every file is written to a temp name (`.NAME.RANDOM.tmp`) and renamed; temp files left by a
 *   crash are deleted on open;
 * - manifests, model files and state.json are fsynced before the rename and their directory after
 *   it: once written, they survive a power loss;
 * - chunk files are not fsynced (three fsyncs per 64 KiB chunk were about 7 % of a node's CPU
 *   during a download): each is named by the hash of its bytes, and open re-hashes every chunk
 *   file, so one a power loss left empty or short is deleted and fetched again, never served;
 * - `models/<cid>.onnx` exists only if its bytes matched the manifest digest before the rename,
 *   so a half-written model can never be loaded; an interrupted assembly restarts from the chunks;
 * - chunks are deleted only after the model holding them is complete; afterwards they are served
 *   from the model file (a model takes its size on disk once, not twice).
 *
 * One process owns a store directory at a time.
 */
import { mkdir, readdir, readFile, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { compare as compareSemver } from 'semver'
import { writeFileAtomic, writeFileUnsynced } from '../fs.js'
import { silentLogger } from '../../core/logger.js'
import { PartialModel } from './assemble.js'
import { chunkOffsets, chunkSizes } from './chunking.js'
import { bytesMatchCid, isManifestCid, isRawCid } from '../../core/cid.js'
import { DEFAULT_RETAIN_VERSIONS, MAX_CHUNK_BYTES, MAX_ENVELOPE_BYTES } from './constants.js'
import {
  ChunksMissingError, ChunkUnknownError, ChunkVerificationError, ModelIncompleteError,
  ModelNotFoundError, VersionConflictError
} from './errors.js'
import { openEnvelope } from './manifest.js'
import { chunkRange, readPackageDir, readRange } from './package-dir.js'
import { emptyState, parseState, planRetention } from './store-state.js'
import type { DevicePace } from '../../core/pace.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { Logger } from '../../core/logger.js'
import type { ChunkSource } from './assemble.js'
import type { StoreState } from './store-state.js'
import type { ChunkStore, VerifiedManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface ModelStoreInit {
  /** Directory of the store, created if missing. */
  root: string
  /** The trust root: manifests must be signed by one of its admins. A function is read on every check. */
  fleet: FleetConfig | (() => FleetConfig)
  /** @default silentLogger */
  logger?: Logger
  /** Versions of each model kept: the active one and the ones active before it. @default DEFAULT_RETAIN_VERSIONS (2) */
  retainVersions?: number
  /** Keep chunk files after their model is assembled (doubles disk use). @default false */
  keepChunksAfterAssembly?: boolean
  /** Called after each chunk is written during assembly; assembly waits for it. */
  onAssembleProgress?: (progress: { cid: string, chunk: number, chunks: number }) => void | Promise<void>
  /** A device slower than this machine: each chunk written waits its disk (core/pace.ts). @default none */
  pace?: DevicePace
}

export interface ModelEntry {
  cid: string
  name: string
  version: string
  size: number
  labels: Record<string, string>
  chunks: number
  chunksHeld: number
  /** The verified model file is on disk. */
  complete: boolean
  active: boolean
  /** The version that was active before the active one (the rollback target). */
  previous: boolean
  memoryEstimateBytes: number
  createdAt: string
}

export interface GcResult {
  /** Manifest CIDs removed. */
  removed: string[]
  bytesFreed: number
}

const TMP_RE = /^\..+\.tmp$/
/** Chunk writes queued at most per model file being written during a download (see streamChunk). */
const MAX_QUEUED_STREAM_WRITES = 8
const MODEL_EXT = '.onnx'

/** The model store. Create it with {@link ModelStore.open}. */
export class ModelStore implements ChunkStore {
  readonly root: string
  private readonly dirs: { chunks: string, manifests: string, models: string }
  private readonly stateFile: string
  private readonly fleet: () => FleetConfig
  private readonly log: Logger
  /** Versions of each model kept: the active one and the ones active before it. */
  readonly keepVersions: number
  private readonly keepChunks: boolean
  private readonly onProgress: ModelStoreInit['onAssembleProgress']
  private readonly pace?: DevicePace
  private readonly manifests = new Map<string, VerifiedManifest>()
  private readonly byRef = new Map<string, string>()
  private readonly owners = new Map<string, Set<string>>()
  private readonly chunkFiles = new Set<string>()
  private readonly complete = new Set<string>()
  private readonly assembling = new Map<string, Promise<string>>()
  /** Model files being written while their chunks arrive (manifest CID -> temp file). */
  private readonly partials = new Map<string, Promise<PartialModel>>()
  /** Chunk writes queued for each of those files. */
  private readonly streamQueue = new Map<string, number>()
  private readonly shutdown = new AbortController()
  private state: StoreState = emptyState()
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (init: ModelStoreInit) {
    this.root = init.root
    this.dirs = { chunks: join(init.root, 'chunks'), manifests: join(init.root, 'manifests'), models: join(init.root, 'models') }
    this.stateFile = join(init.root, 'state.json')
    const fleet = init.fleet
    this.fleet = typeof fleet === 'function' ? fleet : () => fleet
    this.log = (init.logger ?? silentLogger).child('models')
    this.keepVersions = Math.max(1, init.retainVersions ?? DEFAULT_RETAIN_VERSIONS)
    this.keepChunks = init.keepChunksAfterAssembly ?? false
    this.onProgress = init.onAssembleProgress
    this.pace = init.pace
  }

  /** Opens (or creates) a store: removes temp files left by a crash, loads and re-verifies what is on disk. */
  static async open (init: ModelStoreInit): Promise<ModelStore> {
    const store = new ModelStore(init)
    await store.load()
    return store
  }

  /** Stops in-flight assemblies (their temp files are removed) and waits for them. */
  async close (): Promise<void> {
    this.shutdown.abort(new Error('model store closed'))
    await Promise.allSettled([...this.assembling.values()])
    await Promise.allSettled([...this.partials.keys()].map(async cid => { await this.dropPartial(cid) }))
    await this.queue.catch(() => undefined)
  }

  // ---- ChunkStore ----

  async getChunk (cid: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    options.signal?.throwIfAborted()
    if (this.chunkFiles.has(cid)) {
      const bytes = await this.readChunkFile(cid)
      if (bytes != null) return bytes
    }
    for (const owner of this.owners.get(cid) ?? []) {
      if (!this.complete.has(owner)) continue
      const m = this.manifests.get(owner)!.manifest
      const { offset, length } = chunkRange(m, m.chunks.indexOf(cid))
      const bytes = await readRange(this.modelFile(owner), offset, length)
      if (bytesMatchCid(cid, bytes)) return bytes
      this.log.error('model file does not match its chunk: disk corruption?', { model: owner, chunk: cid })
    }
    return undefined
  }

  async hasChunk (cid: string, options: AbortOptions = {}): Promise<boolean> {
    options.signal?.throwIfAborted()
    return this.holdsChunk(cid)
  }

  async putChunk (cid: string, bytes: Uint8Array, options: AbortOptions = {}): Promise<void> {
    options.signal?.throwIfAborted()
    if (!isRawCid(cid)) throw new ChunkVerificationError(String(cid).slice(0, 100), `${String(cid).slice(0, 100)} is not a chunk CID (CIDv1 raw sha2-256 base32)`)
    if (bytes.byteLength > MAX_CHUNK_BYTES) throw new ChunkVerificationError(cid, `chunk ${cid} is ${bytes.byteLength} bytes, at most ${MAX_CHUNK_BYTES}`)
    if (!this.owners.has(cid)) throw new ChunkUnknownError(cid)
    if (!bytesMatchCid(cid, bytes)) throw new ChunkVerificationError(cid)
    if (this.holdsChunk(cid)) return
    if (this.pace != null) {
      await this.pace.disk(bytes.byteLength, options)
      if (this.holdsChunk(cid)) return
    }
    await writeFileUnsynced(join(this.dirs.chunks, cid), bytes)
    this.chunkFiles.add(cid)
    this.streamChunk(cid, bytes)
  }

  async getManifest (cid: string, options: AbortOptions = {}): Promise<VerifiedManifest | undefined> {
    options.signal?.throwIfAborted()
    return this.manifests.get(cid)
  }

  async putManifest (envelope: Uint8Array, options: AbortOptions = {}): Promise<VerifiedManifest> {
    const verified = await openEnvelope(envelope, this.fleet(), options)
    return await this.serial(async () => {
      const held = this.manifests.get(verified.cid)
      if (held != null) return held
      const ref = `${verified.manifest.name}@${verified.manifest.version}`
      const existing = this.byRef.get(ref)
      if (existing != null) throw new VersionConflictError(ref, existing, verified.cid)
      const copy = Uint8Array.from(envelope)
      await writeFileAtomic(join(this.dirs.manifests, verified.cid), copy)
      const stored = { ...verified, envelope: copy }
      this.index(stored)
      this.state.manifests[stored.cid] = { addedSeq: ++this.state.seq }
      await this.saveState()
      this.log.info('manifest stored', { cid: stored.cid, model: ref, signer: stored.signer })
      return stored
    })
  }

  // ---- Store API ----

  /**
   * Verifies an envelope against this store's trust root and `expectedCid` without storing it
   * (what a peer's announcement really names). Throws as {@link openEnvelope}.
   */
  async verifyEnvelope (envelope: Uint8Array, expectedCid: string, options: AbortOptions = {}): Promise<VerifiedManifest> {
    return await openEnvelope(envelope, this.fleet(), { expectedCid, signal: options.signal })
  }

  /**
   * Imports a package directory written by `pack`: verifies the envelope against the fleet and the
   * model file against the manifest (so a bad package stores nothing), then copies the model file
   * in, checking every chunk and the digest again as it goes. No chunk files are written.
   */
  async importPackage (dir: string, options: AbortOptions = {}): Promise<VerifiedManifest> {
    const pkg = await readPackageDir(dir, { fleet: this.fleet(), verify: true, signal: options.signal })
    const stored = await this.putManifest(pkg.envelope, options)
    const offsets = chunkOffsets(stored.manifest)
    const sizes = chunkSizes(stored.manifest)
    await this.assembleWith(stored.cid, async (i) => {
      return await readRange(pkg.modelFile, offsets[i]!, sizes[i]!)
    }, options)
    return stored
  }

  /** Unique chunk CIDs of a manifest this store does not hold yet, in file order. */
  missingChunks (manifestCid: string): string[] {
    const m = this.requireManifest(manifestCid)
    if (this.complete.has(manifestCid)) return []
    return [...new Set(m.manifest.chunks)].filter(c => !this.holdsChunk(c))
  }

  /** Which chunks are held: bit i (byte i >> 3, mask 0x80 >> (i & 7)) set when chunk i is held. */
  chunkPresence (manifestCid: string): Uint8Array {
    const { chunks } = this.requireManifest(manifestCid).manifest
    const bits = new Uint8Array(Math.ceil(chunks.length / 8))
    const all = this.complete.has(manifestCid)
    chunks.forEach((c, i) => {
      if (all || this.holdsChunk(c)) bits[i >> 3]! |= 0x80 >> (i & 7)
    })
    return bits
  }

  /**
   * Assembles a model from its chunks into a temp file, checks the whole-file digest, renames it
   * into place. Returns the path of the verified model file. Throws ChunksMissingError (retry after
   * fetching), ChunkVerificationError (a stored chunk went bad: it is deleted, fetch it again),
   * DigestMismatchError or ModelNotFoundError.
   */
  async assemble (manifestCid: string, options: AbortOptions = {}): Promise<string> {
    this.requireManifest(manifestCid)
    if (this.complete.has(manifestCid)) return this.modelFile(manifestCid)
    const missing = this.missingChunks(manifestCid)
    if (missing.length > 0) throw new ChunksMissingError(manifestCid, missing.length)
    return await this.assembleWith(manifestCid, async (i) => {
      const cid = this.manifests.get(manifestCid)!.manifest.chunks[i]!
      const bytes = await this.getChunk(cid)
      if (bytes == null) throw new ChunkVerificationError(cid, `chunk ${cid} went bad on disk and was dropped: fetch it again`)
      return bytes
    }, options)
  }

  /** Path of the verified model file, or undefined while it is not complete. */
  modelPath (manifestCid: string): string | undefined {
    return this.complete.has(manifestCid) ? this.modelFile(manifestCid) : undefined
  }

  isComplete (manifestCid: string): boolean {
    return this.complete.has(manifestCid)
  }

  /** Every model held, by name then newest version first. */
  list (): ModelEntry[] {
    const entries: ModelEntry[] = [...this.manifests.values()].map(v => {
      const m = v.manifest
      const pointers = this.state.models[m.name]
      const complete = this.complete.has(v.cid)
      return {
        cid: v.cid,
        name: m.name,
        version: m.version,
        size: m.size,
        labels: m.labels,
        chunks: m.chunks.length,
        chunksHeld: complete ? m.chunks.length : m.chunks.filter(c => this.holdsChunk(c)).length,
        complete,
        active: pointers?.active === v.cid,
        previous: pointers?.history[0] === v.cid,
        memoryEstimateBytes: m.memoryEstimateBytes,
        createdAt: m.createdAt
      }
    })
    return entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : compareSemver(b.version, a.version))
  }

  /**
   * A manifest by manifest CID, `name@version`, or `name` (the active version, else the highest
   * version held). Throws ModelNotFoundError.
   */
  resolve (ref: string): VerifiedManifest {
    if (isManifestCid(ref as unknown)) {
      const m = this.manifests.get(ref)
      if (m == null) throw new ModelNotFoundError(ref)
      return m
    }
    if (ref.includes('@')) {
      const cid = this.byRef.get(ref)
      if (cid == null) throw new ModelNotFoundError(ref)
      return this.manifests.get(cid)!
    }
    const active = this.state.models[ref]?.active
    if (active != null && this.manifests.has(active)) return this.manifests.get(active)!
    const versions = [...this.manifests.values()].filter(v => v.manifest.name === ref)
    if (versions.length === 0) throw new ModelNotFoundError(ref)
    return versions.sort((a, b) => compareSemver(b.manifest.version, a.manifest.version))[0]!
  }

  /** Manifest CIDs of the active version of `name` and the one active before it. */
  pointers (name: string): { active?: string, previous?: string } {
    const p = this.state.models[name]
    return { active: p?.active, previous: p?.history[0] }
  }

  /**
   * Makes `name@version` the active version; the one active before becomes the previous (kept for
   * rollback). The model must be complete. Throws ModelNotFoundError or ModelIncompleteError.
   */
  async setActive (name: string, version: string, options: AbortOptions = {}): Promise<{ active: string, previous?: string }> {
    options.signal?.throwIfAborted()
    return await this.serial(async () => {
      const ref = `${name}@${version}`
      const cid = this.byRef.get(ref)
      if (cid == null) throw new ModelNotFoundError(ref)
      if (!this.complete.has(cid)) throw new ModelIncompleteError(ref)
      const p = this.state.models[name] ?? { history: [] }
      if (p.active !== cid) {
        const history = p.active == null ? p.history : [p.active, ...p.history]
        this.state.models[name] = { active: cid, activatedSeq: ++this.state.seq, history: history.filter((c, i) => c !== cid && history.indexOf(c) === i) }
        await this.saveState()
        this.log.info('model activated', { model: ref, cid, previous: p.active })
      }
      return { active: cid, previous: this.state.models[name]!.history[0] }
    })
  }

  /**
   * Makes no version of `name` active (it is no longer served): the active one becomes the
   * previous, the rollback target. Returns the manifest CID that was active, if any.
   */
  async clearActive (name: string, options: AbortOptions = {}): Promise<string | undefined> {
    options.signal?.throwIfAborted()
    return await this.serial(async () => {
      const p = this.state.models[name]
      if (p?.active == null) return undefined
      const was = p.active
      this.state.models[name] = { history: [was, ...p.history.filter(c => c !== was)] }
      await this.saveState()
      this.log.info('model deactivated', { model: name, cid: was })
      return was
    })
  }

  /**
   * Removes versions past retention (see `planRetention`) and any file no retained manifest
   * needs (orphans of a crash mid-GC, chunks of assembled models). `protect` lists manifest CIDs
   * to keep regardless.
   */
  async gc (options: AbortOptions & { protect?: string[] } = {}): Promise<GcResult> {
    options.signal?.throwIfAborted()
    return await this.serial(async () => await this.collect(new Set(options.protect ?? [])))
  }

  // ---- internals ----

  private modelFile (cid: string): string {
    return join(this.dirs.models, cid + MODEL_EXT)
  }

  private requireManifest (cid: string): VerifiedManifest {
    const m = this.manifests.get(cid)
    if (m == null) throw new ModelNotFoundError(cid)
    return m
  }

  private holdsChunk (cid: string): boolean {
    if (this.chunkFiles.has(cid)) return true
    for (const owner of this.owners.get(cid) ?? []) {
      if (this.complete.has(owner)) return true
    }
    return false
  }

  /** A chunk file's bytes if they still match; a file that does not is deleted (and logged, unless `quiet`). */
  private async readChunkFile (cid: string, quiet = false): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await readFile(join(this.dirs.chunks, cid)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      this.chunkFiles.delete(cid)
      return undefined
    }
    if (bytesMatchCid(cid, bytes)) return bytes
    if (!quiet) this.log.error('stored chunk does not match its CID: dropped', { chunk: cid })
    this.chunkFiles.delete(cid)
    await rm(join(this.dirs.chunks, cid), { force: true })
    return undefined
  }

  private index (v: VerifiedManifest): void {
    this.manifests.set(v.cid, v)
    this.byRef.set(`${v.manifest.name}@${v.manifest.version}`, v.cid)
    for (const c of v.manifest.chunks) {
      let set = this.owners.get(c)
      if (set == null) this.owners.set(c, set = new Set())
      set.add(v.cid)
    }
  }

  private unindex (cid: string): void {
    const v = this.manifests.get(cid)
    if (v == null) return
    if (this.partials.has(cid)) {
      this.dropPartial(cid).catch(err => { this.log.debug('removing a partial model file failed', { cid, err }) })
    }
    this.manifests.delete(cid)
    this.byRef.delete(`${v.manifest.name}@${v.manifest.version}`)
    this.complete.delete(cid)
    for (const c of v.manifest.chunks) {
      const set = this.owners.get(c)
      set?.delete(cid)
      if (set?.size === 0) this.owners.delete(c)
    }
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => undefined)
    return await run
  }

  private async saveState (): Promise<void> {
    await writeFileAtomic(this.stateFile, JSON.stringify(this.state) + '\n')
  }

  private assembleWith (cid: string, source: ChunkSource, options: AbortOptions): Promise<string> {
    if (this.complete.has(cid)) return Promise.resolve(this.modelFile(cid))
    const running = this.assembling.get(cid)
    if (running != null) return running
    const job = this.writeModel(cid, source, options).finally(() => { this.assembling.delete(cid) })
    this.assembling.set(cid, job)
    return job
  }

  private async writeModel (cid: string, source: ChunkSource, options: AbortOptions): Promise<string> {
    const { manifest } = this.requireManifest(cid)
    const signal = options.signal == null ? this.shutdown.signal : AbortSignal.any([options.signal, this.shutdown.signal])
    const target = this.modelFile(cid)
    const chunks = manifest.chunks.length
    const onChunk = async (chunk: number): Promise<void> => { await this.onProgress?.({ cid, chunk, chunks }) }
    const streamed = this.partials.get(cid)
    this.partials.delete(cid)
    let partial = streamed != null ? await streamed.catch(() => undefined) : undefined
    try {
      await (partial ?? await PartialModel.create(manifest, target)).finish(source, { signal, onChunk })
    } catch (err) {
      // The file written while chunks arrived failed (a write error): start over from the chunks.
      if (partial == null || signal.aborted || (err as { code?: string }).code === 'ERR_DIGEST_MISMATCH') throw err
      this.log.warn('the model file written during the download failed; assembling it again from the chunks', { cid, err })
      partial = undefined
      await (await PartialModel.create(manifest, target)).finish(source, { signal, onChunk })
    }
    // Between the rename and here a crash leaves both the model and its chunks: gc removes the chunks.
    await this.serial(async () => {
      if (!this.manifests.has(cid)) return
      this.complete.add(cid)
      if (!this.keepChunks) await this.dropChunkFilesServedByModels(new Set(manifest.chunks))
    })
    this.log.info('model assembled', { cid, model: `${manifest.name}@${manifest.version}`, bytes: manifest.size })
    return target
  }

  /**
   * Writes a just-stored chunk into the model file of every incomplete manifest that lists it,
   * in the background: putChunk does not wait, assembly does (docs in assemble.ts). A write that
   * fails only costs the head start: assembly then writes the file from the chunk files.
   */
  private streamChunk (cid: string, bytes: Uint8Array): void {
    for (const owner of this.owners.get(cid) ?? []) {
      if (this.complete.has(owner) || this.assembling.has(owner)) continue
      const { manifest } = this.manifests.get(owner)!
      let partial = this.partials.get(owner)
      if (partial == null) {
        partial = PartialModel.create(manifest, this.modelFile(owner))
        this.partials.set(owner, partial)
      }
      // A disk slower than the download would queue chunk after chunk in memory: past a few
      // queued writes a chunk is left out here, and finishing writes it from its chunk file.
      const queued = this.streamQueue.get(owner) ?? 0
      if (queued >= MAX_QUEUED_STREAM_WRITES) continue
      this.streamQueue.set(owner, queued + 1)
      const indexes = manifest.chunks.flatMap((c, i) => c === cid ? [i] : [])
      partial.then(async p => { await p.write(indexes, bytes) }).catch(async err => {
        this.log.warn('writing a chunk into the model file failed; it will be assembled from the chunk files', { cid: owner, chunk: cid, err })
        if (this.partials.get(owner) === partial) await this.dropPartial(owner)
      }).catch(err => { this.log.debug('dropping a failed model file', { cid: owner, err }) }).finally(() => {
        const left = (this.streamQueue.get(owner) ?? 1) - 1
        if (left > 0) this.streamQueue.set(owner, left)
        else this.streamQueue.delete(owner)
      })
    }
  }

  private async dropPartial (cid: string): Promise<void> {
    const partial = this.partials.get(cid)
    this.partials.delete(cid)
    await (await partial?.catch(() => undefined))?.discard()
  }

  private async dropChunkFilesServedByModels (candidates: Iterable<string>): Promise<number> {
    let freed = 0
    for (const c of candidates) {
      if (!this.chunkFiles.has(c)) continue
      const servedByModel = [...(this.owners.get(c) ?? [])].some(o => this.complete.has(o))
      if (!servedByModel) continue
      freed += await removeFile(join(this.dirs.chunks, c))
      this.chunkFiles.delete(c)
    }
    return freed
  }

  private async collect (protect: ReadonlySet<string>): Promise<GcResult> {
    const entries = [...this.manifests.values()].map(v => ({ cid: v.cid, name: v.manifest.name, version: v.manifest.version, addedSeq: this.state.manifests[v.cid]?.addedSeq ?? 0 }))
    // Never remove what is being assembled right now.
    const doomed = planRetention(this.state, entries, this.keepVersions, new Set([...protect, ...this.assembling.keys()]))
    let bytesFreed = 0
    for (const cid of doomed) {
      const v = this.manifests.get(cid)!
      if (this.complete.has(cid)) {
        // Chunks another held, incomplete manifest still needs and can only get from this file.
        for (const [i, c] of v.manifest.chunks.entries()) {
          const others = [...(this.owners.get(c) ?? [])].filter(o => o !== cid && !doomed.has(o))
          if (others.length === 0 || this.chunkFiles.has(c) || others.some(o => this.complete.has(o))) continue
          const { offset, length } = chunkRange(v.manifest, i)
          const bytes = await readRange(this.modelFile(cid), offset, length)
          if (bytesMatchCid(c, bytes)) {
            await writeFileAtomic(join(this.dirs.chunks, c), bytes)
            this.chunkFiles.add(c)
          }
        }
      }
      // The envelope goes before anything else of the version: once it is gone a crash cannot
      // resurrect the version, and what is left are orphans the sweep below removes.
      bytesFreed += await removeFile(join(this.dirs.manifests, cid))
      this.unindex(cid)
      delete this.state.manifests[cid]
      const p = this.state.models[v.manifest.name]
      if (p != null) p.history = p.history.filter(c => c !== cid)
      this.log.info('model version removed', { cid, model: `${v.manifest.name}@${v.manifest.version}` })
    }
    for (const [name, p] of Object.entries(this.state.models)) {
      if (p.active == null && p.history.length === 0) delete this.state.models[name]
    }
    if (doomed.size > 0) await this.saveState()
    bytesFreed += await this.sweepOrphans()
    return { removed: [...doomed], bytesFreed }
  }

  /** Deletes files no held manifest accounts for, and chunk files a complete model serves. */
  private async sweepOrphans (): Promise<number> {
    let freed = 0
    for (const name of await readdir(this.dirs.manifests)) {
      if (!this.manifests.has(name) && !TMP_RE.test(name)) freed += await removeFile(join(this.dirs.manifests, name))
    }
    for (const name of await readdir(this.dirs.models)) {
      if (TMP_RE.test(name)) continue
      const cid = name.endsWith(MODEL_EXT) ? name.slice(0, -MODEL_EXT.length) : name
      if (!this.complete.has(cid) && !this.assembling.has(cid)) freed += await removeFile(join(this.dirs.models, name))
    }
    for (const name of await readdir(this.dirs.chunks)) {
      if (TMP_RE.test(name)) continue
      if (!this.owners.has(name)) {
        freed += await removeFile(join(this.dirs.chunks, name))
        this.chunkFiles.delete(name)
      }
    }
    if (!this.keepChunks) freed += await this.dropChunkFilesServedByModels([...this.chunkFiles])
    return freed
  }

  private async load (): Promise<void> {
    for (const dir of Object.values(this.dirs)) await mkdir(dir, { recursive: true })
    for (const dir of [this.root, ...Object.values(this.dirs)]) {
      for (const name of await readdir(dir)) {
        if (TMP_RE.test(name)) {
          await rm(join(dir, name), { force: true })
          this.log.info('removed a temp file left by an interrupted write', { file: join(dir, name) })
        }
      }
    }
    let state: StoreState | undefined
    try {
      state = parseState(await readFile(this.stateFile, 'utf8'))
      if (state == null) this.log.error('state.json is unreadable: active versions are forgotten', { file: this.stateFile })
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    this.state = state ?? emptyState()
    const fleet = this.fleet()
    for (const name of (await readdir(this.dirs.manifests)).sort()) {
      if (!isManifestCid(name)) continue
      const file = join(this.dirs.manifests, name)
      try {
        if ((await stat(file)).size > MAX_ENVELOPE_BYTES) throw new Error('too large')
        const v = await openEnvelope(new Uint8Array(await readFile(file)), fleet, { expectedCid: name })
        const ref = `${v.manifest.name}@${v.manifest.version}`
        if (this.byRef.has(ref)) throw new VersionConflictError(ref, this.byRef.get(ref)!, v.cid)
        this.index(v)
      } catch (err) {
        this.log.warn('stored manifest no longer verifies: ignored (gc removes it)', { cid: name, error: (err as Error).message })
      }
    }
    // Chunk files are written without fsync: a power loss can leave any number of them empty or
    // short, so they are counted in one line rather than logged one by one.
    let dropped = 0
    for (const name of await readdir(this.dirs.chunks)) {
      if (!this.owners.has(name)) continue
      this.chunkFiles.add(name)
      if (await this.readChunkFile(name, true) == null) dropped++
    }
    if (dropped > 0) this.log.warn('chunk files that no longer match their CID were deleted: they will be fetched again', { dropped, kept: this.chunkFiles.size })
    for (const name of await readdir(this.dirs.models)) {
      const cid = name.endsWith(MODEL_EXT) ? name.slice(0, -MODEL_EXT.length) : ''
      const v = this.manifests.get(cid)
      if (v == null) continue
      // Renamed into place only after the digest matched; a size check catches outside damage.
      if ((await stat(join(this.dirs.models, name))).size === v.manifest.size) this.complete.add(cid)
      else this.log.error('model file has the wrong size: ignored', { cid })
    }
    let changed = false
    for (const cid of Object.keys(this.state.manifests)) {
      if (!this.manifests.has(cid)) { delete this.state.manifests[cid]; changed = true }
    }
    for (const cid of this.manifests.keys()) {
      if (this.state.manifests[cid] == null) { this.state.manifests[cid] = { addedSeq: ++this.state.seq }; changed = true }
    }
    for (const p of Object.values(this.state.models)) {
      if (p.active != null && !this.manifests.has(p.active)) { delete p.active; delete p.activatedSeq; changed = true }
      const history = p.history.filter(c => this.manifests.has(c))
      if (history.length !== p.history.length) { p.history = history; changed = true }
    }
    if (changed) await this.saveState()
    this.log.debug('model store opened', { root: this.root, manifests: this.manifests.size, complete: this.complete.size, chunks: this.chunkFiles.size })
  }
}

async function removeFile (file: string): Promise<number> {
  try {
    const { size } = await stat(file)
    await rm(file, { force: true })
    return size
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0
    throw err
  }
}
