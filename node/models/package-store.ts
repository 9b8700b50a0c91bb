/**
 * A read-only ChunkStore over a package directory written by `pack`: what the CLI serves when it
 * pushes a model to a peer. Chunks are read from the package's model file and checked against
 * their CIDs on every read.
 */
import { ModelError, ModelErrorCode } from './errors.js'
import type { PackageDir } from './package-dir.js'
import type { ChunkStore, VerifiedManifest } from './types.js'
import type { AbortOptions } from '@libp2p/interface'

export class PackageChunkStore implements ChunkStore {
  private readonly pkg: PackageDir
  private readonly index = new Map<string, number>()
  /** Chunk bytes handed out, for progress. */
  bytesRead = 0

  constructor (pkg: PackageDir) {
    this.pkg = pkg
    pkg.manifest.chunks.forEach((cid, i) => {
      if (!this.index.has(cid)) this.index.set(cid, i)
    })
  }

  async getChunk (cid: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    const i = this.index.get(cid)
    if (i == null) return undefined
    const bytes = await this.pkg.readChunk(i, options)
    this.bytesRead += bytes.byteLength
    return bytes
  }

  async hasChunk (cid: string): Promise<boolean> {
    return this.index.has(cid)
  }

  async putChunk (): Promise<void> {
    throw new ModelError(ModelErrorCode.InvalidPackage, 'a package directory is read-only')
  }

  async getManifest (cid: string): Promise<VerifiedManifest | undefined> {
    return cid === this.pkg.cid ? this.pkg : undefined
  }

  async putManifest (): Promise<VerifiedManifest> {
    throw new ModelError(ModelErrorCode.InvalidPackage, 'a package directory is read-only')
  }
}
