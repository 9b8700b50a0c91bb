import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  HEARTBEAT_SCHEMA, InvalidHeartbeatError, MAX_HEARTBEAT_BYTES, MAX_INTERVAL_MS, MAX_LABELS,
  MAX_HEARTBEAT_MODELS, MAX_HEARTBEAT_ROLLOUTS, MAX_PROPS, MAX_ROLLOUT_NAME_LENGTH, MAX_ROLLOUT_REASON_LENGTH,
  MAX_ROLLOUT_STATE_LENGTH, MAX_VALUE_LENGTH, MIN_INTERVAL_MS, UnsupportedHeartbeatSchemaError, decodeHeartbeat,
  encodeHeartbeat, heartbeatReason, MAX_CLOCK_AHEAD_MS, checkHeartbeatClock
} from './index.js'
import { Heartbeat as HeartbeatPb } from './pb/heartbeat.js'
import type { Heartbeat, HeartbeatRollout } from './index.js'

const BOOT = 1_700_000_000_000

/** A heartbeat as a deployed camera node would send it. */
function realistic (overrides: Partial<Heartbeat> = {}): Heartbeat {
  return {
    bootMs: BOOT,
    seq: 1234,
    sentMs: BOOT + 6_170_000,
    intervalMs: 5000,
    nodeVersion: '0.1.0',
    uptimeMs: 6_170_000,
    labels: { zone: 'eu-west-1', class: 'camera', site: 'warehouse-7', 'tutti.io/role': 'edge' },
    props: {
      cpus: '4',
      arch: 'arm64',
      os: 'linux',
      'mem.total': '8254300160',
      'mem.free': '3221225472',
      battery: '87'
    },
    fleetSize: 240,
    models: [],
    ...overrides
  }
}

/** Wire bytes with no sender-side validation, as a faulty or hostile peer could send them. */
function raw (overrides: Partial<HeartbeatPb> = {}): Uint8Array {
  const hb = realistic()
  return HeartbeatPb.encode({
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
    ...overrides
  })
}

function decodeError (bytes: Uint8Array, maxBytes?: number): unknown {
  try {
    decodeHeartbeat(bytes, maxBytes)
  } catch (err) {
    return err
  }
  throw new Error('expected decodeHeartbeat to throw')
}

function encodeError (hb: Heartbeat): unknown {
  try {
    encodeHeartbeat(hb)
  } catch (err) {
    return err
  }
  throw new Error('expected encodeHeartbeat to throw')
}

function expectInvalid (err: unknown, message?: RegExp): void {
  expect(err).toBeInstanceOf(InvalidHeartbeatError)
  expect((err as InvalidHeartbeatError).code).toBe('ERR_INVALID_HEARTBEAT')
  if (message != null) expect((err as Error).message).toMatch(message)
}

/**
 * Field 30 (reserved for later revisions, so skipped by this decoder), length-delimited, holding
 * `length` zero bytes: 4 bytes of tag and length (for 128 <= length < 16384) plus the payload.
 */
function unknownField (length: number): Uint8Array {
  const tag = (30 << 3) | 2
  return new Uint8Array([0x80 | (tag & 0x7f), tag >> 7, 0x80 | (length & 0x7f), length >> 7, ...new Uint8Array(length)])
}

/** Deterministic bytes (mulberry32) so a failure can be reproduced. */
function seededBytes (seed: number, length: number): Uint8Array {
  let a = seed
  const out = new Uint8Array(length)
  for (let i = 0; i < length; i++) {
    a = (a + 0x6D2B79F5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    out[i] = ((t ^ (t >>> 14)) >>> 0) & 0xff
  }
  return out
}

describe('heartbeat encoding', () => {
  afterEach(() => { vi.restoreAllMocks() })

  it('decodes what it encodes', () => {
    const hb = realistic()
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual(hb)
  })

  it('carries the sender\'s own restart count, and reads its absence (an older sender) as none announced', () => {
    const hb = realistic({ restarts: 3 })
    expect(decodeHeartbeat(encodeHeartbeat(hb)).restarts).toBe(3)
    expect(decodeHeartbeat(encodeHeartbeat(realistic())).restarts).toBeUndefined()
    expectInvalid(encodeError(realistic({ restarts: -1 })), /restarts must be an integer/)
  })

  it('round-trips a heartbeat with no labels or properties', () => {
    const hb = realistic({ labels: {}, props: {}, seq: 1, uptimeMs: 0, sentMs: BOOT })
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual(hb)
  })

  it('keeps a realistic heartbeat well under 1 KiB (under 512 bytes)', () => {
    const bytes = encodeHeartbeat(realistic())
    expect(bytes.byteLength).toBeLessThan(512)
    expect(bytes.byteLength).toBeGreaterThan(100) // it does carry the labels and props
  })

  it('rejects random garbage with a typed error', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const err = decodeError(seededBytes(seed, 1 + (seed * 7) % 300))
      // Garbage that happens to parse with a schema field above ours is "newer", never accepted.
      const typed = err instanceof InvalidHeartbeatError || err instanceof UnsupportedHeartbeatSchemaError
      expect(typed, `seed ${seed}: ${String(err)}`).toBe(true)
    }
  })

  it('rejects bytes that are not protobuf at all', () => {
    expectInvalid(decodeError(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /does not decode/)
    expectInvalid(decodeError(new TextEncoder().encode('{"schema":1,"bootMs":1}')))
  })

  it('rejects empty bytes (no schema)', () => {
    expectInvalid(decodeError(new Uint8Array()), /schema/)
  })

  it('rejects a truncated heartbeat', () => {
    const bytes = encodeHeartbeat(realistic())
    expectInvalid(decodeError(bytes.subarray(0, bytes.byteLength - 1)))
    // Cut in the middle of a label value.
    const at = Buffer.from(bytes).indexOf('warehouse-7')
    expect(at).toBeGreaterThan(0)
    expectInvalid(decodeError(bytes.subarray(0, at + 4)), /does not decode/)
  })

  it('rejects oversized bytes before decoding them', () => {
    // A valid heartbeat padded with an unknown field (skipped by decoders) past the limit.
    const valid = encodeHeartbeat(realistic())
    const oversized = new Uint8Array([...valid, ...unknownField(MAX_HEARTBEAT_BYTES - valid.byteLength + 10)])
    expect(oversized.byteLength).toBeGreaterThan(MAX_HEARTBEAT_BYTES)
    // It would decode if the size allowed it: size is the only reason it is refused.
    expect(decodeHeartbeat(oversized, oversized.byteLength)).toEqual(realistic())

    const decode = vi.spyOn(HeartbeatPb, 'decode')
    expectInvalid(decodeError(oversized), new RegExp(`${oversized.byteLength} bytes, at most ${MAX_HEARTBEAT_BYTES}`))
    expectInvalid(decodeError(new Uint8Array(1024 * 1024)), /at most/)
    expect(decode).not.toHaveBeenCalled()
  })

  it('accepts exactly MAX_HEARTBEAT_BYTES', () => {
    const valid = encodeHeartbeat(realistic())
    const bytes = new Uint8Array([...valid, ...unknownField(MAX_HEARTBEAT_BYTES - valid.byteLength - 4)])
    expect(bytes.byteLength).toBe(MAX_HEARTBEAT_BYTES)
    expect(decodeHeartbeat(bytes)).toEqual(realistic())
  })

  it('rejects more labels than MAX_LABELS, and so does the encoder', () => {
    const many = Object.fromEntries(Array.from({ length: MAX_LABELS + 1 }, (_, i) => [`l${i}`, 'x']))
    expectInvalid(decodeError(raw({ labels: new Map(Object.entries(many)) })))
    expectInvalid(encodeError(realistic({ labels: many })), /labels: 33 entries, at most 32/)
    const enough = Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`l${i}`, 'x']))
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ labels: enough }))).labels).toEqual(enough)
  })

  it('rejects more props than MAX_PROPS', () => {
    const many = new Map(Array.from({ length: 40 }, (_, i) => [`p${i}`, String(i)]))
    expectInvalid(decodeError(raw({ props: many })))
  })

  it.each([
    ['empty', ''],
    ['leading dash', '-zone'],
    ['trailing dot', 'zone.'],
    ['a space', 'my zone'],
    ['a non-ASCII letter', 'zöne'],
    ['an equals sign', 'zone=eu'],
    ['a newline', 'zone\n'],
    ['64 characters', 'k'.repeat(64)]
  ])('rejects a label key with %s', (_what, key) => {
    expectInvalid(decodeError(raw({ labels: new Map([[key, 'v']]) })), /labels: key/)
    expectInvalid(encodeError(realistic({ labels: { [key]: 'v' } })), /labels: key/)
  })

  it('accepts keys with dots, slashes, dashes and underscores, up to 63 characters', () => {
    const labels = { 'tutti.io/zone_name-2': 'eu', ['k'.repeat(63)]: 'v', a: '' }
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ labels }))).labels).toEqual(labels)
  })

  it('rejects a value longer than MAX_VALUE_LENGTH', () => {
    const long = 'v'.repeat(MAX_VALUE_LENGTH + 1)
    expectInvalid(decodeError(raw({ labels: new Map([['zone', long]]) })), /longer than 63/)
    expectInvalid(decodeError(raw({ props: new Map([['battery', long]]) })), /props: value/)
    expectInvalid(encodeError(realistic({ props: { battery: long } })), /longer than 63/)
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ labels: { zone: 'v'.repeat(MAX_VALUE_LENGTH) } }))).labels.zone).toHaveLength(63)
  })

  it('rejects a nodeVersion longer than MAX_VALUE_LENGTH', () => {
    expectInvalid(decodeError(raw({ nodeVersion: '1'.repeat(64) })), /nodeVersion/)
  })

  it.each([
    ['NUL', '\u0000'],
    ['newline', 'eu\nwest'],
    ['escape', '\u001b[31mred'],
    ['DEL', 'a\u007f']
  ])('rejects a value with a control character (%s)', (_what, value) => {
    expectInvalid(decodeError(raw({ labels: new Map([['zone', value]]) })), /control characters/)
    expectInvalid(encodeError(realistic({ props: { zone: value } })), /control characters/)
  })

  it.each([
    ['zero (missing)', 0],
    ['below the minimum', MIN_INTERVAL_MS - 1],
    ['above the maximum', MAX_INTERVAL_MS + 1],
    ['the largest uint32', 0xffffffff]
  ])('rejects an interval %s', (_what, intervalMs) => {
    expectInvalid(decodeError(raw({ intervalMs })), /intervalMs must be 50-600000/)
  })

  it('accepts the interval bounds themselves', () => {
    expect(decodeHeartbeat(raw({ intervalMs: MIN_INTERVAL_MS })).intervalMs).toBe(MIN_INTERVAL_MS)
    expect(decodeHeartbeat(raw({ intervalMs: MAX_INTERVAL_MS })).intervalMs).toBe(MAX_INTERVAL_MS)
  })

  it('rejects schema 0 as invalid', () => {
    expectInvalid(decodeError(raw({ schema: 0 })), /no schema/)
  })

  it('rejects a higher schema as unsupported, with its number', () => {
    const err = decodeError(raw({ schema: HEARTBEAT_SCHEMA + 1 }))
    expect(err).toBeInstanceOf(UnsupportedHeartbeatSchemaError)
    expect((err as UnsupportedHeartbeatSchemaError).code).toBe('ERR_UNSUPPORTED_HEARTBEAT_SCHEMA')
    expect((err as UnsupportedHeartbeatSchemaError).schema).toBe(HEARTBEAT_SCHEMA + 1)
    expect((err as Error).message).toMatch(/schema 2 is newer than the supported 1/)
  })

  it('rejects sentMs before bootMs', () => {
    expectInvalid(decodeError(raw({ sentMs: BigInt(BOOT - 1) })), /sentMs is before bootMs/)
    expectInvalid(encodeError(realistic({ sentMs: BOOT - 1 })), /sentMs is before bootMs/)
  })

  it('rejects a missing bootMs', () => {
    expectInvalid(decodeError(raw({ bootMs: 0n, sentMs: 5n })), /bootMs must be positive/)
  })

  it('rejects times beyond the safe integer range', () => {
    expectInvalid(decodeError(raw({ sentMs: 2n ** 60n })), /sentMs is out of range/)
    expectInvalid(decodeError(raw({ seq: 2n ** 64n - 1n })), /seq is out of range/)
  })

  it('refuses to encode a heartbeat larger than MAX_HEARTBEAT_BYTES', () => {
    const labels = Object.fromEntries(Array.from({ length: MAX_LABELS }, (_, i) => [`label-${i}`, 'v'.repeat(MAX_VALUE_LENGTH)]))
    const props = Object.fromEntries(Array.from({ length: MAX_PROPS }, (_, i) => [`prop-${i}`, 'v'.repeat(MAX_VALUE_LENGTH)]))
    expectInvalid(encodeError(realistic({ labels, props })), new RegExp(`at most ${MAX_HEARTBEAT_BYTES}$`))
  })
})

describe('model state in heartbeats', () => {
  const CID = 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q'
  const stats = { n: 1200, e: 3, p50: 1.8, p95: 4.2, p99: 9.7, nf: 0, mb: 35 }

  it('round-trips held models and inference stats, decimals intact after float32', () => {
    const hb = realistic({
      models: [
        { name: 'vad', version: '1.0.0', cid: CID, state: 'active', stats },
        { name: 'vad', version: '1.1.0', cid: CID, state: 'staged', stats: { ...stats, ag: 0.987, sc: 1150, fr: 0.1 } },
        { name: 'face-detector', version: '2.0.0-rc.1', cid: CID, state: 'partial' }
      ]
    })
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual(hb)
  })

  it('keeps a heartbeat with three models with stats well under 1 KiB', () => {
    const models = ['a', 'b', 'c'].map(name => ({ name, version: '1.0.0', cid: CID, state: 'active' as const, stats }))
    expect(encodeHeartbeat(realistic({ models })).byteLength).toBeLessThan(1024)
  })

  it.each([
    ['an unknown state', { name: 'vad', version: '1.0.0', cid: CID, state: 'running' }],
    ['an empty name', { name: '', version: '1.0.0', cid: CID, state: 'active' }],
    ['a name with a space', { name: 'v a d', version: '1.0.0', cid: CID, state: 'active' }],
    ['a too long cid', { name: 'vad', version: '1.0.0', cid: 'b'.repeat(101), state: 'active' }],
    ['negative counts', { name: 'vad', version: '1.0.0', cid: CID, state: 'active', stats: { ...stats, n: -1 } }],
    ['a NaN latency', { name: 'vad', version: '1.0.0', cid: CID, state: 'active', stats: { ...stats, p99: Number.NaN } }],
    ['an agreement above 1', { name: 'vad', version: '1.0.0', cid: CID, state: 'active', stats: { ...stats, ag: 1.5 } }]
  ])('refuses %s', (_what, model) => {
    const bytes = raw({ models: [{ name: model.name, version: model.version, cid: model.cid, state: model.state, stats: (model as { stats?: typeof stats }).stats == null ? undefined : { requests: 1n, errors: 0n, p50Ms: (model as { stats: typeof stats }).stats.p50, p95Ms: 1, p99Ms: (model as { stats: typeof stats }).stats.p99, nonFinite: 0n, memoryMib: 1, agreement: (model as { stats: { ag?: number } }).stats.ag } }] })
    const numeric = (model as { stats?: typeof stats }).stats?.n === -1
    if (numeric) {
      // Counts are unsigned on the wire; a negative one can only come from a local bug: encode refuses it.
      expect(() => encodeHeartbeat(realistic({ models: [model as never] }))).toThrow(InvalidHeartbeatError)
      return
    }
    expect(() => decodeHeartbeat(bytes)).toThrow(InvalidHeartbeatError)
    expect(() => encodeHeartbeat(realistic({ models: [model as never] }))).toThrow(InvalidHeartbeatError)
  })

  it(`refuses more than ${MAX_HEARTBEAT_MODELS} models while decoding`, () => {
    const models = Array.from({ length: MAX_HEARTBEAT_MODELS + 1 }, (_, i) => ({ name: `m${i}`, version: '1.0.0', cid: CID, state: 'staged' }))
    expect(() => decodeHeartbeat(raw({ models }))).toThrow(InvalidHeartbeatError)
  })
})

describe('rollout state in heartbeats', () => {
  const CID = 'bagaaierarigtmt6iojwgrgiajm2dbk6xjg66krpjfxpjyngisoqfc25hi76q'
  const stats = { n: 1200, e: 3, p50: 1.8, p95: 4.2, p99: 9.7, nf: 0, mb: 35 }
  const VERSION = 1_764_620_000_000 // policy versions are Date.now()-like: 6 varint bytes

  function rollout (overrides: Partial<HeartbeatRollout> = {}): HeartbeatRollout {
    return { name: 'vad-canary', policyVersion: VERSION, state: 'Active', reason: '', epoch: 3, ...overrides }
  }

  /** A rollout entry with every field at its limit (and the varints at their widest for safe integers). */
  function worstRollout (i: number): HeartbeatRollout {
    return {
      name: `${i}`.padStart(MAX_ROLLOUT_NAME_LENGTH, 'r'),
      policyVersion: Number.MAX_SAFE_INTEGER,
      state: 'S'.padEnd(MAX_ROLLOUT_STATE_LENGTH, 'x'),
      reason: '~'.repeat(MAX_ROLLOUT_REASON_LENGTH),
      epoch: Number.MAX_SAFE_INTEGER
    }
  }

  function rawRollout (overrides: Record<string, unknown>): Uint8Array {
    return raw({ rollouts: [{ name: 'vad-canary', policyVersion: BigInt(VERSION), state: 'Active', reason: '', epoch: 3n, ...overrides }] } as Partial<HeartbeatPb>)
  }

  it('round-trips rollout states beside models', () => {
    const hb = realistic({
      models: [{ name: 'vad', version: '1.1.0', cid: CID, state: 'active', stats }],
      rollouts: [
        rollout(),
        rollout({ name: 'face-v2', state: 'Failed', reason: 'smoke test: 3 of 20 outputs are NaN', epoch: 0, policyVersion: 1 })
      ]
    })
    expect(decodeHeartbeat(encodeHeartbeat(hb))).toEqual(hb)
  })

  it('leaves rollouts out of a decoded heartbeat that carries none', () => {
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ rollouts: [] })))).not.toHaveProperty('rollouts')
  })

  it('keeps the worst case within MAX_HEARTBEAT_BYTES: all models with stats and every rollout at its limits', () => {
    const rollouts = Array.from({ length: MAX_HEARTBEAT_ROLLOUTS }, (_, i) => worstRollout(i))
    const section = encodeHeartbeat(realistic({ rollouts })).byteLength - encodeHeartbeat(realistic()).byteLength
    expect(section).toBe(MAX_HEARTBEAT_ROLLOUTS * 235) // the figure constants.ts budgets with
    const models = Array.from({ length: MAX_HEARTBEAT_MODELS }, (_, i) => ({ name: `model-${i}`, version: '10.2.0-rc.1', cid: CID, state: 'active' as const, stats: { ...stats, ag: 0.99, sc: 123_456, fr: 0.125 } }))
    const bytes = encodeHeartbeat(realistic({ models, rollouts }))
    expect(bytes.byteLength).toBeLessThanOrEqual(MAX_HEARTBEAT_BYTES)
    expect(decodeHeartbeat(bytes).rollouts).toEqual(rollouts)
  })

  it('keeps a heartbeat with three realistic rollouts under 1 KiB with three models', () => {
    const models = ['a', 'b', 'c'].map(name => ({ name, version: '1.0.0', cid: CID, state: 'active' as const, stats }))
    const rollouts = ['vad-canary', 'face-v2', 'kws-eu'].map(name => rollout({ name }))
    expect(encodeHeartbeat(realistic({ models, rollouts })).byteLength).toBeLessThan(1024)
  })

  it.each([
    ['an empty name', { name: '' }],
    ['an upper-case name', { name: 'Vad' }],
    ['a name with a dot', { name: 'vad.canary' }],
    ['a name ending in a dash', { name: 'vad-' }],
    [`a ${MAX_ROLLOUT_NAME_LENGTH + 1}-character name`, { name: 'r'.repeat(MAX_ROLLOUT_NAME_LENGTH + 1) }],
    ['an empty state', { state: '' }],
    ['a lower-case state', { state: 'active' }],
    ['a state with a space', { state: 'Smoke Test' }],
    [`a ${MAX_ROLLOUT_STATE_LENGTH + 1}-character state`, { state: 'S'.repeat(MAX_ROLLOUT_STATE_LENGTH + 1) }],
    [`a ${MAX_ROLLOUT_REASON_LENGTH + 1}-character reason`, { reason: 'x'.repeat(MAX_ROLLOUT_REASON_LENGTH + 1) }],
    ['a reason with a newline', { reason: 'bad\noutput' }],
    ['a reason with an escape sequence', { reason: '\u001b[31mred' }],
    ['a non-ASCII reason', { reason: 'échec' }],
    ['policy version 0', { policyVersion: 0 }]
  ])('refuses %s, on the wire and when encoding', (_what, overrides) => {
    const wire = { ...overrides, ...('policyVersion' in overrides ? { policyVersion: BigInt(overrides.policyVersion) } : {}) }
    expectInvalid(decodeError(rawRollout(wire)), /rollouts: /)
    expectInvalid(encodeError(realistic({ rollouts: [rollout(overrides)] })), /rollouts: /)
  })

  it('refuses a policy version or epoch beyond the safe integer range', () => {
    expectInvalid(decodeError(rawRollout({ policyVersion: 2n ** 60n })), /rollouts.policyVersion is out of range/)
    expectInvalid(decodeError(rawRollout({ epoch: 2n ** 64n - 1n })), /rollouts.epoch is out of range/)
    expectInvalid(encodeError(realistic({ rollouts: [rollout({ epoch: 1.5 })] })), /epoch must be a non-negative integer/)
  })

  it('refuses the same rollout listed twice', () => {
    expectInvalid(encodeError(realistic({ rollouts: [rollout(), rollout({ state: 'Failed' })] })), /listed twice/)
  })

  it(`refuses more than ${MAX_HEARTBEAT_ROLLOUTS} rollouts while decoding, and when encoding`, () => {
    const many = Array.from({ length: MAX_HEARTBEAT_ROLLOUTS + 1 }, (_, i) => rollout({ name: `r${i}` }))
    const decode = vi.spyOn(HeartbeatPb, 'decode')
    const err = decodeError(raw({ rollouts: many.map(r => ({ ...r, policyVersion: BigInt(r.policyVersion), epoch: BigInt(r.epoch) })) }))
    expectInvalid(err, /does not decode/)
    expect(String((err as Error).cause)).toMatch(/rollouts/) // the decoder's own count limit, not a later check
    expect(decode).toHaveBeenCalledTimes(1)
    expectInvalid(encodeError(realistic({ rollouts: many })), /rollouts: 9 entries, at most 8/)
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ rollouts: many.slice(1) }))).rollouts).toHaveLength(MAX_HEARTBEAT_ROLLOUTS)
  })

  it.each([
    ['a short message as it is', 'checksum mismatch', 'checksum mismatch'],
    ['whitespace runs as one space', 'load failed:\n\tout of memory  ', 'load failed: out of memory'],
    ['non-ASCII as ?', 'modèle introuvable', 'mod?le introuvable'],
    ['control characters as ?', 'a\u0000b\u007fc', 'a?b?c']
  ])('heartbeatReason keeps %s', (_what, text, expected) => {
    expect(heartbeatReason(text)).toBe(expected)
  })

  it('heartbeatReason cuts a long message to a reason the heartbeat accepts', () => {
    const reason = heartbeatReason('é'.repeat(500))
    expect(reason).toHaveLength(MAX_ROLLOUT_REASON_LENGTH)
    expect(reason.endsWith('...')).toBe(true)
    expect(decodeHeartbeat(encodeHeartbeat(realistic({ rollouts: [rollout({ state: 'Failed', reason })] }))).rollouts?.[0]?.reason).toBe(reason)
  })
})

describe('heartbeat fields bounded to what a real device sends', () => {
  const MAX_U53 = BigInt(Number.MAX_SAFE_INTEGER)

  it.each([
    ['uptime 2^53-1', { uptimeMs: MAX_U53 }, /uptimeMs/],
    ['bootMs 2^53-1 (no Date can show it)', { bootMs: MAX_U53, sentMs: MAX_U53, uptimeMs: 0n }, /bootMs/],
    ['sentMs past 2200', { sentMs: BigInt(Date.UTC(2300, 0, 1)) }, /sentMs/],
    ['uptime longer than since boot', { uptimeMs: 6_170_001n }, /uptimeMs is longer than sentMs - bootMs/],
    ['seq 0', { seq: 0n }, /seq must be a positive integer/],
    ['fleetSize 2^32-1', { fleetSize: 0xffffffff }, /fleetSize must be at most/],
    ['battery -5000', { props: new Map([['battery', '-5000']]) }, /"battery" must be a number from 0 to 100/],
    ['battery 101', { props: new Map([['battery', '101']]) }, /"battery"/],
    ['battery empty', { props: new Map([['battery', '']]) }, /"battery"/],
    ['cpus 2.5', { props: new Map([['cpus', '2.5']]) }, /"cpus" must be an integer/],
    ['mem.free NaN', { props: new Map([['mem.free', 'NaN']]) }, /"mem.free"/],
    ['cpu NaN', { props: new Map([['cpu', 'NaN']]) }, /"cpu" is not a finite number/],
    ['load -Infinity', { props: new Map([['load', '-Infinity']]) }, /"load" is not a finite number/]
  ] as Array<[string, Partial<HeartbeatPb>, RegExp]>)('rejects %s', (_name, overrides, message) => {
    expectInvalid(decodeError(raw(overrides)), message)
  })

  it('accepts the bounds themselves and text properties', () => {
    const hb = decodeHeartbeat(raw({ props: new Map([['battery', '0'], ['cpus', '1'], ['os', 'linux'], ['mode', 'nano']]), uptimeMs: 6_170_000n }))
    expect(hb.props).toEqual({ battery: '0', cpus: '1', os: 'linux', mode: 'nano' })
    expect(decodeHeartbeat(raw({ props: new Map([['battery', '100']]) })).props.battery).toBe('100')
  })

  it('the encoder refuses what the decoder would', () => {
    expectInvalid(encodeError(realistic({ props: { battery: '-5000' } })), /battery/)
    expectInvalid(encodeError(realistic({ uptimeMs: Number.MAX_SAFE_INTEGER })), /uptimeMs/)
  })

  it('judges sentMs on the receiver clock: up to MAX_CLOCK_AHEAD_MS ahead is fine, further is rejected', () => {
    const sent = BOOT + 6_170_000
    expect(decodeHeartbeat(raw(), undefined, { receivedMs: sent - MAX_CLOCK_AHEAD_MS }).sentMs).toBe(sent)
    expectInvalid((() => {
      try { decodeHeartbeat(raw(), undefined, { receivedMs: sent - MAX_CLOCK_AHEAD_MS - 1 }) } catch (err) { return err }
      throw new Error('expected decodeHeartbeat to throw')
    })(), /ahead of the receiver's clock/)
    // A receiver whose clock lags far behind (no RTC, booted in 1970) is not a reason to refuse.
    expectInvalid(decodeError(raw({ sentMs: BigInt(Date.UTC(2300, 0, 1)) })), /sentMs/)
    expect(() => checkHeartbeatClock(realistic(), sent + 3_600_000)).not.toThrow()
  })
})
