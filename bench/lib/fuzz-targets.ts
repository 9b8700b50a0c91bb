/**
 * Every decoder and parser of untrusted input, as fuzz targets shared by the test suite
 * (test/fuzz.test.ts, a few thousand inputs each) and the bench (bench/fuzz.ts, 10^6 and more).
 *
 * A target runs the production entry point on one input exactly as the node does with bytes from
 * the network, a file or a request. Its outcome is fine when it returns or throws a typed error
 * (a TuttiError with a code, or for raw protobuf decoding the decoder's own errors, which every
 * caller maps to a typed refusal); a crash is any other exception. Inputs mix random data with
 * mutations of a valid encoding, so the fuzzer gets past the first checks.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import fc from 'fast-check'
import { TuttiError } from '../../core/errors.js'
import { openEnvelope, sealEnvelope } from '../../core/envelope.js'
import { parseOipBody } from '../../node/inference/oip.js'
import { openPolicy, sealPolicy, validatePolicyDocument } from '../../node/policy/document.js'
import { parseRolloutManifest, validateRolloutSpec } from '../../node/rollouts/spec.js'
import { parseJsonObject } from '../../protocols/admin/admin.js'
import { AdminRequest, AdminResponse } from '../../protocols/admin/pb/admin.js'
import { decodeBitfield } from '../../protocols/chunks/bitfield.js'
import { MAX_CHUNKS_PER_REQUEST, MAX_MANIFEST_CHUNKS } from '../../protocols/chunks/constants.js'
import { ChunkRequest, ChunkResponse } from '../../protocols/chunks/pb/chunks.js'
import { MAX_HEARTBEAT_BYTES, decodeHeartbeat, encodeHeartbeat } from '../../protocols/heartbeat/index.js'
import { createTestFleet } from '../../sim/local-mesh.js'
import type { FleetConfig } from '../../node/fleet/fleet.js'
import type { PolicyDocument } from '../../node/policy/document.js'

export interface FuzzTarget {
  name: string
  /** Inputs: random and mutated valid ones. */
  inputs: fc.Arbitrary<unknown>
  /** Runs the production entry point on one input. */
  run: (input: unknown) => unknown
}

/** Errors protons' generated decoders throw on malformed bytes; every caller maps them to a refusal. */
const DECODE_ERROR_NAMES = new Set(['RangeError', 'MaxLengthError', 'MaxSizeError', 'ProtocolError', 'InvalidParametersError'])

/** Whether `err` is an expected, typed rejection of bad input (anything else is a crash). */
export function isTypedRejection (err: unknown): boolean {
  if (err instanceof TuttiError) return typeof err.code === 'string' && err.code !== ''
  return false
}

/**
 * What a protobuf decoder throws on malformed bytes: its named errors, or a plain Error ("invalid
 * wire type"). A TypeError or any other built-in error is a bug, so a crash.
 */
function isDecodeError (err: unknown): boolean {
  return isTypedRejection(err) || (err instanceof Error && (Object.getPrototypeOf(err) === Error.prototype || DECODE_ERROR_NAMES.has(err.name)))
}

/** Wraps a protobuf decoder the way its callers do (server refusals, client ChunkProtocolError). */
class DecodeRejected extends TuttiError {
  constructor (cause: unknown) {
    super('ERR_DECODE', `does not decode: ${(cause as Error).message}`, { cause })
  }
}

function decoding<T> (decode: () => T): T {
  try {
    return decode()
  } catch (err) {
    if (isDecodeError(err)) throw new DecodeRejected(err)
    throw err
  }
}

/** Random bytes, `valid` itself, and `valid` with bytes flipped, inserted, deleted or cut. */
export function mutatedBytes (valid: Uint8Array[], maxLength = 4096): fc.Arbitrary<Uint8Array> {
  const mutation = fc.record({
    base: fc.constantFrom(...valid),
    edits: fc.array(fc.tuple(fc.constantFrom('flip', 'set', 'insert', 'delete', 'cut'), fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 })
  }).map(({ base, edits }) => {
    let bytes = Array.from(base)
    for (const [kind, at, value] of edits) {
      const i = bytes.length === 0 ? 0 : at % bytes.length
      switch (kind) {
        case 'flip': if (bytes.length > 0) bytes[i] = bytes[i]! ^ (1 << (value & 7)); break
        case 'set': if (bytes.length > 0) bytes[i] = value; break
        case 'insert': bytes.splice(i, 0, value); break
        case 'delete': bytes.splice(i, 1); break
        case 'cut': bytes = bytes.slice(0, i); break
      }
    }
    return Uint8Array.from(bytes)
  })
  return fc.oneof(fc.uint8Array({ maxLength }), fc.constantFrom(...valid), mutation, mutation, mutation)
}

/** Random strings and JSON, `valid` itself, and `valid` texts with characters changed, inserted or cut. */
export function mutatedText (valid: string[], maxLength = 4096): fc.Arbitrary<string> {
  const mutation = fc.record({
    base: fc.constantFrom(...valid),
    edits: fc.array(fc.tuple(fc.constantFrom('set', 'insert', 'delete', 'cut', 'dup'), fc.nat(), fc.string({ minLength: 1, maxLength: 4, unit: 'binary' })), { minLength: 1, maxLength: 6 })
  }).map(({ base, edits }) => {
    let text = base
    for (const [kind, at, piece] of edits) {
      const i = text.length === 0 ? 0 : at % text.length
      switch (kind) {
        case 'set': text = text.slice(0, i) + piece + text.slice(i + piece.length); break
        case 'insert': text = text.slice(0, i) + piece + text.slice(i); break
        case 'delete': text = text.slice(0, i) + text.slice(i + piece.length); break
        case 'cut': text = text.slice(0, i); break
        case 'dup': text = text.slice(0, i) + text.slice(i, i + 40).repeat(1 + (piece.charCodeAt(0) % 4)) + text.slice(i); break
      }
    }
    return text
  })
  return fc.oneof(fc.string({ maxLength, unit: 'binary' }), fc.json({ maxDepth: 4 }), fc.constantFrom(...valid), mutation, mutation, mutation)
}

const CID = 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q'

const ROLLOUT_YAML = `apiVersion: tutti.dev/v1
kind: Rollout
metadata:
  name: face-v2
spec:
  model:
    name: face
    version: 2.0.0
    cid: ${CID}
  selector:
    matchLabels: { class: camera }
    matchExpressions:
      - { key: battery, operator: Gt, values: ["50"] }
  resources:
    limits: { cpu: 500m, memory: 256Mi }
  strategy:
    steps:
      - setPercent: 5
      - pause: 10m
      - setPercent: 100
    activationTimeout: 5m
    abort:
      - { failureType: FAILED, thresholdPercentage: 10, minNodes: 5 }
      - { metric: p95LatencyMs, max: 250, minNodes: 3, minRequests: 50 }
    rollback: manual
`

function policyDoc (): PolicyDocument {
  return {
    kind: 'RolloutPolicy',
    schema: 1,
    name: 'face-v2',
    version: 1_764_620_000_000,
    issuedAt: '2026-12-01T20:00:00.000Z',
    spec: parseRolloutManifest(ROLLOUT_YAML).spec,
    control: { paused: false, resumedThrough: -1, undo: false, deleted: false }
  }
}

const OIP_BODIES = [
  '{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[1,2,3,4.5]}],"outputs":[{"name":"y"}]}',
  '{"inputs":[{"name":"a","shape":[3],"datatype":"INT64","data":[1,2,3]},{"name":"s","shape":[1],"datatype":"BYTES","data":["hi"]}]}',
  '{"inputs":[{"name":"b","shape":[1,2],"datatype":"BOOL","data":[[true,false]]},{"name":"u","shape":[2],"datatype":"UINT8","data":[0,255]}]}'
]

const encoder = new TextEncoder()

/** Builds the targets; signs valid envelopes and policies with fresh keys of a test fleet. */
export async function fuzzTargets (): Promise<FuzzTarget[]> {
  const { fleet, adminKey } = await createTestFleet('fuzz') as { fleet: FleetConfig, adminKey: Awaited<ReturnType<typeof generateKeyPair>> }
  const receivedMs = 1_764_620_000_000
  const heartbeats = [
    encodeHeartbeat({ bootMs: receivedMs - 60_000, seq: 7, sentMs: receivedMs, intervalMs: 5000, nodeVersion: '0.1.0', uptimeMs: 60_000, labels: { zone: 'lab', class: 'camera' }, props: { cpus: '4', battery: '80' }, fleetSize: 3 }),
    encodeHeartbeat({
      bootMs: receivedMs - 1000, seq: 1, sentMs: receivedMs, intervalMs: 5000, nodeVersion: '0.1.0', uptimeMs: 1000, labels: {}, props: {}, fleetSize: 1,
      models: [{ name: 'face', version: '2.0.0', cid: CID, state: 'active' }],
      rollouts: [{ name: 'face-v2', policyVersion: 3, state: 'Failed', reason: 'smoke test failed', epoch: 2 }]
    })
  ]
  const chunkRequests = [
    ChunkRequest.encode({ version: 1, kind: ChunkRequest.Kind.CHUNKS, manifestCid: CID, chunkCids: [CID, CID], have: new Uint8Array(), want: new Uint8Array() }),
    ChunkRequest.encode({ version: 1, kind: ChunkRequest.Kind.WATCH, manifestCid: CID, chunkCids: [], have: Uint8Array.of(0xff, 0x03), want: Uint8Array.of(1) })
  ]
  const chunkResponses = [
    ChunkResponse.encode({ errorCode: '', errorMessage: '', chunkCount: 10, bitfield: Uint8Array.of(0xff, 0x03), complete: true, envelope: new Uint8Array(), index: 0, offset: 0, total: 0, data: new Uint8Array(), missing: false }),
    ChunkResponse.encode({ errorCode: '', errorMessage: '', chunkCount: 0, bitfield: new Uint8Array(), complete: false, envelope: new Uint8Array(), index: 1, offset: 4096, total: 8192, data: new Uint8Array(64).fill(7), missing: false })
  ]
  const adminRequests = [
    AdminRequest.encode({ version: 1, method: 'models.push', params: encoder.encode('{"envelope":"AAAA"}') }),
    AdminRequest.encode({ version: 1, method: 'nodes.list', params: new Uint8Array() })
  ]
  const adminResponses = [
    AdminResponse.encode({ ok: true, errorCode: '', errorMessage: '', result: encoder.encode('{"nodes":[]}') }),
    AdminResponse.encode({ ok: false, errorCode: 'ERR_NOT_FOUND', errorMessage: 'no such model', result: new Uint8Array() })
  ]
  const signer = await generateKeyPair('Ed25519')
  const envelopes = [
    await sealEnvelope(signer, 'tutti/model-manifest/1', encoder.encode('{"name":"face","version":"2.0.0"}')),
    await sealEnvelope(signer, 'tutti/model-manifest/1', new Uint8Array())
  ]
  const policies = [await sealPolicy(policyDoc(), adminKey)]

  return [
    {
      name: 'heartbeat',
      inputs: mutatedBytes(heartbeats),
      run: bytes => decodeHeartbeat(bytes as Uint8Array, MAX_HEARTBEAT_BYTES, { receivedMs })
    },
    {
      name: 'chunk-request',
      inputs: mutatedBytes(chunkRequests),
      run: bytes => decoding(() => ChunkRequest.decode(bytes as Uint8Array, { limits: { chunkCids: MAX_CHUNKS_PER_REQUEST } }))
    },
    {
      name: 'chunk-response',
      inputs: mutatedBytes(chunkResponses),
      run: bytes => {
        const res = decoding(() => ChunkResponse.decode(bytes as Uint8Array))
        if (res.chunkCount <= MAX_MANIFEST_CHUNKS) decodeBitfield(res.bitfield, res.chunkCount)
      }
    },
    {
      name: 'admin-request',
      inputs: mutatedBytes(adminRequests),
      run: bytes => {
        const req = decoding(() => AdminRequest.decode(bytes as Uint8Array))
        return parseJsonObject(req.params, 'params')
      }
    },
    {
      name: 'admin-response',
      inputs: mutatedBytes(adminResponses),
      run: bytes => {
        const res = decoding(() => AdminResponse.decode(bytes as Uint8Array))
        return parseJsonObject(res.result, 'result')
      }
    },
    {
      name: 'envelope',
      inputs: mutatedBytes(envelopes),
      run: async bytes => await openEnvelope(bytes as Uint8Array, { maxBytes: 1024 * 1024, payloadType: 'tutti/model-manifest/1' })
    },
    {
      name: 'policy-envelope',
      inputs: mutatedBytes(policies, 8192),
      run: async bytes => await openPolicy(bytes as Uint8Array, fleet, validateRolloutSpec)
    },
    {
      name: 'policy-document',
      inputs: mutatedText([JSON.stringify(policyDoc())]).map(text => { try { return JSON.parse(text) as unknown } catch { return text } }),
      run: value => validatePolicyDocument(value, validateRolloutSpec)
    },
    {
      name: 'rollout-yaml',
      inputs: mutatedText([ROLLOUT_YAML]),
      run: text => parseRolloutManifest(text as string)
    },
    {
      name: 'oip-json',
      inputs: mutatedText(OIP_BODIES).map(text => encoder.encode(text)),
      run: bytes => parseOipBody(bytes as Uint8Array)
    }
  ]
}

export interface FuzzOutcome {
  ok: number
  rejected: number
  crashes: number
  /** The first crash: its input (as JSON-ish text) and error. */
  firstCrash?: { input: string, error: string }
}

/** Runs one input; counts it. */
export async function runOne (target: FuzzTarget, input: unknown, outcome: FuzzOutcome): Promise<void> {
  try {
    await target.run(input)
    outcome.ok++
  } catch (err) {
    if (isTypedRejection(err)) {
      outcome.rejected++
      return
    }
    outcome.crashes++
    outcome.firstCrash ??= { input: describeInput(input), error: err instanceof Error ? `${err.name}: ${err.message}\n${err.stack ?? ''}` : String(err) }
  }
}

function describeInput (input: unknown): string {
  if (input instanceof Uint8Array) return `bytes(${input.byteLength}) ${Buffer.from(input).toString('hex').slice(0, 400)}`
  const text = typeof input === 'string' ? input : JSON.stringify(input)
  return (text ?? String(input)).slice(0, 400)
}
