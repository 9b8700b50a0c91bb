/**
 * Writing a model file from its chunks so that no reader ever sees a partial one: the bytes go to
 * a temp file beside the target, every chunk is checked against its CID and the whole file
 * against the manifest digest, the file is fsynced, renamed into place and the directory fsynced.
 * On any failure (or abort) the temp file is removed; a crash leaves it for the next open to remove.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { fsyncDir } from '../fs.js'
import { bytesMatchCid, fileHasher } from '../../core/cid.js'
import { ChunkVerificationError, DigestMismatchError } from './errors.js'
import type { ModelManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

/** Where chunk `index` comes from: the store's chunk files, a package's model file... */
export type ChunkSource = (index: number, options: AbortOptions) => Promise<Uint8Array>

export interface WriteModelOptions extends AbortOptions {
  /** Called after each chunk is written; writing waits for it. */
  onChunk?: (index: number) => void | Promise<void>
}

/** The name a temp file of `target` gets: `.NAME.RANDOM.tmp`, as writeFileAtomic names them. */
export function tempNameFor (target: string): string {
  return join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`)
}

/**
 * Writes `manifest`'s model to `target` from `source`. Throws ChunkVerificationError (a chunk
 * that does not match its CID) or DigestMismatchError; `target` is then untouched.
 */
export async function writeVerifiedModel (manifest: ModelManifest, target: string, source: ChunkSource, options: WriteModelOptions = {}): Promise<void> {
  const tmp = tempNameFor(target)
  const handle = await open(tmp, 'wx', 0o644)
  let closed = false
  try {
    const whole = fileHasher()
    let written = 0
    for (let i = 0; i < manifest.chunks.length; i++) {
      options.signal?.throwIfAborted()
      const bytes = await source(i, { signal: options.signal })
      if (!bytesMatchCid(manifest.chunks[i]!, bytes)) throw new ChunkVerificationError(manifest.chunks[i]!)
      for (let done = 0; done < bytes.byteLength;) {
        const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, written + done)
        done += bytesWritten
      }
      written += bytes.byteLength
      whole.update(bytes)
      await options.onChunk?.(i)
    }
    const digest = whole.cid()
    if (written !== manifest.size || digest !== manifest.digest) {
      throw new DigestMismatchError(`assembled ${manifest.name}@${manifest.version} is ${written} bytes with digest ${digest}; the manifest says ${manifest.size} bytes, ${manifest.digest}`)
    }
    await handle.sync()
    await handle.close()
    closed = true
    options.signal?.throwIfAborted()
    await rename(tmp, target)
    await fsyncDir(dirname(target))
  } catch (err) {
    if (!closed) await handle.close()
    await rm(tmp, { force: true })
    throw err
  }
}
