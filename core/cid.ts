/**
 * Content addresses of the model subsystem (multiformats). Chunks and whole files: CIDv1, raw
 * codec (0x55), sha2-256, base32 (`bafkrei...`). Manifests: CIDv1, json codec (0x0200), sha2-256,
 * base32 (`bagaaiera...`), over the canonical manifest bytes inside the envelope. A CID string is
 * accepted only in that canonical spelling, so one content has exactly one name.
 */
import { createHash } from 'node:crypto'
import { CID } from 'multiformats/cid'
import * as json from 'multiformats/codecs/json'
import * as raw from 'multiformats/codecs/raw'
import { create as createDigest } from 'multiformats/hashes/digest'
import type { Hash } from 'node:crypto'

const SHA2_256 = 0x12

/** CIDv1 (raw, sha2-256) of bytes: the address of a chunk or of a whole model file. */
export function rawCid (bytes: Uint8Array): string {
  return rawCidFromSha256(createHash('sha256').update(bytes).digest())
}

/** CIDv1 (raw, sha2-256) from a finished sha2-256 digest (for files hashed as a stream). */
export function rawCidFromSha256 (digest: Uint8Array): string {
  return CID.createV1(raw.code, createDigest(SHA2_256, digest)).toString()
}

/** CIDv1 (json, sha2-256) of canonical manifest bytes. */
export function manifestCid (manifestBytes: Uint8Array): string {
  const digest = createHash('sha256').update(manifestBytes).digest()
  return CID.createV1(json.code, createDigest(SHA2_256, digest)).toString()
}

/** A streaming sha2-256 for whole files; `cid()` gives the raw CID of everything fed so far. */
export function fileHasher (): { update: (bytes: Uint8Array) => void, cid: () => string } {
  const hash: Hash = createHash('sha256')
  return {
    update: bytes => { hash.update(bytes) },
    cid: () => rawCidFromSha256(hash.digest())
  }
}

function isCanonical (text: string, codec: number): boolean {
  if (text.length > 128) return false
  let cid: CID
  try {
    cid = CID.parse(text)
  } catch {
    return false
  }
  return cid.version === 1 && cid.code === codec && cid.multihash.code === SHA2_256 &&
    cid.multihash.size === 32 && cid.toString() === text
}

/** True when `text` is a canonical raw sha2-256 CIDv1 string: a possible chunk or file address. */
export function isRawCid (text: unknown): text is string {
  return typeof text === 'string' && isCanonical(text, raw.code)
}

/** True when `text` is a canonical json sha2-256 CIDv1 string: a possible manifest address. */
export function isManifestCid (text: unknown): text is string {
  return typeof text === 'string' && isCanonical(text, json.code)
}

/** True when `bytes` hash to the raw CID `cid`. */
export function bytesMatchCid (cid: string, bytes: Uint8Array): boolean {
  return rawCid(bytes) === cid
}
