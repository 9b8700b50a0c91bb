/**
 * Between the protobuf messages and the types the rest of Tutti uses: every field read from the
 * wire is range-checked here, on both sides (a device checks what its acceptor answers before it
 * sends it, a coordinator checks what it receives).
 */
import { checkPeerId, checkRolloutName } from './documents.js'
import { MAX_CID_LENGTH, MAX_CODE_LENGTH, MAX_MESSAGE_LENGTH, MAX_PROGRESS_BYTES, MAX_REASON_LENGTH, MAX_STATE_LENGTH } from './constants.js'
import type { CommandAck, DeviceReport, PrepareRequest, RolloutPromise } from './index.js'
import type * as pb from './pb/rollout.js'

const MAX_U53 = BigInt(Number.MAX_SAFE_INTEGER)
const STATE_RE = /^[A-Z][A-Za-z0-9]*$/
const CID_RE = /^[A-Za-z0-9]*$/
const CODE_RE = /^[A-Z0-9_]*$/
// eslint-disable-next-line no-control-regex
const CONTROL_RE = /[\u0000-\u001f\u007f]/

/** A field that is out of range; the caller turns it into its own typed error. */
export class WireFieldError extends Error {
  constructor (readonly field: string, problem: string) {
    super(`${field}: ${problem}`)
    this.name = 'WireFieldError'
  }
}

function fail (field: string, problem: string): never {
  throw new WireFieldError(field, problem)
}

function safe (field: string, value: bigint, min = 0): number {
  if (value < BigInt(min) || value > MAX_U53) fail(field, `must be an integer ${min}..${Number.MAX_SAFE_INTEGER}`)
  return Number(value)
}

function safeNumber (field: string, value: number, min = 0): number {
  if (!Number.isSafeInteger(value) || value < min) fail(field, `must be an integer >= ${min}`)
  return value
}

function name (field: string, value: string): string {
  const problem = checkRolloutName(value)
  if (problem != null) fail(field, problem)
  return value
}

function text (field: string, value: string, max: number): string {
  if (value.length > max) fail(field, `is longer than ${max} characters`)
  if (CONTROL_RE.test(value)) fail(field, 'contains control characters')
  return value
}

function cid (field: string, value: string): string {
  if (value.length > MAX_CID_LENGTH || !CID_RE.test(value)) fail(field, `must be a CID of at most ${MAX_CID_LENGTH} letters and digits`)
  return value
}

function code (field: string, value: string): string {
  if (value.length > MAX_CODE_LENGTH || !CODE_RE.test(value)) fail(field, `must be an error code of at most ${MAX_CODE_LENGTH} characters (A-Z, 0-9, _)`)
  return value
}

/** A prepare request, checked; from the wire or from a caller. */
export function checkPrepare (req: PrepareRequest): PrepareRequest {
  return {
    rollout: name('rollout', req.rollout),
    policyVersion: safeNumber('policyVersion', req.policyVersion, 1),
    epoch: safeNumber('epoch', req.epoch, 1)
  }
}

export function prepareFromPb (req: pb.PrepareRequest): PrepareRequest {
  return checkPrepare({ rollout: req.rollout, policyVersion: safe('policyVersion', req.policyVersion, 1), epoch: safe('epoch', req.epoch, 1) })
}

export function prepareToPb (req: PrepareRequest): pb.PrepareRequest {
  return { rollout: req.rollout, policyVersion: BigInt(req.policyVersion), epoch: BigInt(req.epoch) }
}

/** A device report, checked field by field. */
export function checkReport (r: DeviceReport, field = 'device'): DeviceReport {
  const out: DeviceReport = {
    rollout: name(`${field}.rollout`, r.rollout),
    policyVersion: safeNumber(`${field}.policyVersion`, r.policyVersion),
    state: r.state,
    reason: text(`${field}.reason`, r.reason, MAX_REASON_LENGTH),
    cid: cid(`${field}.cid`, r.cid),
    previousCid: cid(`${field}.previousCid`, r.previousCid),
    updatedMs: safeNumber(`${field}.updatedMs`, r.updatedMs)
  }
  if (r.state.length > MAX_STATE_LENGTH || !STATE_RE.test(r.state)) fail(`${field}.state`, `must be 1-${MAX_STATE_LENGTH} letters and digits, starting with a capital`)
  return out
}

export function reportFromPb (r: pb.DeviceReport, field = 'device'): DeviceReport {
  return checkReport({
    rollout: r.rollout,
    policyVersion: safe(`${field}.policyVersion`, r.policyVersion),
    state: r.state,
    reason: r.reason,
    cid: r.cid,
    previousCid: r.previousCid,
    updatedMs: safe(`${field}.updatedMs`, r.updatedMs)
  }, field)
}

export function reportToPb (r: DeviceReport): pb.DeviceReport {
  return {
    rollout: r.rollout,
    policyVersion: BigInt(r.policyVersion),
    state: r.state,
    reason: r.reason,
    cid: r.cid,
    previousCid: r.previousCid,
    updatedMs: BigInt(r.updatedMs)
  }
}

/** A promise, checked; `rollout` is the one asked about, which the report must be for. */
export function checkPromise (p: RolloutPromise, rollout: string): RolloutPromise {
  if (p.device == null) fail('device', 'is missing')
  const out: RolloutPromise = {
    ok: p.ok,
    promisedEpoch: safeNumber('promisedEpoch', p.promisedEpoch),
    device: forRollout(checkReport(p.device), rollout),
    progress: p.progress
  }
  if (p.promisedTo !== undefined && p.promisedTo !== '') {
    const problem = checkPeerId(p.promisedTo)
    if (problem != null) fail('promisedTo', problem)
    out.promisedTo = p.promisedTo
  }
  if (p.progress.byteLength > MAX_PROGRESS_BYTES) fail('progress', `is ${p.progress.byteLength} bytes, at most ${MAX_PROGRESS_BYTES}`)
  return out
}

export function promiseFromPb (p: pb.PromiseResponse, rollout: string): RolloutPromise {
  if (p.device == null) fail('device', 'is missing')
  return checkPromise({
    ok: p.ok,
    promisedEpoch: safe('promisedEpoch', p.promisedEpoch),
    promisedTo: p.promisedTo,
    device: reportFromPb(p.device),
    progress: p.progress
  }, rollout)
}

export function promiseToPb (p: RolloutPromise): pb.PromiseResponse {
  return {
    ok: p.ok,
    promisedEpoch: BigInt(p.promisedEpoch),
    promisedTo: p.promisedTo ?? '',
    device: reportToPb(p.device),
    progress: p.progress as Uint8Array<ArrayBuffer>
  }
}

/** An ack, checked; `rollout` is the command's, when known. */
export function checkAck (a: CommandAck, rollout?: string): CommandAck {
  const out: CommandAck = { ok: a.ok, code: code('code', a.code), message: text('message', a.message, MAX_MESSAGE_LENGTH) }
  if (a.ok && a.code !== '') fail('code', 'must be empty when ok')
  if (!a.ok && a.code === '') fail('code', 'is missing on a refusal')
  if (a.device != null) out.device = rollout == null ? checkReport(a.device) : forRollout(checkReport(a.device), rollout)
  return out
}

export function ackFromPb (a: pb.CommandAck, rollout?: string): CommandAck {
  return checkAck({ ok: a.ok, code: a.code, message: a.message, device: a.device == null ? undefined : reportFromPb(a.device) }, rollout)
}

export function ackToPb (a: CommandAck): pb.CommandAck {
  return { ok: a.ok, code: a.code, message: a.message, device: a.device == null ? undefined : reportToPb(a.device) }
}

export function forRollout (r: DeviceReport, rollout: string, field = 'device'): DeviceReport {
  if (r.rollout !== rollout) fail(`${field}.rollout`, `is "${r.rollout}", the request was about "${rollout}"`)
  return r
}

/** A wire error code and message, cut to their limits (they are only shown, never trusted). */
export function errorFromPb (e: pb.RolloutError): { code: string, message: string } {
  const c = e.code.length <= MAX_CODE_LENGTH && CODE_RE.test(e.code) && e.code !== '' ? e.code : 'ERR_ROLLOUT_INTERNAL'
  // eslint-disable-next-line no-control-regex
  return { code: c, message: e.message.slice(0, MAX_MESSAGE_LENGTH).replace(/[\u0000-\u001f\u007f]/g, ' ') }
}
