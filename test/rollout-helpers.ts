/** Shared set-up of the rollout tests: a mesh of real nodes with stores, packaged versions, signed policies. */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { pack } from '../node/models/pack.js'
import { linearClassifier } from '../node/inference/testing/models.js'
import { sealPolicy } from '../node/policy/document.js'
import { parseRolloutManifest } from '../node/rollouts/spec.js'
import type { PolicyControl, PolicyDocument } from '../node/policy/document.js'
import type { RolloutSpec } from '../node/rollouts/spec.js'
import type { TuttiNode } from '../node/tutti-node.js'
import type { LinearClassifierOptions } from '../node/inference/testing/models.js'
import type { PrivateKey } from '@libp2p/interface'

export const OPEN: PolicyControl = { paused: false, resumedThrough: -1, undo: false, deleted: false }

/** Packs one version of the `clf` classifier; returns its package dir. */
export async function packClassifier (dir: string, adminKey: PrivateKey, version: string, options: LinearClassifierOptions): Promise<string> {
  return await packModel(dir, adminKey, version, linearClassifier(options).bytes)
}

/** Packs any ONNX bytes as version `version` of `clf`; returns its package dir. */
export async function packModel (dir: string, adminKey: PrivateKey, version: string, bytes: Uint8Array, chunkBytes = 1024): Promise<string> {
  const file = join(dir, `clf-${version}.onnx`)
  await writeFile(file, bytes)
  const result = await pack(file, { name: 'clf', version, adminKey, outDir: join(dir, `pkg-${version}`), chunkBytes })
  return result.dir
}

/** A signed policy from a rollout manifest (YAML), with its model pinned to `cid`. */
export async function signedRollout (adminKey: PrivateKey, yaml: string, cid: string, version: number, control: PolicyControl = OPEN): Promise<{ name: string, envelope: Uint8Array, spec: RolloutSpec }> {
  const parsed = parseRolloutManifest(yaml)
  const spec: RolloutSpec = { ...parsed.spec, model: { ...parsed.spec.model, cid } }
  const doc: PolicyDocument<RolloutSpec> = { kind: 'RolloutPolicy', schema: 1, name: parsed.name, version, issuedAt: new Date().toISOString(), spec, control }
  return { name: parsed.name, envelope: await sealPolicy(doc, adminKey), spec }
}

/** The version of `clf` a node serves now (what requests without a version get), if any. */
export function servedVersion (node: TuttiNode): string | undefined {
  return node.serving.activeOf('clf')?.version
}

/** Every sample of every node's served version, taken every `everyMs` until stopped. */
export function sampleVersions (nodes: TuttiNode[], everyMs = 20): { samples: Array<Array<string | undefined>>, stop: () => void } {
  const samples: Array<Array<string | undefined>> = []
  const timer = setInterval(() => { samples.push(nodes.map(servedVersion)) }, everyMs)
  return { samples, stop: () => { clearInterval(timer) } }
}

export function rolloutYaml (name: string, version: string, body: string): string {
  return `apiVersion: tutti.dev/v1
kind: Rollout
metadata: { name: ${name} }
spec:
  model: { name: clf, version: ${version} }
${body}`
}
