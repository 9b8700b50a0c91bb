/**
 * `pack`: turns an ONNX file into a signed, chunked package directory.
 *
 * Package directory layout (what `readPackageDir` and `tutti model push DIR` read):
 *
 *   DIR/model.onnx          the model file, byte for byte; chunk i is bytes [offset_i, offset_i + size_i):
 *                           content-defined chunks (schema 2, the default) list their sizes in the manifest,
 *                           fixed-size ones (schema 1) are [i*chunkBytes, (i+1)*chunkBytes)
 *   DIR/manifest.json       the manifest, pretty-printed for people; informational, never trusted
 *   DIR/manifest.envelope   the signed envelope (core/envelope.ts, 'tutti/model-manifest/1'), written last: its
 *                           presence marks a complete package
 *
 * Chunks are not written as separate files: they are slices of model.onnx, addressed by the CIDs
 * in the manifest, so a package takes the model's size once.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { checkKeyValue } from '../../protocols/heartbeat/heartbeat.js'
import { isoTime, systemClock } from '../../core/clock.js'
import { pathExists, writeFileAtomic } from '../fs.js'
import { rawCid } from '../../core/cid.js'
import { cdcParamsFor, chunkLengths, FASTCDC_METHOD } from '../../core/cdc.js'
import {
  DEFAULT_CDC_AVG_BYTES, DEFAULT_CHUNK_BYTES, MANIFEST_SCHEMA, MANIFEST_SCHEMA_FIXED, MAX_CDC_PACK_AVG_BYTES, MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_MODEL_LABELS, MEMORY_FILE_FACTOR,
  MEMORY_IO_FACTOR, MEMORY_RUNTIME_OVERHEAD_BYTES, MIN_CDC_PACK_AVG_BYTES, MIN_CHUNK_BYTES, PACKAGE_ENVELOPE_FILE,
  PACKAGE_MANIFEST_JSON_FILE, PACKAGE_MODEL_FILE
} from './constants.js'
import { InvalidPackOptionsError, NotOnnxError } from './errors.js'
import { isModelName, isModelVersion, sealManifest } from './manifest.js'
import { findRunnableSample, loadOrtSession, readOnnxHeader, sessionSignature } from './onnx-inspect.js'
import type { Clock } from '../../core/clock.js'
import type { CdcParams } from '../../core/cdc.js'
import type { OnnxHeader } from './onnx-inspect.js'
import type { SampleInput } from './sample.js'
import type { ModelManifest, TensorSpec } from './types.js'
import type { AbortOptions, PrivateKey } from '@libp2p/interface'

export interface PackOptions extends AbortOptions {
  /** Model name: 1-64 letters, digits, '.', '_', '-'. */
  name: string
  /** Semver of the model, e.g. '1.2.0'. */
  version: string
  /** @default {} */
  labels?: Record<string, string>
  /** The admin's Ed25519 key: signs the manifest. */
  adminKey: PrivateKey
  /**
   * How the file is cut: 'cdc' content-defined chunks (FastCDC, core/cdc.ts; manifest schema 2),
   * so a later version shares its unchanged bytes' chunks; 'fixed' equal chunks (schema 1, what
   * nodes that predate schema 2 read).
   * @default 'cdc'
   */
  chunking?: PackChunking
  /**
   * 'cdc': the average chunk size, a power of two in [1 KiB, 4 MiB] (min = avg / 4, max = avg * 4);
   * 'fixed': the chunk size.
   * @default 'cdc': DEFAULT_CDC_AVG_BYTES (64 KiB), doubled until the file makes at most
   * MAX_CHUNKS / 2 average chunks; 'fixed': DEFAULT_CHUNK_BYTES (1 MiB)
   */
  chunkBytes?: number
  /** The package directory to write (created if missing). */
  outDir: string
  /** Replace a package already in `outDir`. @default false */
  force?: boolean
  /** Use this sample input instead of generating one (it must run on the model). */
  sampleInput?: SampleInput
  /** Sizes for named symbolic dimensions when generating the sample, e.g. { sequence: 512 }. */
  dimHints?: Record<string, number>
  /** Stamps `createdAt`. @default systemClock */
  clock?: Pick<Clock, 'now'>
}

export type PackChunking = 'cdc' | 'fixed'

export interface PackResult {
  /** The manifest CID. */
  cid: string
  manifest: ModelManifest
  envelope: Uint8Array
  /** Peer id of the signer. */
  signer: string
  dir: string
  files: { envelope: string, manifestJson: string, model: string }
  /** Header facts not in the manifest (every imported opset, IR version, producer). */
  header: OnnxHeader
}

/** The memory estimate heuristic documented at MEMORY_FILE_FACTOR in constants.ts. */
export function estimateMemoryBytes (fileBytes: number, ioBytes: number): number {
  return Math.ceil(fileBytes * MEMORY_FILE_FACTOR + ioBytes * MEMORY_IO_FACTOR + MEMORY_RUNTIME_OVERHEAD_BYTES)
}

/**
 * The schema-2 fields of `bytes` cut by content. pack holds the whole file anyway (onnxruntime
 * loads it), so it cuts what it read: the bytes checked, cut and written are the same.
 * (`chunkFileByContent` in chunking.ts cuts a file as it streams, for files not held.)
 */
function cdcLayout (bytes: Uint8Array, params: CdcParams): Pick<ModelManifest, 'schema' | 'chunking' | 'chunks' | 'chunkSizes' | 'digest'> {
  const chunking = { method: FASTCDC_METHOD, ...params } as const
  const chunkSizes = chunkLengths(bytes, params)
  if (chunkSizes.length > MAX_CHUNKS) {
    throw new InvalidPackOptionsError(`the file makes ${chunkSizes.length} chunks of ${params.avgBytes} bytes on average, more than ${MAX_CHUNKS}; use a larger average chunk size`)
  }
  const chunks: string[] = []
  let at = 0
  for (const len of chunkSizes) {
    chunks.push(rawCid(bytes.subarray(at, at + len)))
    at += len
  }
  return { schema: MANIFEST_SCHEMA, chunking, chunks, chunkSizes, digest: rawCid(bytes) }
}

/** CIDs of the fixed-size chunks of `bytes`, in order. */
export function chunkCids (bytes: Uint8Array, chunkBytes: number): string[] {
  const cids: string[] = []
  for (let off = 0; off < bytes.byteLength; off += chunkBytes) {
    cids.push(rawCid(bytes.subarray(off, Math.min(off + chunkBytes, bytes.byteLength))))
  }
  return cids
}

interface CheckedPackOptions {
  chunking: PackChunking
  /** Undefined: the default for the file's size. */
  chunkBytes?: number
  labels: Record<string, string>
}

function checkPackOptions (options: PackOptions): CheckedPackOptions {
  const fail = (why: string): never => { throw new InvalidPackOptionsError(why) }
  if (!isModelName(options.name)) fail(`model name ${JSON.stringify(options.name)} must be 1-64 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`)
  if (!isModelVersion(options.version)) fail(`version ${JSON.stringify(options.version)} is not semver (e.g. 1.2.0)`)
  const chunking = options.chunking ?? 'cdc'
  if (chunking !== 'cdc' && chunking !== 'fixed') fail(`chunking must be "cdc" or "fixed", not ${JSON.stringify(chunking)}`)
  const chunkBytes = options.chunkBytes
  if (chunkBytes != null) {
    if (chunking === 'fixed' && (!Number.isSafeInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES)) {
      fail(`chunkBytes must be an integer in [${MIN_CHUNK_BYTES}, ${MAX_CHUNK_BYTES}]`)
    }
    if (chunking === 'cdc' && (!Number.isSafeInteger(chunkBytes) || chunkBytes < MIN_CDC_PACK_AVG_BYTES || chunkBytes > MAX_CDC_PACK_AVG_BYTES || (chunkBytes & (chunkBytes - 1)) !== 0)) {
      fail(`the average chunk size of content-defined chunks must be a power of two in [${MIN_CDC_PACK_AVG_BYTES}, ${MAX_CDC_PACK_AVG_BYTES}]`)
    }
  }
  const labels = { ...(options.labels ?? {}) }
  if (Object.keys(labels).length > MAX_MODEL_LABELS) fail(`at most ${MAX_MODEL_LABELS} labels`)
  for (const [k, v] of Object.entries(labels)) {
    const problem = typeof v === 'string' ? checkKeyValue(k, v) : `label ${k} must be a string`
    if (problem != null) fail(`label ${problem}`)
  }
  if (options.adminKey?.type !== 'Ed25519') fail('adminKey must be an Ed25519 private key')
  for (const [dim, size] of Object.entries(options.dimHints ?? {})) {
    if (!Number.isSafeInteger(size) || size < 0) fail(`dimHints.${dim} must be a non-negative integer`)
  }
  return { chunking, chunkBytes, labels }
}

/**
 * The average content-defined chunk size for a file of `size` bytes: DEFAULT_CDC_AVG_BYTES,
 * doubled while the file would make more than MAX_CHUNKS / 2 average chunks (the actual count
 * varies; the margin keeps it under MAX_CHUNKS).
 */
export function defaultCdcAvgBytes (size: number): number {
  let avg = DEFAULT_CDC_AVG_BYTES
  while (avg < MAX_CDC_PACK_AVG_BYTES && size / avg > MAX_CHUNKS / 2) avg *= 2
  return avg
}

/** The facts `pack` measures about an ONNX file, with onnxruntime. */
export interface ModelFacts {
  header: OnnxHeader
  inputs: TensorSpec[]
  outputs: TensorSpec[]
  sampleInput: SampleInput
  /** Bytes of one sample run's inputs and outputs. */
  ioBytes: number
}

/**
 * Loads `bytes` in onnxruntime, reads its IO signature and opset, and finds a sample input that
 * runs. Throws NotOnnxError, OnnxTruncatedError, UnsupportedOpsetError, UnsupportedModelError or
 * SampleInputError.
 */
export async function inspectModel (bytes: Uint8Array, options: { source?: string, sampleInput?: SampleInput, dimHints?: Record<string, number> } = {}): Promise<ModelFacts> {
  const source = options.source ?? 'model'
  const header = readOnnxHeader(bytes, source)
  const session = await loadOrtSession(bytes, header, source)
  try {
    const { inputs, outputs } = sessionSignature(session)
    const run = await findRunnableSample(session, inputs, options)
    return { header, inputs, outputs, sampleInput: run.sample, ioBytes: run.ioBytes }
  } finally {
    await session.release()
  }
}

/**
 * Checks the file with onnxruntime, records its IO signature, opset and size, verifies a sample
 * input runs, splits it into CID-addressed chunks, and writes a package directory with the
 * manifest signed by `adminKey`. Changes nothing on disk unless all of that succeeds.
 */
export async function pack (file: string, options: PackOptions): Promise<PackResult> {
  const { chunking, chunkBytes: chosenBytes, labels } = checkPackOptions(options)
  const source = resolve(file)
  const dir = resolve(options.outDir)
  let info
  try {
    info = await stat(source)
  } catch (err) {
    throw new InvalidPackOptionsError(`cannot read ${source}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, { cause: err })
  }
  if (!info.isFile()) throw new InvalidPackOptionsError(`${source} is not a file`)
  if (info.size === 0) throw new NotOnnxError(`${source} is empty`)
  const cdc = chunking === 'cdc' ? cdcParamsFor(chosenBytes ?? defaultCdcAvgBytes(info.size)) : undefined
  const chunkBytes = cdc?.maxBytes ?? chosenBytes ?? DEFAULT_CHUNK_BYTES
  if (info.size > chunkBytes * MAX_CHUNKS) {
    throw new InvalidPackOptionsError(`${source} is ${info.size} bytes: more than ${MAX_CHUNKS} chunks of ${chunkBytes}; use larger chunks (at most ${MAX_CHUNK_BYTES})`)
  }
  if (options.force !== true && await pathExists(join(dir, PACKAGE_ENVELOPE_FILE))) {
    throw new InvalidPackOptionsError(`${dir} already holds a package; refusing to overwrite it (use force)`)
  }
  options.signal?.throwIfAborted()
  const bytes = new Uint8Array(await readFile(source, { signal: options.signal }))
  const facts = await inspectModel(bytes, { source, sampleInput: options.sampleInput, dimHints: options.dimHints })
  options.signal?.throwIfAborted()
  const layout = cdc == null
    ? { schema: MANIFEST_SCHEMA_FIXED, chunks: chunkCids(bytes, chunkBytes), digest: rawCid(bytes) }
    : cdcLayout(bytes, cdc)
  const manifest: ModelManifest = {
    kind: 'TuttiModel',
    name: options.name,
    version: options.version,
    labels,
    size: bytes.byteLength,
    chunkBytes,
    ...layout,
    opset: facts.header.opset,
    inputs: facts.inputs,
    outputs: facts.outputs,
    sampleInput: facts.sampleInput,
    memoryEstimateBytes: estimateMemoryBytes(bytes.byteLength, facts.ioBytes),
    createdAt: isoTime((options.clock ?? systemClock).now())
  }
  const sealed = await sealManifest(manifest, options.adminKey, options)
  options.signal?.throwIfAborted()

  await mkdir(dir, { recursive: true })
  const files = {
    envelope: join(dir, PACKAGE_ENVELOPE_FILE),
    manifestJson: join(dir, PACKAGE_MANIFEST_JSON_FILE),
    model: join(dir, PACKAGE_MODEL_FILE)
  }
  // The envelope goes last and marks the package complete; a replaced package loses it first.
  await rm(files.envelope, { force: true })
  await writeFileAtomic(files.model, bytes)
  await writeFileAtomic(files.manifestJson, JSON.stringify({ cid: sealed.cid, signer: sealed.signer, manifest }, null, 2) + '\n')
  await writeFileAtomic(files.envelope, sealed.envelope)
  return { cid: sealed.cid, manifest, envelope: sealed.envelope, signer: sealed.signer, dir, files, header: facts.header }
}

