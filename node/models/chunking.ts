/**
 * Where each chunk of a model file lies, for both kinds of manifest (types.ts): fixed-size chunks
 * (schema 1) and content-defined chunks with their sizes listed (schema 2). And cutting a file
 * into content-defined chunks as it is read (core/cdc.ts), for `pack`.
 */
import { open } from 'node:fs/promises'
import { CdcChunker, FASTCDC_METHOD } from '../../core/cdc.js'
import { fileHasher, rawCid } from '../../core/cid.js'
import type { ManifestChunking, ModelManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

type Layout = Pick<ModelManifest, 'chunkBytes' | 'size' | 'chunks' | 'chunkSizes'>

/** The length of every chunk, in file order. */
export function chunkSizes (manifest: Layout): number[] {
  if (manifest.chunkSizes != null) return manifest.chunkSizes.slice()
  const n = manifest.chunks.length
  return manifest.chunks.map((_, i) => i < n - 1 ? manifest.chunkBytes : manifest.size - manifest.chunkBytes * (n - 1))
}

/** The offset of every chunk, in file order. */
export function chunkOffsets (manifest: Layout): number[] {
  let at = 0
  return chunkSizes(manifest).map(s => { const o = at; at += s; return o })
}

/** Byte range of chunk `index` (O(index) for listed sizes: callers that walk a file use chunkOffsets). */
export function chunkRange (manifest: Layout, index: number): { offset: number, length: number } {
  const sizes = manifest.chunkSizes
  if (sizes == null) {
    const offset = index * manifest.chunkBytes
    return { offset, length: Math.min(manifest.chunkBytes, manifest.size - offset) }
  }
  let offset = 0
  for (let i = 0; i < index; i++) offset += sizes[i]!
  return { offset, length: sizes[index]! }
}

/** The chunk list of a file cut by content: CIDs, sizes, and the whole file's digest. */
export interface FileChunks {
  chunks: string[]
  chunkSizes: number[]
  digest: string
  size: number
}

/** Bytes read from the file at a time. */
const READ_BYTES = 1024 * 1024

/**
 * Cuts a file into content-defined chunks as it reads it (at most about 2 x maxBytes + 1 MiB
 * held), hashing each chunk and the whole file.
 */
export async function chunkFileByContent (file: string, chunking: ManifestChunking, options: AbortOptions = {}): Promise<FileChunks> {
  if (chunking.method !== FASTCDC_METHOD) throw new RangeError(`unknown chunking method ${String(chunking.method)}`)
  const chunker = new CdcChunker(chunking)
  const whole = fileHasher()
  const out: FileChunks = { chunks: [], chunkSizes: [], digest: '', size: 0 }
  const take = (parts: Uint8Array[]): void => {
    for (const c of parts) {
      out.chunks.push(rawCid(c))
      out.chunkSizes.push(c.byteLength)
    }
  }
  const handle = await open(file, 'r')
  try {
    const buf = new Uint8Array(READ_BYTES)
    for (;;) {
      options.signal?.throwIfAborted()
      const { bytesRead } = await handle.read(buf, 0, buf.byteLength, null)
      if (bytesRead === 0) break
      const piece = buf.subarray(0, bytesRead)
      whole.update(piece)
      out.size += bytesRead
      take(chunker.push(piece))
    }
  } finally {
    await handle.close()
  }
  take(chunker.finish())
  out.digest = whole.cid()
  return out
}
