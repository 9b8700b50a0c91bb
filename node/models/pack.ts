/**
 * `pack`: turns an ONNX file into a signed, chunked package directory.
 *
 * Package directory layout (what `readPackageDir` and `tutti model push DIR` read):
 *
 *   DIR/model.onnx          the model file, byte for byte; chunk i is bytes [i*chunkBytes, (i+1)*chunkBytes)
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
import {
  DEFAULT_CHUNK_BYTES, MANIFEST_SCHEMA, MAX_CHUNK_BYTES, MAX_CHUNKS, MAX_MODEL_LABELS, MEMORY_FILE_FACTOR,
  MEMORY_IO_FACTOR, MEMORY_RUNTIME_OVERHEAD_BYTES, MIN_CHUNK_BYTES, PACKAGE_ENVELOPE_FILE,
  PACKAGE_MANIFEST_JSON_FILE, PACKAGE_MODEL_FILE
} from './constants.js'
import { InvalidPackOptionsError, NotOnnxError } from './errors.js'
import { isModelName, isModelVersion, sealManifest } from './manifest.js'
import { findRunnableSample, loadOrtSession, readOnnxHeader, sessionSignature } from './onnx-inspect.js'
import type { Clock } from '../../core/clock.js'
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
  /** @default DEFAULT_CHUNK_BYTES (1 MiB) */
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

/** CIDs of the fixed-size chunks of `bytes`, in order. */
export function chunkCids (bytes: Uint8Array, chunkBytes: number): string[] {
  const cids: string[] = []
  for (let off = 0; off < bytes.byteLength; off += chunkBytes) {
    cids.push(rawCid(bytes.subarray(off, Math.min(off + chunkBytes, bytes.byteLength))))
  }
  return cids
}

function checkPackOptions (options: PackOptions): { chunkBytes: number, labels: Record<string, string> } {
  const fail = (why: string): never => { throw new InvalidPackOptionsError(why) }
  if (!isModelName(options.name)) fail(`model name ${JSON.stringify(options.name)} must be 1-64 letters, digits, ".", "_" or "-", starting and ending with a letter or digit`)
  if (!isModelVersion(options.version)) fail(`version ${JSON.stringify(options.version)} is not semver (e.g. 1.2.0)`)
  const chunkBytes = options.chunkBytes ?? DEFAULT_CHUNK_BYTES
  if (!Number.isSafeInteger(chunkBytes) || chunkBytes < MIN_CHUNK_BYTES || chunkBytes > MAX_CHUNK_BYTES) {
    fail(`chunkBytes must be an integer in [${MIN_CHUNK_BYTES}, ${MAX_CHUNK_BYTES}]`)
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
  return { chunkBytes, labels }
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
  const { chunkBytes, labels } = checkPackOptions(options)
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
  const manifest: ModelManifest = {
    kind: 'TuttiModel',
    schema: MANIFEST_SCHEMA,
    name: options.name,
    version: options.version,
    labels,
    size: bytes.byteLength,
    chunkBytes,
    chunks: chunkCids(bytes, chunkBytes),
    digest: rawCid(bytes),
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

