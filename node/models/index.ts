/**
 * Model packaging and the on-device model store.
 *
 * - {@link pack} checks an ONNX file with onnxruntime, measures its IO signature, opset and a
 *   runnable sample input, chunks it, and writes a package directory with an admin-signed manifest.
 * - {@link readPackageDir} reads and verifies such a directory (what `tutti model push DIR` sends).
 * - {@link ModelStore} is a node's store: it implements {@link ChunkStore} for the chunk protocol
 *   and the fetcher, assembles verified model files, keeps the active and previous version of
 *   each model and garbage-collects the rest.
 * - {@link openEnvelope} verifies a manifest envelope from the network against the fleet admins.
 *
 * Importing this index loads onnxruntime-node (through `pack` and `toOrtFeeds`). Code that must
 * stay light (the chunk protocol, the simulator) imports `types.js`, `errors.js`, `cid.js`,
 * `manifest.js` or `store.js` directly: none of them loads onnxruntime.
 */
export type { ChunkStore, ModelManifest, TensorElementType, TensorSpec, VerifiedManifest } from './types.js'
export * from './constants.js'
export * from './errors.js'
export { bytesMatchCid, isManifestCid, isRawCid, manifestCid, rawCid } from '../../core/cid.js'
export {
  encodeManifest, isModelName, isModelVersion, openEnvelope, openEnvelopeAnySigner, sealManifest, validateManifest
} from './manifest.js'
export type { OpenEnvelopeOptions, SealedManifest } from './manifest.js'
export { chunkCids, estimateMemoryBytes, inspectModel, pack } from './pack.js'
export type { ModelFacts, PackOptions, PackResult } from './pack.js'
export { chunkRange, readPackageDir, verifyFileAgainstManifest } from './package-dir.js'
export type { PackageDir, ReadPackageOptions } from './package-dir.js'
export { generateSampleInput, sampleCandidates } from './sample.js'
export { toOrtFeeds, toOrtTensor } from './ort-feeds.js'
export type { SampleInput, SampleTensor } from './sample.js'
export { ModelStore } from './store.js'
export type { GcResult, ModelEntry, ModelStoreInit } from './store.js'
export { planRetention } from './store-state.js'
export type { RetentionEntry, StoreState } from './store-state.js'
