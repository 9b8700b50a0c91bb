/**
 * Writing a model file from its chunks so that no reader ever sees a partial one: the bytes go to
 * a temp file beside the target, every chunk is checked against its CID and the whole file
 * against the manifest digest, the file is fsynced, renamed into place and the directory fsynced.
 * On any failure (or abort) the temp file is removed; a crash leaves it for the next open to remove.
 *
 * The file is written while the chunks arrive (`PartialModel.write`, called by the store as each
 * verified chunk comes in), not all at the end: each chunk goes to its offset (flushed every
 * FLUSH_EVERY_BYTES), and the whole-file digest advances over the chunks held from the start of
 * the file on. Finishing
 * then hashes only what the digest has not covered yet (read back from the file, which the page
 * cache still holds), fsyncs what little is unflushed and renames. Assembling a 20 MiB model used
 * to re-read and re-hash every chunk file twice, hash the file again and write and flush all of
 * it, in one burst right when the download ended.
 */
import { open, rename, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { fsyncDir, tempPathFor } from '../fs.js'
import { bytesMatchCid, fileHasher } from '../../core/cid.js'
import { chunkOffsets, chunkSizes } from './chunking.js'
import { ChunksMissingError, ChunkVerificationError, DigestMismatchError } from './errors.js'
import type { ModelManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'
import type { FileHandle } from 'node:fs/promises'

/** Bytes written to a model file between two datasyncs while its chunks arrive. */
export const FLUSH_EVERY_BYTES = 4 * 1024 * 1024

/** Where chunk `index` comes from: the store's chunk files, a package's model file... */
export type ChunkSource = (index: number, options: AbortOptions) => Promise<Uint8Array>

export interface WriteModelOptions extends AbortOptions {
  /** Called for each chunk, in order, as the assembly accounts for it; finishing waits for it. */
  onChunk?: (index: number) => void | Promise<void>
}

/** A model file being written under a temp name, chunk by chunk in any order. */
export class PartialModel {
  readonly manifest: ModelManifest
  readonly target: string
  private readonly tmp: string
  private readonly handle: FileHandle
  private readonly written: boolean[]
  private readonly offsets: number[]
  private readonly sizes: number[]
  private readonly whole = fileHasher()
  /** Bytes written since the last datasync. */
  private unflushed = 0
  /** Chunks [0, hashed) are in the whole-file digest. */
  private hashed = 0
  private chain: Promise<void> = Promise.resolve()
  private failure?: unknown
  private closed = false

  private constructor (manifest: ModelManifest, target: string, tmp: string, handle: FileHandle) {
    this.manifest = manifest
    this.target = target
    this.tmp = tmp
    this.handle = handle
    this.written = manifest.chunks.map(() => false)
    this.offsets = chunkOffsets(manifest)
    this.sizes = chunkSizes(manifest)
  }

  private range (index: number): { offset: number, length: number } {
    return { offset: this.offsets[index]!, length: this.sizes[index]! }
  }

  static async create (manifest: ModelManifest, target: string): Promise<PartialModel> {
    const tmp = tempPathFor(target)
    // Read back too: the digest covers chunks that arrived before the ones ahead of them.
    return new PartialModel(manifest, target, tmp, await open(tmp, 'wx+', 0o644))
  }

  /** Indexes not written yet. */
  missing (): number[] {
    return this.written.flatMap((w, i) => w ? [] : [i])
  }

  /**
   * Writes verified bytes at every index in `indexes` (a model may repeat a chunk). Writes run one
   * at a time, in call order; a failed write fails every later call and `finish`.
   */
  async write (indexes: number[], bytes: Uint8Array): Promise<void> {
    const run = this.chain.then(async () => {
      if (this.failure != null) throw this.failure
      if (this.closed) throw new Error('partial model closed')
      try {
        for (const i of indexes) {
          if (this.written[i] === true) continue
          const { offset, length } = this.range(i)
          if (length !== bytes.byteLength) throw new ChunkVerificationError(this.manifest.chunks[i]!, `chunk ${i} of ${this.manifest.name} is ${bytes.byteLength} bytes, expected ${length}`)
          for (let done = 0; done < length;) {
            const { bytesWritten } = await this.handle.write(bytes, done, length - done, offset + done)
            done += bytesWritten
          }
          this.written[i] = true
          this.unflushed += length
        }
        // Flushed every few MiB, so the final fsync has little left to write (a datasync per
        // 64 KiB chunk cost more CPU than the writes; the file is a temp file until finish).
        if (this.unflushed >= FLUSH_EVERY_BYTES) {
          this.unflushed = 0
          await this.handle.datasync()
        }
        await this.advance(indexes, bytes)
      } catch (err) {
        this.failure ??= err
        throw err
      }
    })
    this.chain = run.catch(() => undefined)
    await run
  }

  /**
   * Fills what is missing from `source` (each chunk checked against its CID), checks the size and
   * the whole-file digest, fsyncs and renames the file into place. On any failure the temp file is
   * removed and `target` is untouched.
   */
  async finish (source: ChunkSource | undefined, options: WriteModelOptions = {}): Promise<void> {
    try {
      await this.chain
      if (this.failure != null) throw this.failure
      for (let i = 0; i < this.written.length; i++) {
        options.signal?.throwIfAborted()
        if (this.written[i] !== true) {
          if (source == null) throw new ChunksMissingError(`${this.manifest.name}@${this.manifest.version}`, this.missing().length)
          const bytes = await source(i, { signal: options.signal })
          if (!bytesMatchCid(this.manifest.chunks[i]!, bytes)) throw new ChunkVerificationError(this.manifest.chunks[i]!)
          await this.write(this.manifest.chunks.flatMap((c, j) => c === this.manifest.chunks[i] ? [j] : []), bytes)
        }
        await options.onChunk?.(i)
      }
      await this.advance([], new Uint8Array(0))
      const digest = this.whole.cid()
      const { size } = await this.handle.stat()
      if (this.hashed !== this.written.length || size !== this.manifest.size || digest !== this.manifest.digest) {
        throw new DigestMismatchError(`assembled ${this.manifest.name}@${this.manifest.version} is ${size} bytes with digest ${digest}; the manifest says ${this.manifest.size} bytes, ${this.manifest.digest}`)
      }
      await this.handle.sync()
      await this.close()
      options.signal?.throwIfAborted()
      await rename(this.tmp, this.target)
      await fsyncDir(dirname(this.target))
    } catch (err) {
      await this.discard()
      throw err
    }
  }

  /** Closes and removes the temp file (idempotent). */
  async discard (): Promise<void> {
    await this.chain
    await this.close()
    await rm(this.tmp, { force: true })
  }

  private async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.handle.close()
  }

  /** Extends the digest over the chunks now held from `hashed` on; `bytes` are those of `indexes`. */
  private async advance (indexes: number[], bytes: Uint8Array): Promise<void> {
    while (this.hashed < this.written.length && this.written[this.hashed] === true) {
      const i = this.hashed
      if (indexes.includes(i)) {
        this.whole.update(bytes)
      } else {
        const { offset, length } = this.range(i)
        const buf = new Uint8Array(length)
        for (let done = 0; done < length;) {
          const { bytesRead } = await this.handle.read(buf, done, length - done, offset + done)
          if (bytesRead === 0) throw new DigestMismatchError(`${this.tmp} ends before byte ${offset + length}`)
          done += bytesRead
        }
        this.whole.update(buf)
      }
      this.hashed++
    }
  }
}

/**
 * Writes `manifest`'s model to `target` from `source` in one go. Throws ChunkVerificationError (a
 * chunk that does not match its CID) or DigestMismatchError; `target` is then untouched.
 */
export async function writeVerifiedModel (manifest: ModelManifest, target: string, source: ChunkSource, options: WriteModelOptions = {}): Promise<void> {
  const partial = await PartialModel.create(manifest, target)
  await partial.finish(source, options)
}
