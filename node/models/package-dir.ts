/** Reading a package directory written by `pack` (layout documented in pack.ts). */
import { open, readFile, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { bytesMatchCid, fileHasher } from '../../core/cid.js'
import { MAX_ENVELOPE_BYTES, PACKAGE_ENVELOPE_FILE, PACKAGE_MODEL_FILE } from './constants.js'
import { ChunkVerificationError, DigestMismatchError, InvalidPackageError, ManifestTooLargeError } from './errors.js'
import { openEnvelope, openEnvelopeAnySigner } from './manifest.js'
import { chunkOffsets, chunkRange, chunkSizes } from './chunking.js'
import type { FleetConfig } from '../fleet/fleet.js'
import type { ModelManifest, VerifiedManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

export interface PackageDir extends VerifiedManifest {
  dir: string
  /** Path of the model file. */
  modelFile: string
  /** Chunk `index` read from the model file and checked against its CID. */
  readChunk: (index: number, options?: AbortOptions) => Promise<Uint8Array>
}

export interface ReadPackageOptions extends AbortOptions {
  /** Check the signer is one of this fleet's admins. Without it any valid signature is accepted: check `signer` yourself. */
  fleet?: FleetConfig
  /** Hash the model file: every chunk against its CID and the whole file against the digest. @default true */
  verify?: boolean
}

export { chunkRange }

/**
 * Reads and verifies a package directory: the envelope's signature (and signer, given a fleet),
 * the model file's size and, unless `verify` is false, every chunk and the whole-file digest.
 * Throws InvalidPackageError, the envelope errors of `openEnvelope`, ChunkVerificationError or
 * DigestMismatchError.
 */
export async function readPackageDir (dir: string, options: ReadPackageOptions = {}): Promise<PackageDir> {
  const root = resolve(dir)
  const envelopeFile = join(root, PACKAGE_ENVELOPE_FILE)
  const modelFile = join(root, PACKAGE_MODEL_FILE)
  let envSize: number
  try {
    envSize = (await stat(envelopeFile)).size
  } catch (err) {
    throw new InvalidPackageError(`${root} is not a model package: no ${PACKAGE_ENVELOPE_FILE} (write one with pack)`, { cause: err })
  }
  if (envSize > MAX_ENVELOPE_BYTES) throw new ManifestTooLargeError(envSize, MAX_ENVELOPE_BYTES)
  const envelope = new Uint8Array(await readFile(envelopeFile, { signal: options.signal }))
  const verified = options.fleet != null
    ? await openEnvelope(envelope, options.fleet, options)
    : await openEnvelopeAnySigner(envelope, options)
  const { manifest } = verified
  let size: number
  try {
    size = (await stat(modelFile)).size
  } catch (err) {
    throw new InvalidPackageError(`${root} has no ${PACKAGE_MODEL_FILE}`, { cause: err })
  }
  if (size !== manifest.size) {
    throw new DigestMismatchError(`${modelFile} is ${size} bytes; the manifest says ${manifest.size}`)
  }
  const readChunk = async (index: number, opts: AbortOptions = {}): Promise<Uint8Array> => {
    const cid = manifest.chunks[index]
    if (cid == null) throw new RangeError(`chunk index ${index} out of range (0-${manifest.chunks.length - 1})`)
    opts.signal?.throwIfAborted()
    const { offset, length } = chunkRange(manifest, index)
    const bytes = await readRange(modelFile, offset, length)
    if (!bytesMatchCid(cid, bytes)) throw new ChunkVerificationError(cid, `${modelFile}: chunk ${index} does not match ${cid}`)
    return bytes
  }
  if (options.verify !== false) await verifyFileAgainstManifest(modelFile, manifest, options)
  return { ...verified, dir: root, modelFile, readChunk }
}

/** Reads `length` bytes at `offset` of `file`; throws if the file is shorter. */
export async function readRange (file: string, offset: number, length: number): Promise<Uint8Array> {
  const handle = await open(file, 'r')
  try {
    const buf = new Uint8Array(length)
    let done = 0
    while (done < length) {
      const { bytesRead } = await handle.read(buf, done, length - done, offset + done)
      if (bytesRead === 0) throw new DigestMismatchError(`${file} ends before byte ${offset + length}`)
      done += bytesRead
    }
    return buf
  } finally {
    await handle.close()
  }
}

/**
 * Hashes `file` chunk by chunk: each chunk must match its CID and the whole the digest. Throws
 * ChunkVerificationError or DigestMismatchError.
 */
export async function verifyFileAgainstManifest (file: string, manifest: ModelManifest, options: AbortOptions = {}): Promise<void> {
  const handle = await open(file, 'r')
  try {
    const whole = fileHasher()
    const sizes = chunkSizes(manifest)
    const offsets = chunkOffsets(manifest)
    const buf = new Uint8Array(Math.max(0, ...sizes))
    for (let i = 0; i < manifest.chunks.length; i++) {
      options.signal?.throwIfAborted()
      const offset = offsets[i]!
      const length = sizes[i]!
      const view = buf.subarray(0, length)
      let done = 0
      while (done < length) {
        const { bytesRead } = await handle.read(view, done, length - done, offset + done)
        if (bytesRead === 0) throw new DigestMismatchError(`${file} ends before byte ${offset + length}`)
        done += bytesRead
      }
      if (!bytesMatchCid(manifest.chunks[i]!, view)) throw new ChunkVerificationError(manifest.chunks[i]!, `${file}: chunk ${i} does not match ${manifest.chunks[i]!}`)
      whole.update(view)
    }
    const digest = whole.cid()
    if (digest !== manifest.digest) throw new DigestMismatchError(`${file} has digest ${digest}; the manifest says ${manifest.digest}`)
  } finally {
    await handle.close()
  }
}
