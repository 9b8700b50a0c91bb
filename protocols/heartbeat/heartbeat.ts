import { Heartbeat as HeartbeatPb } from './pb/heartbeat.js'
import {
  HEARTBEAT_SCHEMA, MAX_HEARTBEAT_BYTES, MAX_HEARTBEAT_MODELS, MAX_HEARTBEAT_ROLLOUTS, MAX_INTERVAL_MS,
  MAX_LABELS, MAX_MODEL_FIELD_LENGTH, MAX_PROPS, MAX_ROLLOUT_NAME_LENGTH, MAX_ROLLOUT_REASON_LENGTH,
  MAX_ROLLOUT_STATE_LENGTH, MAX_VALUE_LENGTH, MIN_INTERVAL_MS, MAX_TIMESTAMP_MS, MAX_UPTIME_MS, MAX_CLOCK_AHEAD_MS,
  MAX_FLEET_SIZE, NUMERIC_PROPS
} from './constants.js'
import { InvalidHeartbeatError, UnsupportedHeartbeatSchemaError } from './errors.js'
import { checkKeyValue } from './labels.js'
import type { Heartbeat, HeartbeatModel, HeartbeatModelState, HeartbeatRollout } from './index.js'

export { checkKeyValue }

const MODEL_STATES = new Set<string>(['active', 'previous', 'staged', 'partial'])
const MODEL_FIELD_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/

/** A DNS label, as a rollout's metadata.name. */
const ROLLOUT_NAME_RE = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/
/** A state kind: PascalCase letters and digits. */
const ROLLOUT_STATE_RE = /^[A-Z][A-Za-z0-9]*$/
/** Printable ASCII: one byte per character, nothing that moves a terminal's cursor. */
const REASON_RE = /^[\x20-\x7e]*$/

/**
 * Any text (an error message, say) as a heartbeat reason: characters outside printable ASCII
 * become '?', runs of whitespace one space, and it is cut to {@link MAX_ROLLOUT_REASON_LENGTH}
 * with a trailing '...' when longer.
 */
export function heartbeatReason (text: string): string {
  const ascii = text.replace(/\s+/g, ' ').replace(/[^\x20-\x7e]/g, '?').trim()
  return ascii.length <= MAX_ROLLOUT_REASON_LENGTH ? ascii : `${ascii.slice(0, MAX_ROLLOUT_REASON_LENGTH - 3)}...`
}

function checkMap (what: string, map: Map<string, string> | Record<string, string>, max: number): void {
  const entries = map instanceof Map ? [...map.entries()] : Object.entries(map)
  if (entries.length > max) throw new InvalidHeartbeatError(`${what}: ${entries.length} entries, at most ${max}`)
  for (const [k, v] of entries) {
    const problem = checkKeyValue(k, v)
    if (problem != null) throw new InvalidHeartbeatError(`${what}: ${problem}`)
  }
}

const MAX_U53 = BigInt(Number.MAX_SAFE_INTEGER)

/** A float32 from the wire (1.7999999523) back to the decimal its sender meant (1.8). */
function float32ToDecimal (v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(6)) : v
}

function toSafeNumber (field: string, value: bigint): number {
  if (value < 0n || value > MAX_U53) throw new InvalidHeartbeatError(`${field} is out of range`)
  return Number(value)
}

/** Encodes a heartbeat, enforcing the same limits a receiver will. */
export function encodeHeartbeat (hb: Heartbeat): Uint8Array {
  validateHeartbeat(hb)
  const bytes = HeartbeatPb.encode({
    schema: HEARTBEAT_SCHEMA,
    bootMs: BigInt(hb.bootMs),
    seq: BigInt(hb.seq),
    sentMs: BigInt(hb.sentMs),
    intervalMs: hb.intervalMs,
    nodeVersion: hb.nodeVersion,
    uptimeMs: BigInt(hb.uptimeMs),
    labels: new Map(Object.entries(hb.labels)),
    props: new Map(Object.entries(hb.props)),
    fleetSize: hb.fleetSize,
    restarts: hb.restarts ?? 0,
    models: (hb.models ?? []).map(m => ({
      name: m.name,
      version: m.version,
      cid: m.cid,
      state: m.state,
      stats: m.stats == null
        ? undefined
        : { requests: BigInt(m.stats.n), errors: BigInt(m.stats.e), p50Ms: m.stats.p50, p95Ms: m.stats.p95, p99Ms: m.stats.p99, nonFinite: BigInt(m.stats.nf), memoryMib: m.stats.mb, agreement: m.stats.ag, shadowCompared: m.stats.sc == null ? undefined : BigInt(m.stats.sc), shadowFraction: m.stats.fr }
    })),
    rollouts: (hb.rollouts ?? []).map(r => ({
      name: r.name,
      policyVersion: BigInt(r.policyVersion),
      state: r.state,
      reason: r.reason,
      epoch: BigInt(r.epoch)
    }))
  })
  if (bytes.byteLength > MAX_HEARTBEAT_BYTES) {
    throw new InvalidHeartbeatError(`heartbeat is ${bytes.byteLength} bytes, at most ${MAX_HEARTBEAT_BYTES}`)
  }
  return bytes
}

export interface DecodeHeartbeatOptions {
  /**
   * The receiver's clock, in ms since the epoch. When given, a heartbeat sent more than
   * {@link MAX_CLOCK_AHEAD_MS} ahead of it is rejected.
   */
  receivedMs?: number
}

/**
 * Decodes heartbeat bytes from the network. The size is checked before anything is decoded, map
 * sizes while decoding; every field is range-checked after, to what a real device can send.
 * Throws {@link InvalidHeartbeatError} or {@link UnsupportedHeartbeatSchemaError}.
 */
export function decodeHeartbeat (bytes: Uint8Array, maxBytes = MAX_HEARTBEAT_BYTES, options: DecodeHeartbeatOptions = {}): Heartbeat {
  if (bytes.byteLength > maxBytes) {
    throw new InvalidHeartbeatError(`heartbeat is ${bytes.byteLength} bytes, at most ${maxBytes}`)
  }
  let pb: HeartbeatPb
  try {
    pb = HeartbeatPb.decode(bytes, { limits: { labels: MAX_LABELS, props: MAX_PROPS, models: MAX_HEARTBEAT_MODELS, rollouts: MAX_HEARTBEAT_ROLLOUTS } })
  } catch (err) {
    throw new InvalidHeartbeatError('heartbeat does not decode', { cause: err })
  }
  if (pb.schema === 0) throw new InvalidHeartbeatError('heartbeat has no schema revision')
  if (pb.schema > HEARTBEAT_SCHEMA) throw new UnsupportedHeartbeatSchemaError(pb.schema)
  const hb: Heartbeat = {
    bootMs: toSafeNumber('bootMs', pb.bootMs),
    seq: toSafeNumber('seq', pb.seq),
    sentMs: toSafeNumber('sentMs', pb.sentMs),
    intervalMs: pb.intervalMs,
    nodeVersion: pb.nodeVersion,
    uptimeMs: toSafeNumber('uptimeMs', pb.uptimeMs),
    labels: Object.fromEntries(pb.labels),
    props: Object.fromEntries(pb.props),
    fleetSize: pb.fleetSize,
    ...(pb.restarts > 0 ? { restarts: pb.restarts } : {}),
    models: pb.models.map(m => {
      const model: HeartbeatModel = { name: m.name, version: m.version, cid: m.cid, state: m.state as HeartbeatModelState }
      if (m.stats != null) {
        const st = m.stats
        model.stats = {
          n: toSafeNumber('stats.requests', st.requests),
          e: toSafeNumber('stats.errors', st.errors),
          p50: float32ToDecimal(st.p50Ms),
          p95: float32ToDecimal(st.p95Ms),
          p99: float32ToDecimal(st.p99Ms),
          nf: toSafeNumber('stats.nonFinite', st.nonFinite),
          mb: st.memoryMib
        }
        if (st.agreement != null) model.stats.ag = float32ToDecimal(st.agreement)
        if (st.shadowCompared != null) model.stats.sc = toSafeNumber('stats.shadowCompared', st.shadowCompared)
        if (st.shadowFraction != null) model.stats.fr = float32ToDecimal(st.shadowFraction)
      }
      return model
    })
  }
  // Left out when empty, so a heartbeat from a node outside every rollout reads as before.
  if (pb.rollouts.length > 0) {
    hb.rollouts = pb.rollouts.map(r => ({
      name: r.name,
      policyVersion: toSafeNumber('rollouts.policyVersion', r.policyVersion),
      state: r.state,
      reason: r.reason,
      epoch: toSafeNumber('rollouts.epoch', r.epoch)
    }))
  }
  validateHeartbeat(hb)
  if (options.receivedMs != null) checkHeartbeatClock(hb, options.receivedMs)
  return hb
}

/**
 * Throws {@link InvalidHeartbeatError} when a heartbeat was sent further ahead of the receiver's
 * clock (`receivedMs`) than {@link MAX_CLOCK_AHEAD_MS}.
 */
export function checkHeartbeatClock (hb: Heartbeat, receivedMs: number): void {
  if (hb.sentMs > receivedMs + MAX_CLOCK_AHEAD_MS) {
    throw new InvalidHeartbeatError(`sentMs is ${hb.sentMs - receivedMs} ms ahead of the receiver's clock, at most ${MAX_CLOCK_AHEAD_MS}`)
  }
}

function checkProps (props: Record<string, string>): void {
  for (const [key, value] of Object.entries(props)) {
    const range = NUMERIC_PROPS[key]
    const n = Number(value)
    if (range != null) {
      if (value.trim() === '' || !Number.isFinite(n) || n < range.min || n > range.max || (range.integer && !Number.isInteger(n))) {
        throw new InvalidHeartbeatError(`props: "${key}" must be ${range.integer ? 'an integer' : 'a number'} from ${range.min} to ${range.max}, not "${value.slice(0, 20)}"`)
      }
    } else if (/^[+-]?(nan|infinity)$/i.test(value.trim())) {
      throw new InvalidHeartbeatError(`props: "${key}" is not a finite number`)
    }
  }
}

function validateHeartbeat (hb: Heartbeat): void {
  if (!Number.isSafeInteger(hb.bootMs) || hb.bootMs <= 0 || hb.bootMs > MAX_TIMESTAMP_MS) throw new InvalidHeartbeatError('bootMs must be positive and before 2200')
  if (!Number.isSafeInteger(hb.sentMs) || hb.sentMs > MAX_TIMESTAMP_MS) throw new InvalidHeartbeatError('sentMs must be a time before 2200')
  if (hb.sentMs < hb.bootMs) throw new InvalidHeartbeatError('sentMs is before bootMs')
  if (!Number.isSafeInteger(hb.seq) || hb.seq < 1) throw new InvalidHeartbeatError('seq must be a positive integer')
  if (!Number.isSafeInteger(hb.uptimeMs) || hb.uptimeMs < 0 || hb.uptimeMs > MAX_UPTIME_MS) throw new InvalidHeartbeatError('uptimeMs must be 0 to 20 years')
  // Uptime and both times come from one clock: a process cannot have run longer than since it booted.
  if (hb.uptimeMs > hb.sentMs - hb.bootMs) throw new InvalidHeartbeatError('uptimeMs is longer than sentMs - bootMs')
  if (!Number.isInteger(hb.intervalMs) || hb.intervalMs < MIN_INTERVAL_MS || hb.intervalMs > MAX_INTERVAL_MS) {
    throw new InvalidHeartbeatError(`intervalMs must be ${MIN_INTERVAL_MS}-${MAX_INTERVAL_MS}`)
  }
  if (hb.nodeVersion.length > MAX_VALUE_LENGTH) throw new InvalidHeartbeatError('nodeVersion is too long')
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(hb.nodeVersion)) throw new InvalidHeartbeatError('nodeVersion contains control characters')
  if (!Number.isInteger(hb.fleetSize) || hb.fleetSize < 1) throw new InvalidHeartbeatError('fleetSize must be at least 1 (the sender counts itself)')
  if (hb.fleetSize > MAX_FLEET_SIZE) throw new InvalidHeartbeatError(`fleetSize must be at most ${MAX_FLEET_SIZE}`)
  if (hb.restarts !== undefined && (!Number.isInteger(hb.restarts) || hb.restarts < 0 || hb.restarts > 0xffffffff)) throw new InvalidHeartbeatError('restarts must be an integer in [0, 2^32)')
  checkMap('labels', hb.labels, MAX_LABELS)
  checkMap('props', hb.props, MAX_PROPS)
  checkProps(hb.props)
  checkModels(hb.models ?? [])
  checkRollouts(hb.rollouts ?? [])
}

/** Throws {@link InvalidHeartbeatError} unless `rollouts` is a valid rollout section (as a heartbeat's). */
export function checkRollouts (rollouts: HeartbeatRollout[]): void {
  if (rollouts.length > MAX_HEARTBEAT_ROLLOUTS) throw new InvalidHeartbeatError(`rollouts: ${rollouts.length} entries, at most ${MAX_HEARTBEAT_ROLLOUTS}`)
  const seen = new Set<string>()
  for (const r of rollouts) {
    if (r.name.length > MAX_ROLLOUT_NAME_LENGTH || !ROLLOUT_NAME_RE.test(r.name)) {
      throw new InvalidHeartbeatError(`rollouts: name "${r.name.slice(0, 40)}" is not a DNS label of 1-${MAX_ROLLOUT_NAME_LENGTH} characters`)
    }
    if (seen.has(r.name)) throw new InvalidHeartbeatError(`rollouts: "${r.name}" is listed twice`)
    seen.add(r.name)
    if (!Number.isSafeInteger(r.policyVersion) || r.policyVersion < 1) throw new InvalidHeartbeatError(`rollouts: "${r.name}" policyVersion must be a positive integer`)
    if (!Number.isSafeInteger(r.epoch) || r.epoch < 0) throw new InvalidHeartbeatError(`rollouts: "${r.name}" epoch must be a non-negative integer`)
    if (r.state.length > MAX_ROLLOUT_STATE_LENGTH || !ROLLOUT_STATE_RE.test(r.state)) {
      throw new InvalidHeartbeatError(`rollouts: "${r.name}" state "${r.state.slice(0, 30)}" must be 1-${MAX_ROLLOUT_STATE_LENGTH} letters and digits, starting with a capital`)
    }
    if (r.reason.length > MAX_ROLLOUT_REASON_LENGTH) throw new InvalidHeartbeatError(`rollouts: "${r.name}" reason is longer than ${MAX_ROLLOUT_REASON_LENGTH} characters`)
    if (!REASON_RE.test(r.reason)) throw new InvalidHeartbeatError(`rollouts: "${r.name}" reason may hold only printable ASCII`)
  }
}

function checkModels (models: HeartbeatModel[]): void {
  if (models.length > MAX_HEARTBEAT_MODELS) throw new InvalidHeartbeatError(`models: ${models.length} entries, at most ${MAX_HEARTBEAT_MODELS}`)
  for (const m of models) {
    for (const [field, value] of [['name', m.name], ['version', m.version], ['cid', m.cid]] as const) {
      if (value.length === 0 || value.length > MAX_MODEL_FIELD_LENGTH || !MODEL_FIELD_RE.test(value)) {
        throw new InvalidHeartbeatError(`models: ${field} "${value.slice(0, 40)}" is empty, too long or has characters other than letters, digits, '.', '_', '+', '-'`)
      }
    }
    if (!MODEL_STATES.has(m.state)) throw new InvalidHeartbeatError(`models: unknown state "${String(m.state).slice(0, 20)}"`)
    const st = m.stats
    if (st != null) {
      const counts = [st.n, st.e, st.nf, st.mb, st.sc ?? 0]
      const times = [st.p50, st.p95, st.p99]
      if (!counts.every(v => Number.isSafeInteger(v) && v >= 0) || st.mb > 0xffffffff) throw new InvalidHeartbeatError('models: stats counts must be non-negative integers')
      if (!times.every(v => Number.isFinite(v) && v >= 0)) throw new InvalidHeartbeatError('models: stats latencies must be finite and non-negative')
      if (st.ag != null && !(st.ag >= 0 && st.ag <= 1)) throw new InvalidHeartbeatError('models: stats agreement must be between 0 and 1')
      if (st.fr != null && !(st.fr > 0 && st.fr <= 1)) throw new InvalidHeartbeatError('models: stats shadow fraction must be above 0, at most 1')
    }
  }
}
